"""Dawid–Skene over a dataset's votes: fit, keep the run (append-only), rewrite the consensus with it.

The fit is `annotator.core.aggregation.dawid_skene` (vectorised EM; maybe is its own response, so every
annotator has a 2×3 confusion matrix) with the class-prior strata the dataset's `ds_prior` names. The
run's parameters then score every image through the same code as the live consensus, so between runs a
new vote moves its image's posterior with the annotator's learnt reliability.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from annotator.core.aggregation import answer_log_likelihood_ratios, dawid_skene
from annotator.core.consensus_rules import VoteData, prior_groups, questions_of
from annotator.models import Annotation, Dataset, DawidSkeneRun
from annotator.selectors.consensus import dataset_vote_data, ds_params, votes_watermark
from annotator.services.consensus import consensus_recompute_dataset

logger = logging.getLogger(__name__)

# First key of the advisory locks taken here (the second is the dataset id).
ADVISORY_LOCK_CLASS = 4_004
PRIOR_GROUP_COUNT = {"single": 1, "original": 2, "imagenet_real": 3}


def dawid_skene_run(
    *, dataset: Dataset, only_if_changed: bool = False, only_if_requested: bool = False, chunk: int | None = None
) -> DawidSkeneRun | None:
    """Fit Dawid–Skene to every vote of the dataset, store the run and the consensus it gives.

    Returns None without writing when another session is running it for this dataset, when there is no vote,
    with `only_if_changed` when the votes are those of the latest finished run, or with `only_if_requested`
    when no request is pending (`dawid_skene_request`). A run that finishes answers every request made
    before it read the votes. Safe to run twice at once: locking is a session-level advisory lock per
    dataset, tried, not waited for, and held until the last consensus chunk is written (a killed worker's
    session ends and frees it); the checks happen after taking it, so a second worker never refits what the
    first just did.

    Transactions: the fit's run row and the dataset's pointer to it commit first; then the consensus is
    rewritten in chunks of `chunk` rows (`consensus_recompute_dataset`), each its own transaction; then the
    run records its timings (which mark it finished) and answers the requests. Until then a reader sees
    the dataset on the new run and each image's consensus row with the `ds_run_id` of the run that scored it,
    new for chunks written, earlier for the rest. A run whose worker died mid-write is left unfinished: the
    periodic refresh and the pending request run it again.
    """
    with _dataset_lock(dataset) as held:
        if not held:
            return None
        with transaction.atomic():
            fitted = _fit(dataset, only_if_changed=only_if_changed, only_if_requested=only_if_requested)
        if fitted is None:
            return None
        run, data, reading_from, started = fitted
        consensus_recompute_dataset(dataset=dataset, data=data, ds=ds_params(run), chunk=chunk)
        written = time.perf_counter()
        with transaction.atomic():
            run.seconds["write"] = written - started - sum(run.seconds.values())
            run.save(update_fields=["seconds"])
            _requests_answered(dataset, reading_from)
    logger.info(
        "Dawid-Skene on %s: %d votes, %d iterations, load %.2f s, fit %.2f s, write %.2f s",
        dataset.slug, run.n_votes, run.iterations, *run.seconds.values(),
    )  # fmt: skip
    return run


@contextmanager
def _dataset_lock(dataset: Dataset) -> Iterator[bool]:
    """A session-level advisory lock on the dataset's Dawid–Skene runs, tried, not waited for (also excludes
    a transaction holding it with `pg_advisory_xact_lock`); released on leaving or when the session ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_LOCK_CLASS, dataset.pk])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        # A lost connection has freed the lock with its session; its error is the one worth raising.
        if held and connection.is_usable():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_LOCK_CLASS, dataset.pk])


