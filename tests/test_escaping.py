"""Names, keys, descriptions and notes holding HTML are shown as text on every page that shows them."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse

from annotator.core.import_sources import ImageSpec
from annotator.core.vocabulary import ClassSpec
from annotator.services.agreement_figures import agreement_compute
from annotator.services.datasets import dataset_create, vocabulary_import
from annotator.services.image_import import images_import
from annotator.services.review import adjudication_set
from config.celery import app as celery_app
from evaluation.models import Release
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from tests.builders.releases import built_release

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
N_IMAGES, N_CLASSES = 8, 4


def key(position: int) -> str:
    return f"{HOSTILE}{position}.jpg"


@pytest.fixture
def hostile(settings, tmp_path, annotator, staff, django_capture_on_commit_callbacks):
    """A dataset whose name, class names, synonyms, glosses, image keys, model name and description, reference
    set name and raters' answers all carry a script tag; metrics and agreement figures computed."""
    settings.MEDIA_ROOT = tmp_path / "media"
    celery_app.conf.task_always_eager = True
    dataset = dataset_create(slug="hostile", name=f"Set {HOSTILE}")
    vocabulary_import(
        dataset=dataset,
        classes=[
            ClassSpec(index=i, key=f"n{i:08d}", name=f"{HOSTILE} {i}", synonyms=[HOSTILE], gloss=HOSTILE)
            for i in range(N_CLASSES)
        ],
    )
    specs = [ImageSpec(key=key(p), path=None, label=str(p % N_CLASSES), source=str(p)) for p in range(N_IMAGES)]
    images_import(dataset=dataset, specs=specs, with_files=False)
    dataset.annotators.add(annotator, staff)
    rows = "\n".join(f"{key(p)},{(p + 1) % N_CLASSES} {p % N_CLASSES}" for p in range(N_IMAGES))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            reference_label_set_create(
                dataset=dataset, name=f"labels {HOSTILE}",
                source=ContentFile(json.dumps([[p % N_CLASSES] for p in range(N_IMAGES)]).encode(), name="r.json"),
            )  # fmt: skip
            model = prediction_set_create(
                dataset=dataset, name=f"model {HOSTILE}", description=f"about {HOSTILE}",
                source=ContentFile(f"image,top5\n{rows}\n".encode(), name="m.csv"),
            )  # fmt: skip
    finally:
        celery_app.conf.task_always_eager = False
    votes = tmp_path / "votes.csv"
    lines = ["image,class,annotator,answer"]
    lines += [f"{key(p)},{p % N_CLASSES},rater{r},{'yes' if r else 'no'}" for p in range(N_IMAGES) for r in range(3)]
    votes.write_text("\n".join(lines) + "\n")
    call_command("import_votes", "hostile", str(votes))
    agreement_compute(dataset=dataset)
    image = dataset.images.get(position=1)
    adjudication_set(image_id=image.pk, reviewer=staff, labels=[image.original_label_id], note=f"note {HOSTILE}")
    celery_app.conf.task_always_eager = True
    try:
        built_release(dataset, django_capture_on_commit_callbacks)
    finally:
        celery_app.conf.task_always_eager = False
    return dataset, model


def _pages(dataset, model) -> dict[str, str]:
    adjudicated = dataset.images.get(position=1)
    release = Release.objects.get(dataset=dataset)
    return {
        "datasets:home": reverse("datasets:home"),
        "workbench": reverse("annotations:workbench", args=[dataset.slug]),
        "evaluation index": reverse("leaderboard:index"),
        "leaderboard": reverse("leaderboard:leaderboard", args=[dataset.slug]),
        "leaderboard against the reference": reverse("leaderboard:leaderboard", args=[dataset.slug]) + "?labels=ref",
        "model page": reverse("prediction_sets:prediction-set", args=[model.pk]),
        "upload page": reverse("prediction_sets:upload", args=[dataset.slug]),
        "agreement dashboard": reverse("consensus:dashboard", args=[dataset.slug]),
        "review index": reverse("review:index"),
        "review queue": reverse("review:queue", args=[dataset.slug]) + "?status=all",
        "review screen": reverse("review:image", args=[dataset.slug, adjudicated.pk]),
        "image history": reverse("review:history", args=[adjudicated.pk]),
        "releases index": reverse("releases:releases-index"),
        "release list": reverse("releases:releases", args=[dataset.slug]),
        "release page": reverse("releases:release", args=[release.pk]),
        "release comparison": reverse("releases:release-compare", args=[dataset.slug]),
    }


def test_every_page_showing_hostile_names_escapes_them(client, staff, hostile):
    dataset, model = hostile
    client.force_login(staff)
    shown = {}
    for name, url in _pages(dataset, model).items():
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        html = response.content.decode()
        assert HOSTILE not in html, f"{name} ({url}) renders a raw script tag"
        shown[name] = html.count(ESCAPED)
    # Each page shows at least the dataset's name; the model page and the dashboard also class names and keys.
    assert all(count >= 1 for count in shown.values()), shown
    assert shown["model page"] >= 3 and shown["agreement dashboard"] >= 2, shown
    assert shown["review screen"] >= 3 and shown["image history"] >= 2, "class names and the note"


def test_the_note_of_an_adjudication_is_shown_as_text(client, staff, hostile):
    dataset, _ = hostile
    client.force_login(staff)
    image = dataset.images.get(position=1)
    for url in (reverse("review:history", args=[image.pk]), reverse("review:image", args=[dataset.slug, image.pk])):
        assert f"note {ESCAPED}" in client.get(url).content.decode(), url


def test_the_model_page_shows_hostile_class_names_and_image_keys_as_text(client, staff, hostile):
    dataset, model = hostile
    client.force_login(staff)
    html = client.get(reverse("prediction_sets:prediction-set", args=[model.pk])).content.decode()
    assert f"{ESCAPED} 1" in html, "a class name"
    assert f"model {ESCAPED}" in html and f"about {ESCAPED}" in html, "the model's name and description"


def test_api_answers_are_json_never_html(client, annotator, hostile):
    dataset, _ = hostile
    client.force_login(annotator)
    response = client.get(reverse("annotations:api-vocabulary", args=[dataset.slug]))
    assert response["Content-Type"] == "application/json"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    body = response.json()
    entries = body if isinstance(body, list) else body["classes"]
    assert entries[0]["name"] == f"{HOSTILE} 0", "stored and returned as it is; escaping is the renderer's job"
