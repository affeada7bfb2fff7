"""How soon work comes back after a worker is SIGKILLed mid-task, on any broker (real worker, beat and kill).

A release build's claim names its database session, which ends with the killed worker: the next delivery or
the release sweep retakes it at once, and the heartbeat keeps a live build's claim fresh however long a phase
takes. A Dawid–Skene run asked for through the API is a row in the database, which the sweep enqueues again.
The killed worker here is a whole worker process (solo pool), so the broker never redelivers its task (the
SQLAlchemy transport never does; Redis only after its visibility timeout, an hour): the sweeps do it all.

RELABEL_TEST_SWEEP_SECONDS sets beat's sweep interval (2 s here; 30 s, the default, measures what README says).
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
from rest_framework.test import APIClient

from annotator.models import Consensus, DawidSkeneRun, Vote
from evaluation.models import Release
from evaluation.selectors.releases import ready_releases
from evaluation.services.release_claims import HEARTBEAT, STALE_CLAIM, release_build_held_elsewhere
from evaluation.services.releases import release_create
from tests.builders.releases import voted_dataset
from tests.celery.conftest import wait_for
from tests.celery.processes import blocked_at, celery_processes, kill_when_blocked

pytestmark = [pytest.mark.celery, pytest.mark.timeout(300), pytest.mark.django_db(transaction=True)]

SWEEP_SECONDS = int(os.environ.get("RELABEL_TEST_SWEEP_SECONDS", "2"))


@pytest.fixture
def processes(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    with celery_processes(settings.MEDIA_ROOT, tmp_path, RELABEL_SWEEP_SECONDS=str(SWEEP_SECONDS)) as processes:
        yield processes


def _claimed_at(release: Release):  # noqa: ANN202
    return Release.objects.values_list("claimed_at", flat=True).get(pk=release.pk)


def test_a_release_whose_worker_was_killed_mid_build_is_built_by_the_next_worker_within_seconds(
    processes, tmp_path, capsys
):
    dataset = voted_dataset(tmp_path, slug="recovered-release")
    first = processes.worker()
    processes.beat()
    # The build waits to read the votes: one phase that lasts (as a 1.3M-image dataset's might).
    votes = Vote._meta.db_table
    with blocked_at(votes, lambda: release_create(dataset=dataset)[0], mode="ACCESS EXCLUSIVE") as release:
        claimed = _claimed_at(release)
        wait_for(lambda: _claimed_at(release) >= claimed + HEARTBEAT, timeout=3 * HEARTBEAT.total_seconds(),
                 what="a heartbeat while the build waits")  # fmt: skip
        assert release_build_held_elsewhere(release_id=release.pk)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=20)
        killed = time.monotonic()
    processes.worker()  # what the demo's supervisor does a second after the kill
    ready = wait_for(lambda: ready_releases(dataset).filter(pk=release.pk).first(), timeout=90, what="the rebuild")
    seconds = time.monotonic() - killed
    with capsys.disabled():
        print(f"\nrelease rebuilt {seconds:.1f} s after its worker was killed (sweep every {SWEEP_SECONDS} s)")
    assert ready.n_labelled == 5 and Release.objects.filter(dataset=dataset).count() == 1
    if STALE_CLAIM.total_seconds() / 2 > SWEEP_SECONDS:
        assert seconds < STALE_CLAIM.total_seconds(), "retaken by the stale heartbeat, not the dead session"


def test_a_dawid_skene_run_asked_for_through_the_api_survives_its_worker_being_killed(
    processes, tmp_path, researcher, capsys
):
    dataset = voted_dataset(tmp_path, slug="recovered-ds")
    api = APIClient()
    api.force_authenticate(researcher)
    kill_when_blocked(  # killed while the run waits to store its result
        processes.worker(),
        DawidSkeneRun._meta.db_table,
        lambda: api.post(f"/api/datasets/{dataset.slug}/agreement/"),
    )
    killed = time.monotonic()
    assert not DawidSkeneRun.objects.filter(dataset=dataset).exists()
    processes.worker()
    processes.beat()
    run = wait_for(lambda: DawidSkeneRun.objects.filter(dataset=dataset).first(), timeout=90, what="the run")
    seconds = time.monotonic() - killed
    with capsys.disabled():
        print(f"\nDawid–Skene run done {seconds:.1f} s after its worker was killed (sweep every {SWEEP_SECONDS} s)")
    dataset.refresh_from_db()
    assert dataset.ds_run_id == run.pk and dataset.ds_requested_at is None


def test_a_dawid_skene_run_killed_after_storing_its_run_before_its_consensus_chunks_is_fitted_again(
    processes, tmp_path, researcher
):
    """The run row and the dataset's pointer commit before the consensus chunks (RELABEL_CONSENSUS_WRITE_CHUNK):
    a worker killed there leaves an unfinished run (no write timing) and the request pending; the next worker
    fits again, and every consensus row ends up scored by the finished run."""
    dataset = voted_dataset(tmp_path, slug="recovered-chunks")
    api = APIClient()
    api.force_authenticate(researcher)
    kill_when_blocked(  # killed while its first consensus chunk waits to be written
        processes.worker(RELABEL_CONSENSUS_WRITE_CHUNK="3"),
        Consensus._meta.db_table,
        lambda: api.post(f"/api/datasets/{dataset.slug}/agreement/"),
    )
    [unfinished] = DawidSkeneRun.objects.filter(dataset=dataset)
    dataset.refresh_from_db()
    assert "write" not in unfinished.seconds and dataset.ds_run_id == unfinished.pk
    assert dataset.ds_requested_at is not None, "the request waits for a finished run"
    processes.worker(RELABEL_CONSENSUS_WRITE_CHUNK="3")
    processes.beat()
    finished = wait_for(
        lambda: DawidSkeneRun.objects.filter(dataset=dataset, seconds__has_key="write").first(),
        timeout=90,
        what="a finished run",
    )
    dataset.refresh_from_db()
    assert finished.pk != unfinished.pk and dataset.ds_run_id == finished.pk and dataset.ds_requested_at is None
    rows = Consensus.objects.filter(dataset=dataset)
    assert rows.count() > 3 and set(rows.values_list("ds_run_id", flat=True)) == {finished.pk}


def test_a_killed_pool_process_s_task_is_redelivered_at_once_by_the_broker(processes, tmp_path, researcher):
    """The demo's worker runs tasks in pool processes: when one is SIGKILLed, the worker rejects its task
    (acks_late, reject_on_worker_lost) and the broker hands it to a new pool process at once; no sweep needed
    (beat does not run here)."""
    dataset = voted_dataset(tmp_path, slug="pool-killed")
    api = APIClient()
    api.force_authenticate(researcher)
    worker = psutil.Process(processes.worker(pool=("--pool", "prefork", "--concurrency", "1")).pid)
    with blocked_at(DawidSkeneRun._meta.db_table, lambda: api.post(f"/api/datasets/{dataset.slug}/agreement/")):
        (child,) = worker.children()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=20)
    run = wait_for(lambda: DawidSkeneRun.objects.filter(dataset=dataset).first(), timeout=60, what="the run")
    assert "WorkerLostError" in processes.log("worker-0")
    assert processes.received("annotator.dawid_skene_run") >= 1 and run.dataset_id == dataset.pk
