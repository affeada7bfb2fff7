"""The admin names things as people read them: "Label classes", and objects by what they are ("chelsea.jpg by
anna", "Pets v2 (ready)"), not by database ids ("6 by 3")."""

from __future__ import annotations

import pytest

from annotator.models import Annotation
from evaluation.models import MetricSnapshot, PredictionSet, Release
from tests.builders.review import review_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(staff):
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    return staff


def test_the_admin_index_says_label_classes(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/admin/").content.decode()
    assert "Label classes" in html and "Label classs" not in html


def test_an_annotation_is_titled_by_its_image_and_annotator(client, admin_user, team, django_assert_max_num_queries):
    review_dataset(team)
    annotation = Annotation.objects.select_related("image", "annotator").first()
    expected = f"{annotation.image.key} by {annotation.annotator.username}"
    assert str(annotation) == expected
    client.force_login(admin_user)
    html = client.get(f"/admin/annotator/annotation/{annotation.pk}/change/").content.decode()
    assert expected in html and f"{annotation.image_id} by {annotation.annotator_id}" not in html
    with django_assert_max_num_queries(12):
        assert client.get("/admin/annotator/annotation/").status_code == 200


def test_releases_and_snapshots_are_named_by_dataset_and_model(team):
    dataset = review_dataset(team)
    assert str(Release(dataset=dataset, version=2, state="ready")) == "Pets v2 (ready)"
    snapshot = MetricSnapshot(prediction_set=PredictionSet(name="resnet50"), watermark="reference:4")
    assert str(snapshot) == "resnet50 @ reference:4"
