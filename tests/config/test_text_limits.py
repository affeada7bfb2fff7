"""Free text has limits, and names refuse bidirectional control characters.

A 1 MiB prediction-set description used to be stored, and a right-to-left override in a model name made a
leaderboard row read as another model. Now every way in (API, page form, service, import, the database
itself) bounds descriptions, notes and glosses and refuses bidi controls in names (400 saying so); longer
text has them removed. Existing rows are brought within the rules by the migrations.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from annotator.core.vocabulary import ClassSpec, VocabularyError
from annotator.models import Adjudication, Dataset, LabelClass
from annotator.services.datasets import dataset_create, vocabulary_import
from annotator.services.review import ReviewError, adjudication_set
from config.text_rules import DESCRIPTION_MAX_LENGTH, NOTE_MAX_LENGTH, TextInputError
from evaluation.models import PredictionSet, ReferenceLabelSet
from evaluation.services.prediction_sets import EvaluationInputError, prediction_set_create
from tests.builders.prediction_sets import TOP3, build_dataset, csv_bytes
from tests.builders.review import class_at, image_at, review_dataset

pytestmark = pytest.mark.django_db

RLO = "\u202e"  # right-to-left override: "resnet50\u202e-lanif" displays as "resnet50final-"
BIDI = [
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    RLO,
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
]


@pytest.fixture
def tiny(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return build_dataset()


def _upload(client, tiny, **fields):
    url = reverse("prediction_sets:api-prediction-sets", args=[tiny.slug])
    return client.post(url, {"file": SimpleUploadedFile("m.csv", csv_bytes(TOP3)), **fields})


@pytest.mark.parametrize("control", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_a_model_name_with_a_bidi_control_is_a_400_that_says_so(client, researcher, tiny, control):
    client.force_login(researcher)
    response = _upload(client, tiny, name=f"resnet50{control}-lanif")
    assert response.status_code == 400
    assert f"may not contain bidirectional control characters (found U+{ord(control):04X})" in response.json()["detail"]
    assert not PredictionSet.objects.exists()


def test_the_upload_page_refuses_a_bidi_name_and_an_overlong_description_with_messages(client, researcher, tiny):
    client.force_login(researcher)
    url = reverse("prediction_sets:upload", args=[tiny.slug])
    response = client.post(url, {"name": f"a{RLO}b", "file": SimpleUploadedFile("m.csv", csv_bytes(TOP3))})
    assert (
        response.status_code == 400 and "may not contain bidirectional control characters" in response.content.decode()
    )
    long = "d" * (DESCRIPTION_MAX_LENGTH + 1)
    response = client.post(url, {"name": "ok", "description": long, "file": SimpleUploadedFile("m.csv", b"x")})
    assert response.status_code == 400 and f"at most {DESCRIPTION_MAX_LENGTH}" in response.content.decode()
    assert f'maxlength="{DESCRIPTION_MAX_LENGTH}"' in client.get(url).content.decode()
    assert not PredictionSet.objects.exists()


def test_a_one_mebibyte_description_is_refused_and_nothing_stored(client, researcher, tiny):
    client.force_login(researcher)
    response = _upload(client, tiny, name="model", description="x" * 2**20)
    assert response.status_code == 400 and "description" in response.json()["detail"]
    assert not PredictionSet.objects.exists()


def test_a_description_keeps_its_text_without_bidi_controls(client, researcher, tiny):
    client.force_login(researcher)
    response = _upload(client, tiny, name="model", description=f"trained {RLO}on\u2066 val\u200f")
    assert response.status_code == 201
    assert PredictionSet.objects.get().description == "trained on val"


def test_services_refuse_what_the_forms_refuse(tiny):
    source = ContentFile(csv_bytes(TOP3), name="m.csv")
    with pytest.raises(EvaluationInputError, match="may not contain bidirectional"):
        prediction_set_create(dataset=tiny, name=f"x{RLO}", source=source)
    with pytest.raises(EvaluationInputError, match=f"at most {DESCRIPTION_MAX_LENGTH:,}"):
        prediction_set_create(dataset=tiny, name="x", source=source, description="d" * 2**20)
    with pytest.raises(TextInputError, match="dataset name may not contain bidirectional"):
        dataset_create(slug="spoof", name=f"pets{RLO}")
    with pytest.raises(VocabularyError, match="class 0 .*name may not contain bidirectional"):
        vocabulary_import(dataset=tiny, classes=[ClassSpec(index=0, key="n00000000", name=f"cat{RLO}")])
    with pytest.raises(VocabularyError, match="class 0 .*key has 101 characters"):
        vocabulary_import(dataset=tiny, classes=[ClassSpec(index=0, key="k" * 101, name="cat")])
    assert not PredictionSet.objects.exists() and not Dataset.objects.filter(slug="spoof").exists()


def test_a_reviewers_note_is_bounded_and_loses_its_bidi_controls(team, reviewer):
    pets = review_dataset(team)
    image = image_at(pets, 0)
    with pytest.raises(ReviewError, match=f"at most {NOTE_MAX_LENGTH:,}"):
        adjudication_set(image_id=image.pk, reviewer=reviewer, labels=[class_at(pets, 0).pk], note="n" * 3000)
    assert not Adjudication.objects.exists()
    adjudication_set(image_id=image.pk, reviewer=reviewer, labels=[class_at(pets, 0).pk], note=f"see {RLO}here")
    assert Adjudication.objects.get().note == "see here"


@pytest.mark.parametrize(
    "write",
    [
        lambda d: Dataset.objects.create(slug="x", name=f"a{RLO}"),
        lambda d: Dataset.objects.create(slug="x", name="x", description="d" * (DESCRIPTION_MAX_LENGTH + 1)),
        lambda d: LabelClass.objects.create(dataset=d, index=99, key="k", name=f"cat{RLO}"),
        lambda d: LabelClass.objects.create(dataset=d, index=99, key="k", name="cat", gloss="g" * 2001),
        lambda d: ReferenceLabelSet.objects.create(dataset=d, name=f"ReaL{RLO}", n_images=0, n_labelled=0, n_labels=0),
        lambda d: PredictionSet.objects.create(
            dataset=d, name="m", description="d" * 6000, n_images=0, k=1, source_file="x.csv", source_format="csv"
        ),
    ],
    ids=["dataset name", "dataset description", "class name", "class gloss", "reference set name", "description"],
)
def test_the_database_refuses_what_slips_past_the_services(tiny, write):
    with pytest.raises(IntegrityError, match="no_bidi|_length"), transaction.atomic():
        write(tiny)


def test_a_new_adjudication_with_an_overlong_note_is_refused_by_the_database(team, reviewer):
    pets = review_dataset(team)
    adjudication, _ = adjudication_set(image_id=image_at(pets, 0).pk, reviewer=reviewer, labels=[], note="")
    with pytest.raises(IntegrityError, match="adjudication_note_length"), transaction.atomic():
        Adjudication.objects.create(
            image_id=adjudication.image_id, dataset_id=pets.pk, reviewer=reviewer, action="revert",
            status_before="x", status_after="y", note="n" * (NOTE_MAX_LENGTH + 1), client_uuid=uuid.uuid4(),
        )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_the_migrations_bring_existing_rows_within_the_rules():
    executor = MigrationExecutor(connection)
    before = [
        ("annotator", "0012_labelclass_verbose_name_plural"),
        ("evaluation", "0005_release_original_labels_and_ds_run"),
    ]
    after = [("annotator", "0013_text_limits"), ("evaluation", "0006_text_limits")]
    executor.migrate(before)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO annotator_dataset (name, slug, description, annotations_per_image, consensus_threshold,"
                " candidate_count, aggregation, dispute_band, ds_threshold, ds_prior, created_at)"
                " VALUES (%s, 'old', %s, 3, 0.5, 5, 'majority', 0.1, 0.8, 'original', now()) RETURNING id",
                [f"Old{RLO} pets", "d" * 10_000],
            )
            (dataset_id,) = cursor.fetchone()
            for name in (f"resnet{RLO}50", "resnet50"):
                cursor.execute(
                    "INSERT INTO evaluation_predictionset (dataset_id, name, description, source_file, source_format,"
                    " source_sha256, n_images, k, has_scores, scores_file, use_for_candidates, created_at)"
                    " VALUES (%s, %s, '', 'x.csv', 'csv', '', 0, 1, false, '', false, now())",
                    [dataset_id, name],
                )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        # The models as these migrations left them (later migrations add columns today's models read).
        state = executor.loader.project_state(after).apps
        dataset = state.get_model("annotator", "Dataset").objects.get(slug="old")
        assert dataset.name == "Old pets"
        assert len(dataset.description) == DESCRIPTION_MAX_LENGTH and dataset.description.endswith("…")
        prediction_sets = state.get_model("evaluation", "PredictionSet").objects.filter(dataset=dataset)
        names = sorted(prediction_sets.values_list("id", "name"))
        assert names[1][1] == "resnet50" and names[0][1] == f"resnet50 ({names[0][0]})"
    finally:
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())


def test_the_class_searches_take_at_most_100_characters(client, team, reviewer):
    pets = review_dataset(team)
    pages = {
        "wb-search-input": (team[0], reverse("annotations:workbench", args=[pets.slug])),
        "rv-search": (reviewer, reverse("review:image", args=[pets.slug, image_at(pets, 0).pk])),
    }
    for input_id, (user, url) in pages.items():
        client.force_login(user)
        html = client.get(url).content.decode()
        tag = re.search(rf'<input id="{input_id}"[^>]*>', html)
        assert tag and 'maxlength="100"' in tag.group(), (input_id, tag)
