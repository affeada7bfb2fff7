"""Beat and the worker outlive a database outage that spans beat's ticks (real processes, a real outage).

With the default broker the queue is in PostgreSQL, so while the server is down beat cannot publish; Celery's
own scheduler then kept a closed channel for good ("channel disconnected" at every later tick) and the
periodic tasks never ran again. With Redis (CI) beat publishes, and the worker's tasks meet the outage
instead. Either way, once the server is back a scheduled task must run: here the release sweep, which finds
a release whose build task was lost and has the worker build it.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from config.embedded_db import server_pid, server_revive
from evaluation.models import Release
from evaluation.selectors.releases import ready_releases
from evaluation.services.release_claims import UNCLAIMED_GRACE
from tests.builders.releases import voted_dataset
from tests.celery.conftest import wait_for
from tests.celery.processes import celery_processes
from tests.embedded_server import embedded_pgdata, stop_embedded_server

pytestmark = [
    pytest.mark.celery, pytest.mark.outage, pytest.mark.timeout(240), pytest.mark.django_db(transaction=True)
]  # fmt: skip

TICK_SECONDS = 2
SWEEP = "evaluation.resume_release_builds"


def test_beat_and_the_worker_run_the_schedule_again_after_the_database_was_down_across_ticks(settings, tmp_path):
    pgdata = embedded_pgdata()
    settings.MEDIA_ROOT = tmp_path / "media"
    dataset = voted_dataset(tmp_path, slug="outage")
    with celery_processes(settings.MEDIA_ROOT, tmp_path, RELABEL_SWEEP_SECONDS=str(TICK_SECONDS)) as processes:
        processes.worker()
        beat = processes.beat()
        wait_for(lambda: f"Task {SWEEP}[" in processes.log("worker-0") and "succeeded" in processes.log("worker-0"),
                 what="a first sweep sent by beat and run by the worker")  # fmt: skip

        stop_embedded_server()
        time.sleep(3 * TICK_SECONDS)  # ticks come and go while the database is away
        assert beat.poll() is None, "beat exited"
        # Whoever meets the outage first (this process, the worker's next task) starts the server again.
        assert server_revive() and server_pid(pgdata) is not None
        connection.close()
        lost = Release.objects.create(
            dataset=dataset,
            version=1,
            aggregation="majority",
            threshold=0.5,
            min_annotations=3,
            created_at=timezone.now() - UNCLAIMED_GRACE - timedelta(seconds=1),
        )  # fmt: skip  (a build whose task message was lost: only the sweep can find it)
        try:
            built = wait_for(lambda: ready_releases(dataset).filter(pk=lost.pk).first(), timeout=60, what="the build")
        except pytest.fail.Exception:
            pytest.fail(f"no sweep built the release after the outage; beat's log:\n{processes.log('beat')[-3000:]}")
        assert built.n_labelled == 5
        assert beat.poll() is None
