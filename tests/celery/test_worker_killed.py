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
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import psycopg2
import pytest
from django.core.files.base import ContentFile
from django.db import connection

from evaluation.models import MetricSnapshot
from evaluation.release_models import Release, ReleaseFile
from evaluation.release_selectors import ready_releases
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.release_claims import STALE_CLAIM
from evaluation.services.releases import release_create, release_storage
from tests.celery.conftest import (
    _delete_queue,
    _route_default_queue_to,
    _wait_until_ready,
    _worker_environment,
    stop_worker,
    wait_for,
)
from tests.conftest import REPO
from tests.evaluation.conftest import TOP3, build_dataset, csv_bytes
from tests.evaluation.release_data import EXPECTED_REAL, voted_dataset

pytestmark = [pytest.mark.celery, pytest.mark.timeout(240), pytest.mark.django_db(transaction=True)]

REDELIVER_AFTER_SECONDS = 2
T = TypeVar("T")


class Workers:
    """Workers started one after another on one private queue, with the visibility timeout each is given."""

    def __init__(self, media_root: Path, log_dir: Path) -> None:
        self.queue = f"relabel-test-{uuid.uuid4().hex[:12]}"
        self.media_root, self.log_dir, self.started = media_root, log_dir, []

    def start(self, visibility_timeout: int) -> subprocess.Popen:
        log_path = self.log_dir / f"worker-{len(self.started)}.log"
        env = {
            **_worker_environment(self.media_root),
            "RELABEL_BROKER_VISIBILITY_TIMEOUT": str(visibility_timeout),
        }
        with log_path.open("w") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--queues", self.queue,
                 "--loglevel", "INFO", "--without-mingle", "--without-gossip",
                 "--hostname", f"{self.queue}-{len(self.started)}@%h"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.started.append(worker)
        _wait_until_ready(worker, log_path)
        return worker

    def received(self, task_name: str) -> int:
        """How many of the workers logged receiving `task_name`."""
        logs = [path.read_text() for path in sorted(self.log_dir.glob("worker-*.log"))]
        return sum(f"Task {task_name}[" in log and "received" in log for log in logs)

    def stop_all(self) -> None:
        for worker in self.started:
            if worker.poll() is None:
                stop_worker(worker)


@pytest.fixture
def workers(settings, tmp_path) -> Iterator[Workers]:
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip(
            "redelivery after SIGKILL needs a broker with a visibility timeout: set CELERY_BROKER_URL=redis://…"
        )
    from config.celery import app as celery_app

    settings.MEDIA_ROOT = tmp_path / "media"
    pool = Workers(settings.MEDIA_ROOT, tmp_path)
    previous_queue, previous_eager = celery_app.conf.task_default_queue, celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    _route_default_queue_to(pool.queue)
    try:
        yield pool
    finally:
        pool.stop_all()
        _route_default_queue_to(previous_queue)
        celery_app.conf.task_always_eager = previous_eager
        _delete_queue(pool.queue)


def _connect(autocommit: bool):
    side = psycopg2.connect(**connection.get_connection_params())
    side.autocommit = autocommit
    return side


def _backend_waiting_on(watcher, table: str) -> int | None:
    with watcher.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND query LIKE %s AND pid <> pg_backend_pid()",
            [f'INSERT INTO "{table}"%'],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _backend_alive(watcher, pid: int) -> bool:
    with watcher.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 1


def kill_when_blocked(worker: subprocess.Popen, table: str, enqueue: Callable[[], T]) -> T:
    """Hold an EXCLUSIVE lock on `table` from a second connection, run `enqueue`, and SIGKILL `worker` once its
    INSERT into `table` waits on the lock; then drop the lock and wait for the dead worker's backend to end
    (it gets the lock, finds its client gone and rolls back)."""
    side, watcher = _connect(autocommit=False), _connect(autocommit=True)
    try:
        with side.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
        result = enqueue()
        blocked = wait_for(lambda: _backend_waiting_on(watcher, table), what=f"the worker's INSERT into {table}")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=20)
        assert worker.returncode == -signal.SIGKILL
        side.rollback()
        wait_for(lambda: not _backend_alive(watcher, blocked), what="the dead worker's backend to end")
    finally:
        side.close()
        watcher.close()
    return result


def test_a_worker_killed_mid_recompute_leaves_no_snapshot_and_the_task_is_redelivered_and_completes(workers):
    dataset = build_dataset("killed")
    prediction_set = kill_when_blocked(
        workers.start(visibility_timeout=3600),
        MetricSnapshot._meta.db_table,
        lambda: prediction_set_create(  # the evaluation task is enqueued on commit
            dataset=dataset, name="model", source=ContentFile(csv_bytes(TOP3), name="model.csv")
        ),
    )
    snapshots = MetricSnapshot.objects.filter(prediction_set=prediction_set)
    assert not snapshots.exists(), "a killed task committed a snapshot"

    workers.start(visibility_timeout=REDELIVER_AFTER_SECONDS)
    snapshot = wait_for(lambda: snapshots.first(), timeout=90, what="the redelivered task's snapshot")
    assert snapshot.values["top1"] == 4 / 8
    assert snapshots.count() == 1
    assert workers.received("evaluation.evaluate_prediction_set") == 2, "received by both workers"


def test_a_worker_killed_while_publishing_a_release_shows_nothing_and_a_later_delivery_builds_it(workers, tmp_path):
    """Killed after every file is stored, while publishing: the release stays invisible (building, no file rows).
    In production the task comes back after the visibility timeout (an hour), when the dead worker's claim is
    stale (STALE_CLAIM); here both are compressed: the claim is aged and the next worker's timeout is short."""
    dataset = voted_dataset(tmp_path, slug="killed-release")
    release = kill_when_blocked(
        workers.start(visibility_timeout=3600),
        ReleaseFile._meta.db_table,
        lambda: release_create(dataset=dataset),  # the build is enqueued on commit
    )
    stalled = Release.objects.get(pk=release.pk)
    assert stalled.state == Release.State.BUILDING and stalled.claimed_at is not None
    assert not ReleaseFile.objects.filter(release=release).exists()
    assert not ready_releases(dataset).exists(), "a half-built release is listed"

    Release.objects.filter(pk=release.pk).update(claimed_at=stalled.claimed_at - STALE_CLAIM - timedelta(minutes=1))
    workers.start(visibility_timeout=REDELIVER_AFTER_SECONDS)
    ready = wait_for(lambda: ready_releases(dataset).filter(pk=release.pk).first(), timeout=90, what="the rebuild")
    real = ready.files.get(kind="real")
    with release_storage().open(real.storage_name, "rb") as handle:
        data = handle.read()
    assert json.loads(data) == EXPECTED_REAL and hashlib.sha256(data).hexdigest() == real.sha256
    assert Release.objects.filter(dataset=dataset).count() == 1
    assert workers.received("evaluation.build_release") == 2, "received by both workers"
