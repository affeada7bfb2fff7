"""A release built by a real Celery worker: enqueued on commit, built, listed only once ready."""

from __future__ import annotations

import hashlib
import json

import pytest

from evaluation.models import Release
from evaluation.selectors.releases import ready_releases
from evaluation.services.releases import release_create, release_storage
from tests.builders.releases import EXPECTED_REAL, voted_dataset
from tests.celery.conftest import wait_for

pytestmark = [pytest.mark.celery, pytest.mark.timeout(240)]


# Transactional like the other worker test: the worker reads what this process committed.
@pytest.mark.django_db(transaction=True)
def test_a_worker_builds_a_release_that_becomes_visible_only_when_every_file_is_stored(celery_worker_process, tmp_path):
    dataset = voted_dataset(tmp_path, slug="worker-release")
    release, _ = release_create(dataset=dataset)
    ready = wait_for(
        lambda: ready_releases(dataset).filter(pk=release.pk).first(), what="the release built by the worker"
    )
    assert ready.phase == "ready" and ready.progress == 1.0 and ready.n_labelled == 5
    real = ready.files.get(kind="real")
    with release_storage().open(real.storage_name, "rb") as handle:
        data = handle.read()
    assert json.loads(data) == EXPECTED_REAL and hashlib.sha256(data).hexdigest() == real.sha256
    assert Release.objects.get(pk=release.pk).claimed_at is not None
