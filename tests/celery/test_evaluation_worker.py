"""Evaluation through a real Celery worker: uploads and label-pool changes produce snapshots; a change of the
selected prediction sets recomputes the model scores."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile

from annotator.models import Image
from config.celery import app as celery_app
from evaluation.models import MetricSnapshot
from evaluation.services.prediction_sets import candidate_sources_select, prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from tests.builders.prediction_sets import REFERENCE, TOP3, build_dataset, csv_bytes
from tests.celery.conftest import wait_for

pytestmark = [pytest.mark.celery, pytest.mark.timeout(240)]


# The marker (not only the fixture) lets pytest-django run this after the tests that roll back, since the
# flush that ends it also empties the role groups the migrations created.
@pytest.mark.django_db(transaction=True)
def test_a_worker_evaluates_an_uploaded_set_and_again_when_a_label_source_appears(celery_worker_process):
    dataset = build_dataset("worker")
    prediction_set = prediction_set_create(
        dataset=dataset, name="model", source=ContentFile(csv_bytes(TOP3), name="model.csv")
    )
    snapshots = MetricSnapshot.objects.filter(prediction_set=prediction_set)
    first = wait_for(lambda: snapshots.first(), what="the snapshot computed after upload")
    assert first.watermark == "consensus:0" and first.values["top1"] == 4 / 8

    reference = reference_label_set_create(
        dataset=dataset, name="ReaL", source=ContentFile(json.dumps(REFERENCE).encode(), name="real.json")
    )
    second = wait_for(
        lambda: snapshots.filter(reference_set=reference).first(), what="the snapshot against the new reference"
    )
    assert second.values["real_at_1"] == 6 / 7 and second.pool_size == 8
    assert snapshots.count() == 2


def test_the_periodic_refresh_is_scheduled_once_and_registered_with_the_worker_app():
    celery_app.loader.import_default_modules()
    schedule = celery_app.conf.beat_schedule
    entries = [name for name, entry in schedule.items() if entry["task"] == "evaluation.refresh_all_metrics"]
    assert entries == ["evaluation-refresh-metrics"]
    assert schedule["evaluation-refresh-metrics"]["schedule"].total_seconds() == 300
    assert "evaluation.refresh_all_metrics" in celery_app.tasks


@pytest.mark.django_db(transaction=True)
def test_a_worker_stores_the_model_scores_when_a_set_is_selected_and_clears_them_when_none_is(celery_worker_process):
    dataset = build_dataset("scores")
    images = Image.objects.filter(dataset=dataset).order_by("position")
    prediction_set_create(
        dataset=dataset, name="model", source=ContentFile(csv_bytes(TOP3), name="m.csv"), use_for_candidates=True
    )
    wait_for(lambda: not images.filter(model_score__isnull=True).exists(), what="the scores after the upload")
    # by hand: the original label's rank (from 0; 3 when absent) in TOP3, over 3
    assert list(images.values_list("model_score", flat=True)) == pytest.approx([0, 1 / 3, 0, 1 / 3, 0, 0, 1 / 3, 1 / 3])
    candidate_sources_select(dataset=dataset, prediction_sets=[])
    wait_for(lambda: not images.filter(model_score__isnull=False).exists(), what="the scores cleared")
