"""The workbench renders class names, synonyms, glosses and file names that hold HTML as plain text."""

from __future__ import annotations

import pytest

from annotator.models import LabelClass
from tests.browser.conftest import screenshot
from tests.builders.annotations import workbench_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_hostile_names_show_as_text_and_run_nothing(signed_in, url, annotator):
    dataset = workbench_dataset(slug="hostile", candidates_per_image=3, annotators=[annotator], thumbnails=False)
    for label_class in LabelClass.objects.filter(dataset=dataset):
        label_class.name, label_class.synonyms, label_class.gloss = f"{HOSTILE} {label_class.index}", [HOSTILE], HOSTILE
        label_class.save(update_fields=["name", "synonyms", "gloss"])
    for image in dataset.images.all():
        image.key = f"{HOSTILE}{image.position}.jpg"
        image.save(update_fields=["key"])
    page = signed_in(annotator)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url("/datasets/hostile/annotate/"))
    page.wait_for_selector("#workbench[data-ready=true]")
    assert page.inner_text("#wb-filename").startswith(HOSTILE)
    candidates = page.locator(".wb-candidate")
    assert candidates.count() == 3
    assert HOSTILE in candidates.first.inner_text()
    page.keyboard.press("/")
    page.keyboard.type("script")
    page.wait_for_selector("#wb-results li")
    assert HOSTILE in page.inner_text("#wb-results")
    screenshot(page, "workbench-hostile-names")
    assert page.locator("#workbench script, #workbench img[src=x]").count() == 0
    assert dialogs == [], f"script ran: {dialogs}"


def test_a_spoofing_model_name_is_refused_on_the_upload_page_with_the_reason(signed_in, url, researcher, tmp_path):
    from django.test import override_settings

    from evaluation.models import PredictionSet
    from tests.builders.prediction_sets import TOP3, build_dataset, csv_bytes

    with override_settings(MEDIA_ROOT=tmp_path / "media"):
        build_dataset()
        upload = tmp_path / "model.csv"
        upload.write_bytes(csv_bytes(TOP3))
        page = signed_in(researcher)
        page.goto(url("/datasets/tiny/evaluation/upload/"))
        page.fill("#id_name", "resnet50\u202e-lanif")  # displays as "resnet50final-"
        page.fill("#id_description", "x" * 6000)
        page.set_input_files("#id_file", str(upload))
        with page.expect_navigation():
            page.click("#upload-form button[type=submit]")
        text = page.inner_text("main")
        assert "may not contain bidirectional control characters (found U+202E)" in text
        assert len(page.input_value("#id_description")) == 5000  # the browser keeps to maxlength
        screenshot(page, "upload-bidi-name-refused")
        assert not PredictionSet.objects.exists()
