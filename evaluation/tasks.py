"""Celery tasks: thin wrappers that take ids and call a service. Every one is safe to run twice."""

from __future__ import annotations

from celery import Task, shared_task

from annotator.models import Dataset
from config.celery import TimeLimits
from evaluation.services.candidates import candidates_recompute
from evaluation.services.model_scores import model_scores_recompute
from evaluation.services.release_claims import STALE_CLAIM, release_build_held_elsewhere, releases_needing_a_build
from evaluation.services.releases import release_build
from evaluation.services.snapshots import metric_snapshots_due, metric_snapshots_refresh

# Evaluating one set takes well under a minute even with a 50k × 1000 score matrix; a refresh of
# every set of every dataset runs in bounded per-set transactions.
EVALUATE_LIMITS: TimeLimits = {"soft_time_limit": 10 * 60, "time_limit": 12 * 60}
# A 50k-image release builds in seconds. A delivery that finds the release held by a live build (a redelivery
# racing it) looks again after STALE_CLAIM, when a silent build's claim may be retaken.
RELEASE_LIMITS: TimeLimits = {"soft_time_limit": 14 * 60, "time_limit": 15 * 60}
REFRESH_LIMITS: TimeLimits = {"soft_time_limit": 25 * 60, "time_limit": 30 * 60}


@shared_task(name="evaluation.evaluate_prediction_set", acks_late=True, ignore_result=True, **EVALUATE_LIMITS)
def prediction_set_evaluate_task(prediction_set_id: int) -> int:
    """First evaluation right after upload, and each set's share of the periodic refresh; a set deleted
    meanwhile is simply not found."""
    return len(metric_snapshots_refresh(prediction_set_ids=[prediction_set_id]))


@shared_task(name="evaluation.refresh_dataset_metrics", acks_late=True, ignore_result=True, **REFRESH_LIMITS)
def dataset_metrics_refresh_task(dataset_id: int) -> int:
    return len(metric_snapshots_refresh(datasets=Dataset.objects.filter(pk=dataset_id)))


@shared_task(name="evaluation.refresh_all_metrics", acks_late=True, ignore_result=True, **REFRESH_LIMITS)
def metrics_refresh_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): enqueue the evaluation of every set whose label pool changed since its
    last snapshot, one task per set, so every worker on the queue takes a share. A set enqueued twice (a
    second sweep before the first finished) is evaluated once: the second task finds the set locked or done."""
    due = metric_snapshots_due()
    for prediction_set_id in due:
        prediction_set_evaluate_task.delay(prediction_set_id)
    return len(due)


@shared_task(name="evaluation.recompute_candidates", acks_late=True, ignore_result=True, **EVALUATE_LIMITS)
def candidates_recompute_task(dataset_id: int) -> int:
    """Candidates, then the model scores (both follow the selected prediction sets); each safe to run twice."""
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        return 0
    candidates = candidates_recompute(dataset=dataset).candidates
    model_scores_recompute(dataset=dataset)
    return candidates


@shared_task(
    bind=True, name="evaluation.build_release", acks_late=True, ignore_result=True, max_retries=3, **RELEASE_LIMITS
)
def release_build_task(self: Task, release_id: int) -> bool:
    """Safe to run twice: the build claims the release with a conditional update, a second run finds it taken.
    When the holder may have died (its heartbeat is recent but it could stop), look again later."""
    if release_build(release_id=release_id) is not None:
        return True
    if release_build_held_elsewhere(release_id=release_id):
        raise self.retry(countdown=STALE_CLAIM.total_seconds() + 30)
    return False


@shared_task(name="evaluation.resume_release_builds", ignore_result=True, soft_time_limit=60, time_limit=90)
def releases_resume_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): enqueue again every release whose build task was lost or whose worker
    died; the build's claim makes a duplicate delivery harmless."""
    pending = releases_needing_a_build()
    for release_id in pending:
        release_build_task.delay(release_id)
    return len(pending)
