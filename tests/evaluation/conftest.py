"""Evaluation fixtures: the tiny dataset and its reference labels (tests/builders/prediction_sets.py builds
them), tasks run inline, and a media folder per test."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile

from config.celery import app as celery_app
from tests.builders.prediction_sets import REFERENCE, build_dataset


@pytest.fixture(autouse=True)
def tasks_run_inline():
    """Tasks enqueued by services run in the test process (a real worker is tested in tests/celery)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Each test stores files in its own folder, so tests can assert what was (not) stored."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def tiny(db):
    return build_dataset()


@pytest.fixture
def tiny_reference(tiny):
    from evaluation.services.reference_labels import reference_label_set_create

    return reference_label_set_create(
        dataset=tiny, name="hand labels", source=ContentFile(json.dumps(REFERENCE).encode(), name="labels.json")
    )
