"""Two worker processes with their own hostnames (`-n w1@%h`, `-n w2@%h`, as on two hosts) on one broker split
one periodic metrics refresh: the sweep hands each prediction set to its own task, both workers evaluate sets
at the same time, and every (set, label-pool state) is evaluated exactly once, even when the sweep runs twice."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile

from evaluation.models import MetricSnapshot
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from evaluation.tasks import metrics_refresh_task
from tests.builders.prediction_sets import REFERENCE, TOP3, build_dataset, csv_bytes
from tests.celery.conftest import wait_for
from tests.celery.processes import blocked_at, celery_processes

pytestmark = [pytest.mark.celery, pytest.mark.timeout(240), pytest.mark.django_db(transaction=True)]

SWEEP = "evaluation.refresh_all_metrics"
EVALUATE = "evaluation.evaluate_prediction_set"
N_SETS = 6


def test_two_workers_with_their_own_hostnames_split_one_periodic_refresh_without_repeating_work(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    dataset = build_dataset("split-refresh")
    reference = reference_label_set_create(
        dataset=dataset, name="ReaL", source=ContentFile(json.dumps(REFERENCE).encode(), name="real.json")
    )
    sets = [
        prediction_set_create(dataset=dataset, name=f"model {i}", source=ContentFile(csv_bytes(TOP3), name="m.csv"))
        for i in range(N_SETS)
    ]
    MetricSnapshot.objects.all().delete()  # drop what the uploads computed: the refresh starts from nothing
    expected = {(s.pk, w) for s in sets for w in ("consensus:0", f"reference:{reference.pk}")}

    with celery_processes(settings.MEDIA_ROOT, tmp_path) as celery:
        first, second = celery.worker(name="w1"), celery.worker(name="w2")
        assert "w1@" in celery.log("worker-0") and "w2@" in celery.log("worker-1")
        # Snapshot inserts wait on a lock until two evaluations wait at once: then each worker holds one set.
        with blocked_at(MetricSnapshot._meta.db_table, metrics_refresh_task.delay, waiters=2):
            pass
        metrics_refresh_task.delay()  # the next beat tick, while the first sweep's sets may still run

        def settled() -> bool:
            sweeps = [int(r) for results in celery.results(SWEEP).values() for r in results]
            evaluated = sum(len(results) for results in celery.results(EVALUATE).values())
            return len(sweeps) == 2 and evaluated == sum(sweeps)

        wait_for(settled, timeout=120, what="both sweeps and every evaluation they enqueued")
        assert first.poll() is None and second.poll() is None

    snapshots = list(MetricSnapshot.objects.values_list("prediction_set_id", "watermark"))
    assert sorted(snapshots) == sorted(expected), "every set evaluated once per label-pool state"
    per_worker = {worker: [int(r) for r in results] for worker, results in celery.results(EVALUATE).items()}
    # Each task returns the snapshots it appended: together exactly the rows above, nothing computed twice.
    assert sum(sum(appended) for appended in per_worker.values()) == len(expected)
    assert all(sum(appended) > 0 for appended in per_worker.values()), f"both workers took part: {per_worker}"
    sweeps = sorted(int(r) for results in celery.results(SWEEP).values() for r in results)
    assert sweeps[-1] == N_SETS  # the first sweep enqueued every set (the second only what was still due)
    logs = celery.log("worker-0") + celery.log("worker-1")
    assert "raised unexpected" not in logs and "IntegrityError" not in logs