def _fit(
    dataset: Dataset, *, only_if_changed: bool, only_if_requested: bool
) -> tuple[DawidSkeneRun, VoteData, datetime, float] | None:
    """Check, read the votes, fit and store the run (load and fit timings) and point the dataset at it. Call in
    a transaction, holding the dataset's lock."""
    dataset.refresh_from_db()
    if only_if_requested and dataset.ds_requested_at is None:
        return None
    reading_from = timezone.now()
    watermark = votes_watermark(dataset)
    latest = DawidSkeneRun.objects.filter(dataset=dataset).order_by("-created_at", "-id").first()
    # A run whose worker died before its last chunk lacks its write timing: it is redone.
    unchanged = latest is not None and "write" in latest.seconds and latest.votes_watermark == watermark
    if only_if_changed and unchanged:
        return None
    started = time.perf_counter()
    data = dataset_vote_data(dataset)
    questions = questions_of(data)
    if questions.votes.n_votes == 0:
        _requests_answered(dataset, reading_from)  # nothing to fit: asking again would not change that
        return None
    loaded = time.perf_counter()
    result = dawid_skene(questions.votes, groups=prior_groups(dataset.ds_prior, questions))
    fitted = time.perf_counter()
    run = DawidSkeneRun.objects.create(
        dataset=dataset,
        votes_watermark=watermark,
        prior_mode=dataset.ds_prior,
        threshold=dataset.ds_threshold,
        n_votes=questions.votes.n_votes,
        n_questions=questions.votes.n_items,
        n_annotators=questions.votes.n_annotators,
        iterations=result.iterations,
        converged=result.converged,
        log_likelihood=None if np.isnan(result.log_likelihood) else result.log_likelihood,
        prior=result.prior,
        group_prior=_padded_group_prior(result.group_prior, dataset.ds_prior, result.prior),
        seconds={"load": loaded - started, "fit": fitted - loaded},
        **_annotator_parameters(result.confusion, questions.votes.annotator, questions.annotator_ids),
    )
    Dataset.objects.filter(pk=dataset.pk).update(ds_run=run)
    dataset.ds_run = run
    return run, data, reading_from, started


def dawid_skene_request(*, dataset: Dataset) -> None:
    """Ask for a Dawid–Skene run of `dataset` (even if no vote changed). The request is a row in the database,
    so it survives a lost task or a killed worker: `dawid_skene_run_task` is enqueued on commit, and the
    periodic sweep (`dawid_skene_requests_pending`) enqueues it again until a run answers it."""
    Dataset.objects.filter(pk=dataset.pk, ds_requested_at__isnull=True).update(ds_requested_at=timezone.now())
    transaction.on_commit(lambda: _enqueue_run(dataset.pk))


def _enqueue_run(dataset_id: int) -> None:
    from annotator.tasks import dawid_skene_run_task

    dawid_skene_run_task.delay(dataset_id)


def _requests_answered(dataset: Dataset, reading_from: datetime) -> None:
    """Requests made before this run read the votes are answered; later ones stay for the next run."""
    Dataset.objects.filter(pk=dataset.pk, ds_requested_at__lte=reading_from).update(ds_requested_at=None)
    dataset.ds_requested_at = None


def dawid_skene_requests_pending(*, older_than: timedelta) -> list[int]:
    """Datasets whose Dawid–Skene request has waited longer than `older_than` (its task was lost, or its
    worker died mid-run): the sweep enqueues them again."""
    waited = timezone.now() - older_than
    return list(Dataset.objects.filter(ds_requested_at__lt=waited).order_by("pk").values_list("pk", flat=True))


def dawid_skene_refresh_due() -> list[DawidSkeneRun]:
    """Run Dawid–Skene for every dataset whose votes changed since its latest run (one transaction each)."""
    runs = []
    for dataset in Dataset.objects.filter(pk__in=Annotation.objects.values("dataset_id")).order_by("pk"):
        run = dawid_skene_run(dataset=dataset, only_if_changed=True)
        if run is not None:
            runs.append(run)
    return runs


def _padded_group_prior(group_prior: np.ndarray, mode: str, overall: float) -> list[float]:
    """One prior per stratum of the mode, even for strata without questions yet (they get the overall one)."""
    padded = [float(p) for p in group_prior] + [overall] * PRIOR_GROUP_COUNT[mode]
    return padded[: max(PRIOR_GROUP_COUNT[mode], len(group_prior))]


def _annotator_parameters(confusion: np.ndarray, vote_annotator: np.ndarray, user_ids: np.ndarray) -> dict:
    """Per annotator (by user id): sensitivity, specificity and answer log-likelihood ratios, plus the
    vote-weighted pooled ratios used for annotators the run did not see."""
    n_votes = np.bincount(vote_annotator, minlength=len(user_ids))
    pi0, pi1 = confusion[:, 0, :], confusion[:, 1, :]  # P(answer | not valid), P(answer | valid)
    llr, pooled = answer_log_likelihood_ratios(confusion, n_votes)
    annotators = {
        str(int(uid)): {
            "sensitivity": round(float(pi1[a, 1]), 6),
            "specificity": round(float(pi0[a, 0]), 6),
            "llr": [float(x) for x in llr[a]],
            "n_votes": int(n_votes[a]),
        }
        for a, uid in enumerate(user_ids.tolist())
    }
    return {"annotators": annotators, "default_llr": [float(x) for x in pooled]}
