"""Celery tasks of the annotator app: thin wrappers that take ids and call a service; safe to run twice."""

from __future__ import annotations

from datetime import timedelta

from celery import Task, shared_task

from annotator.models import Dataset
from annotator.services.agreement_figures import agreement_compute
from annotator.services.dawid_skene import dawid_skene_refresh_due, dawid_skene_requests_pending, dawid_skene_run
from config.celery import TimeLimits

# A Dawid–Skene run over 750k votes takes a few seconds; agreement figures about as long.
LIMITS: TimeLimits = {"soft_time_limit": 10 * 60, "time_limit": 12 * 60}
# The sweep leaves a request this long to its own task before enqueueing it again.
REQUEST_GRACE = timedelta(seconds=5)
# A request whose dataset is being fitted (the lock is taken) is looked at again this much later.
RETRY_SECONDS = 5


@shared_task(bind=True, name="annotator.dawid_skene_run", acks_late=True, ignore_result=True, max_retries=12, **LIMITS)
def dawid_skene_run_task(self: Task, dataset_id: int) -> int | None:
    """On demand (dawid_skene_request): refit Dawid–Skene (even if no vote changed) while a request is
    pending, then recompute the agreement figures. A second delivery finds the request answered; one that
    finds a run in progress (or a dead worker's session still holding its lock) looks again shortly."""
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        return None
    run = dawid_skene_run(dataset=dataset, only_if_requested=True)
    if run is None:
        if Dataset.objects.filter(pk=dataset_id, ds_requested_at__isnull=False).exists():
            raise self.retry(countdown=RETRY_SECONDS)
        return None
    agreement_compute(dataset=dataset)
    return run.pk


@shared_task(name="annotator.dawid_skene_resume_requests", ignore_result=True, soft_time_limit=60, time_limit=90)
def dawid_skene_requests_resume_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): enqueue again every Dawid–Skene request whose task was lost or whose
    worker died."""
    pending = dawid_skene_requests_pending(older_than=REQUEST_GRACE)
    for dataset_id in pending:
        dawid_skene_run_task.delay(dataset_id)
    return len(pending)


@shared_task(name="annotator.dawid_skene_refresh", acks_late=True, ignore_result=True, **LIMITS)
def dawid_skene_refresh_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): every dataset whose votes changed since its latest run."""
    runs = dawid_skene_refresh_due()
    for run in runs:
        agreement_compute(dataset=run.dataset)
    return len(runs)


@shared_task(name="annotator.agreement_compute", acks_late=True, ignore_result=True, **LIMITS)
def agreement_compute_task(dataset_id: int) -> int | None:
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    return agreement_compute(dataset=dataset).pk if dataset else None
