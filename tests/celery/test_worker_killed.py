"""A Celery worker SIGKILLed in the middle of a metrics recompute or a release build: nothing half-written is
visible, and the task (acks_late, never acknowledged) is redelivered to the next worker, which completes it once.

The worker is stopped at a known point by a real lock: a second connection holds an EXCLUSIVE lock on the
table the task writes last (snapshots; release file rows), so the task does its work and then waits on its
INSERT. Redelivery of unacknowledged
messages needs a broker with a visibility timeout (Redis; CI sets CELERY_BROKER_URL); the SQLAlchemy
transport used when nothing is configured hides a delivered message for good, and the periodic refresh
(evaluation.refresh_all_metrics) is then what recomputes the metrics.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator

import pytest
from django.core.files.base import ContentFile

from evaluation.models import MetricSnapshot, Release, ReleaseFile
from evaluation.selectors.releases import ready_releases
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.releases import release_create, release_storage
from tests.builders.prediction_sets import TOP3, build_dataset, csv_bytes
from tests.builders.releases import EXPECTED_REAL, voted_dataset
from tests.celery.conftest import wait_for
from tests.celery.processes import CeleryProcesses, celery_processes, kill_when_blocked

pytestmark = [pytest.mark.celery, pytest.mark.timeout(240), pytest.mark.django_db(transaction=True)]

REDELIVER_AFTER_SECONDS = 2


@pytest.fixture
def workers(settings, tmp_path) -> Iterator[CeleryProcesses]:
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip(
            "redelivery after SIGKILL needs a broker with a visibility timeout: set CELERY_BROKER_URL=redis://…"
        )
    settings.MEDIA_ROOT = tmp_path / "media"
    with celery_processes(settings.MEDIA_ROOT, tmp_path) as processes:
        yield processes


def _worker(workers: CeleryProcesses, visibility_timeout: int) -> subprocess.Popen:
    return workers.worker(RELABEL_BROKER_VISIBILITY_TIMEOUT=str(visibility_timeout))


def test_a_worker_killed_mid_recompute_leaves_no_snapshot_and_the_task_is_redelivered_and_completes(workers):
    dataset = build_dataset("killed")
    prediction_set = kill_when_blocked(
        _worker(workers, 3600),
        MetricSnapshot._meta.db_table,
        lambda: prediction_set_create(  # the evaluation task is enqueued on commit
            dataset=dataset, name="model", source=ContentFile(csv_bytes(TOP3), name="model.csv")
        ),
    )
    snapshots = MetricSnapshot.objects.filter(prediction_set=prediction_set)
    assert not snapshots.exists(), "a killed task committed a snapshot"

    _worker(workers, REDELIVER_AFTER_SECONDS)
    snapshot = wait_for(lambda: snapshots.first(), timeout=90, what="the redelivered task's snapshot")
    assert snapshot.values["top1"] == 4 / 8
    assert snapshots.count() == 1
    assert workers.received("evaluation.evaluate_prediction_set") == 2, "received by both workers"


def test_a_worker_killed_while_publishing_a_release_shows_nothing_and_a_later_delivery_builds_it(workers, tmp_path):
    """Killed after every file is stored, while publishing: the release stays invisible (building, no file rows).
    In production the task comes back after the visibility timeout (an hour; the release sweep is much
    sooner, see test_worker_recovery.py); here the next worker's timeout is short. The redelivered build
    retakes the claim at once: the dead worker's database session is gone."""
    dataset = voted_dataset(tmp_path, slug="killed-release")
    release = kill_when_blocked(
        _worker(workers, 3600),
        ReleaseFile._meta.db_table,
        lambda: release_create(dataset=dataset)[0],  # the build is enqueued on commit
    )
    stalled = Release.objects.get(pk=release.pk)
    assert stalled.state == Release.State.BUILDING and stalled.claimed_at is not None
    assert not ReleaseFile.objects.filter(release=release).exists()
    assert not ready_releases(dataset).exists(), "a half-built release is listed"

    _worker(workers, REDELIVER_AFTER_SECONDS)
    ready = wait_for(lambda: ready_releases(dataset).filter(pk=release.pk).first(), timeout=90, what="the rebuild")
    real = ready.files.get(kind="real")
    with release_storage().open(real.storage_name, "rb") as handle:
        data = handle.read()
    assert json.loads(data) == EXPECTED_REAL and hashlib.sha256(data).hexdigest() == real.sha256
    assert Release.objects.filter(dataset=dataset).count() == 1
    assert workers.received("evaluation.build_release") == 2, "received by both workers"
