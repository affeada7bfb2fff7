"""Computing metric snapshots: append-only, once per (prediction set, label-pool state, metrics version).

When the metric definitions change (`METRICS_VERSION`), the next refresh appends a snapshot of every set at
its label pools' current states: existing prediction sets get the new figures without being uploaded again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator

import numpy as np
from django.db import connection, transaction

from annotator.models import Dataset
from evaluation.core.metrics import METRICS_VERSION, compute_all_streaming
from evaluation.models import MetricSnapshot, PredictionSet
from evaluation.selectors.label_pools import DatasetOrder, LabelPool, dataset_order, label_pools_for
from evaluation.selectors.prediction_sets import prediction_scores_path, prediction_topk

logger = logging.getLogger(__name__)

# First key of the two-key advisory locks taken per prediction set ("EVA1").
SNAPSHOT_LOCK_NAMESPACE = 0x45564131
EXAMPLES_PER_PAIR = 8


@transaction.atomic
def metric_snapshot_compute(
    *, prediction_set: PredictionSet, label_pool: LabelPool, order: DatasetOrder | None = None
) -> MetricSnapshot | None:
    """Append a snapshot of `prediction_set` against `label_pool`, unless that pool state is evaluated already
    under the current metric definitions.

    Takes a transaction-scoped advisory lock on the prediction set and gives up (returns None) when another
    worker holds it: that worker is computing the same set, and whatever changes after it read the pool is
    picked up by the next periodic run. The unique (prediction set, watermark) constraint backs this up.
    `order` may be passed when evaluating many sets of one dataset, to read the images once.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [SNAPSHOT_LOCK_NAMESPACE, prediction_set.pk])
        if not cursor.fetchone()[0]:
            logger.info("prediction set %s is being evaluated by another worker", prediction_set.pk)
            return None
    done = MetricSnapshot.objects.filter(
        prediction_set=prediction_set, watermark=label_pool.watermark, metrics_version=METRICS_VERSION
    )
    if done.exists():
        return None
    started = time.monotonic()
    order = order or dataset_order(prediction_set.dataset)
    n = prediction_set.n_images
    if len(order) < n:
        logger.warning("dataset lost images since prediction set %s was uploaded; not evaluated", prediction_set.pk)
        return None
    topk = prediction_topk(prediction_set)
    labels = label_pool.csr(n)
    # Images imported after the upload are appended to dataset order, so the first n rows still line up.
    original = order.original[:n]
    # By image blocks, the scores memory-mapped: no N×C matrix, so memory stays flat as datasets grow.
    with prediction_scores_path(prediction_set) as scores:
        values = compute_all_streaming(topk, original, labels, order.num_classes, scores)
    examples = _valid_error_examples(topk[:, 0], original, labels, values["valid_error_pairs"], order.image_ids[:n])
    snapshot = MetricSnapshot.objects.create(
        prediction_set=prediction_set,
        label_source=label_pool.label_source,
        reference_set_id=label_pool.reference_set_id,
        pool_size=label_pool.size,
        watermark=label_pool.watermark,
        values=values,
        valid_error_examples=examples,
        seconds=time.monotonic() - started,
        metrics_version=METRICS_VERSION,
    )
    logger.info(
        "prediction set %s evaluated against %s in %.2f s", prediction_set.pk, label_pool.watermark, snapshot.seconds
    )
    return snapshot


def metric_snapshots_refresh(
    *, datasets: Iterable[Dataset] | None = None, prediction_set_ids: Iterable[int] | None = None
) -> list[MetricSnapshot]:
    """Evaluate every prediction set against every label source whose state it has not been evaluated on
    under the current metric definitions.

    Each (set, source) is its own transaction (see `metric_snapshot_compute`), so a long run holds no lock
    for long and an interrupted run keeps what it finished. Safe to run twice and concurrently: a state
    already evaluated is skipped, and the advisory lock keeps two workers off the same set.
    Dataset images and label pools are read once per dataset.
    """
    created: list[MetricSnapshot] = []
    for dataset, todo in _pending(datasets=datasets, prediction_set_ids=prediction_set_ids):
        order = dataset_order(dataset)
        for prediction_set, pool in todo:
            snapshot = metric_snapshot_compute(prediction_set=prediction_set, label_pool=pool, order=order)
            if snapshot is not None:
                created.append(snapshot)
    return created


def metric_snapshots_due(*, datasets: Iterable[Dataset] | None = None) -> list[int]:
    """The prediction sets (ids, in order) with a label-pool state not yet evaluated under the current metric
    definitions: what `metric_snapshots_refresh` would evaluate now. The periodic task hands each to its own
    task, so several workers share one refresh; it reads the label pools of each dataset once."""
    due: list[int] = []
    for _, todo in _pending(datasets=datasets):
        due.extend(dict.fromkeys(prediction_set.pk for prediction_set, _ in todo))
    return due


def _pending(
    *, datasets: Iterable[Dataset] | None = None, prediction_set_ids: Iterable[int] | None = None
) -> Iterator[tuple[Dataset, list[tuple[PredictionSet, LabelPool]]]]:
    """Per dataset with work to do: the (prediction set, label pool) pairs not evaluated yet."""
    sets = PredictionSet.objects.select_related("dataset").order_by("dataset_id", "pk")
    if datasets is not None:
        sets = sets.filter(dataset__in=list(datasets))
    if prediction_set_ids is not None:
        sets = sets.filter(pk__in=list(prediction_set_ids))
    by_dataset: dict[int, list[PredictionSet]] = {}
    for prediction_set in sets:
        by_dataset.setdefault(prediction_set.dataset_id, []).append(prediction_set)
    for members in by_dataset.values():
        pools = label_pools_for(members[0].dataset)
        current = MetricSnapshot.objects.filter(prediction_set__in=members, metrics_version=METRICS_VERSION)
        evaluated = set(current.values_list("prediction_set_id", "watermark"))
        todo = [(s, pool) for s in members for pool in pools if (s.pk, pool.watermark) not in evaluated]
        if todo:
            yield members[0].dataset, todo


def _valid_error_examples(
    top1: np.ndarray,
    original: np.ndarray,
    labels: tuple[np.ndarray, np.ndarray],
    pairs: list[dict],
    image_ids: np.ndarray,
) -> dict[str, list[int]]:
    """A few image ids for each frequent (original, predicted) pair whose prediction is a valid label;
    `labels` is the pool's CSR (indptr, indices)."""
    if not pairs:
        return {}
    indptr, indices = labels
    entry_rows = np.repeat(np.arange(top1.size), np.diff(indptr))
    top1_in_set = np.bincount(entry_rows[indices == top1[entry_rows]], minlength=top1.size) > 0
    valid_error = (original >= 0) & (top1 != original) & top1_in_set & (top1 >= 0)
    examples: dict[str, list[int]] = {}
    for pair in pairs:
        match = valid_error & (original == pair["original"]) & (top1 == pair["predicted"])
        rows_of_pair = np.flatnonzero(match)[:EXAMPLES_PER_PAIR]
        examples[f"{pair['original']},{pair['predicted']}"] = image_ids[rows_of_pair].tolist()
    return examples
