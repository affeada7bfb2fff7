"""Computation sections: consensus + agreement, Dawid–Skene, metrics for 10 prediction sets.

Each figure is the product's service, timed end to end (database reads, numpy, writes; the median of
REPEAT runs), beside its floor (the fastest of REPEAT runs): the same numpy computation on arrays already
in memory plus a binary `COPY (…) TO STDOUT` of the rows the service reads. The gap between the two is
what the product spends on its own plumbing.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import numpy as np
from django.db import connection

from annotator.core.aggregation import dawid_skene
from annotator.core.agreement import (
    LabelSets,
    binary_alpha,
    per_annotator_agreement,
    per_class_agreement,
    per_image_agreement,
    set_alpha,
)
from annotator.core.consensus_rules import consensus_compute, prior_groups, questions_of
from annotator.models import Dataset
from annotator.selectors.consensus import consensus_settings, dataset_vote_data
from annotator.services.agreement_figures import agreement_compute
from annotator.services.consensus import consensus_recompute_dataset
from annotator.services.dawid_skene import dawid_skene_run
from bench.dataset_rows import consensus_make_stale
from bench.report import Figure, Report
from evaluation.core.metrics import compute_all_streaming
from evaluation.models import MetricSnapshot, PredictionSet
from evaluation.selectors.label_pools import consensus_label_pool, dataset_order
from evaluation.selectors.prediction_sets import prediction_scores_path, prediction_topk
from evaluation.services.snapshots import metric_snapshots_refresh

# The rows each service reads, as the services read them (binary COPY of the same columns).
_VOTE_ROWS = (
    "SELECT v.image_id, v.label_class_id, v.annotator_id, v.answer FROM annotator_vote v "
    "JOIN annotator_image i ON i.id = v.image_id WHERE i.dataset_id = {id}",
    "SELECT id, annotations_needed, original_label_id FROM annotator_image WHERE dataset_id = {id} ORDER BY id",
    "SELECT image_id, annotator_id, none_fits, unsure, bad_image, classes, seconds FROM annotator_annotation "
    "WHERE dataset_id = {id}",
)
_METRIC_ROWS = (
    "SELECT i.id, i.key, c.index FROM annotator_image i LEFT JOIN annotator_labelclass c "
    "ON c.id = i.original_label_id WHERE i.dataset_id = {id} ORDER BY i.position",
    "SELECT image_id, labels FROM annotator_consensus WHERE dataset_id = {id} AND status <> 'pending'",
    "SELECT a.topk FROM evaluation_predictionarrays a JOIN evaluation_predictionset p "
    "ON p.id = a.prediction_set_id WHERE p.dataset_id = {id}",
)


# Every figure is the median of this many runs (`python -m bench --repeat`) and every floor the fastest of
# as many: the machine is shared, and a floor is the best the hardware can do.
REPEAT = 3
T = TypeVar("T")


def timed(
    function: Callable[[], T], *, setup: Callable[[], object] | None = None, best: bool = False
) -> tuple[float, T]:
    """Median (or, with `best`, minimum) seconds of REPEAT runs of `function`, each after an untimed `setup`;
    the last run's result."""
    samples = []
    for _ in range(REPEAT):
        if setup is not None:
            setup()
        started = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - started)
    return min(samples) if best else statistics.median(samples), result


def copy_out_seconds(queries: tuple[str, ...], dataset: Dataset) -> float:
    """Seconds to stream the rows of `queries` out of PostgreSQL with binary COPY (nothing parsed)."""

    def copy_out() -> None:
        with connection.cursor() as cursor:
            for query in queries:
                sql = f"COPY ({query.format(id=int(dataset.pk))}) TO STDOUT (FORMAT binary)"
                cursor.copy_expert(sql, io.BytesIO())

    return timed(copy_out, best=True)[0]


def bench_consensus(report: Report, dataset: Dataset) -> None:
    """Full consensus recompute (every row updated, and again with nothing changed), then agreement."""

    seconds_all, written = timed(
        lambda: consensus_recompute_dataset(dataset=dataset), setup=partial(consensus_make_stale, dataset.pk)
    )
    seconds_none, unchanged = timed(lambda: consensus_recompute_dataset(dataset=dataset))
    copy_seconds = copy_out_seconds(_VOTE_ROWS, dataset)
    data = dataset_vote_data(dataset)
    settings = consensus_settings(dataset)
    numpy_seconds, rows = timed(lambda: consensus_compute(data, settings, None), best=True)
    floor = copy_seconds + numpy_seconds
    floor_note = (
        f"COPY out of the votes, images, annotations {copy_seconds:.2f} s "
        f"+ consensus_compute in memory {numpy_seconds:.2f} s"
    )
    n_votes = len(data.vote_image)
    report.add(Figure("consensus", "full consensus recompute, every row updated", seconds_all, "s", floor=floor,
                      floor_note=floor_note, note=f"{written:,} rows written, {n_votes:,} votes"))  # fmt: skip
    report.add(Figure("consensus", "full consensus recompute, nothing changed", seconds_none, "s", floor=floor,
                      floor_note=floor_note, note=f"{unchanged:,} rows written"))  # fmt: skip

    seconds, _ = timed(lambda: agreement_compute(dataset=dataset))
    q = questions_of(data)
    votes = q.votes
    n_classes = int(q.class_index.max()) + 1 if len(q.class_index) else 1

    def agreement_in_memory() -> None:
        binary_alpha(votes)
        set_alpha(LabelSets.from_votes(votes, q.class_index))
        per_image_agreement(votes)
        per_class_agreement(votes, q.class_index, n_classes=n_classes, valid=q.is_original, is_original=q.is_original)
        per_annotator_agreement(votes, gold=np.full(votes.n_items, -1, np.int8))

    numpy_seconds, _ = timed(agreement_in_memory, best=True)
    report.add(Figure(
        "consensus", "agreement figures (α, set α, per class, per annotator, histogram)", seconds, "s",
        floor=copy_seconds + numpy_seconds,
        floor_note=f"COPY out {copy_seconds:.2f} s + the annotator.core.agreement functions in memory "
        f"{numpy_seconds:.2f} s",
        note=f"{votes.n_items:,} questions",
    ))  # fmt: skip


def bench_dawid_skene(report: Report, dataset: Dataset) -> None:
    """One Dawid–Skene run: read every vote, fit, store the run and rewrite the consensus."""
    seconds, run = timed(lambda: dawid_skene_run(dataset=dataset))
    assert run is not None, "the benchmark's dataset has votes, and nothing else fits it meanwhile"
    data = dataset_vote_data(dataset)
    q = questions_of(data)
    groups = prior_groups(dataset.ds_prior, q)
    numpy_seconds, result = timed(lambda: dawid_skene(q.votes, groups=groups), best=True)
    copy_seconds = copy_out_seconds(_VOTE_ROWS, dataset)
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in run.seconds.items())
    report.add(Figure(
        "dawid-skene", f"Dawid–Skene run over {run.n_votes:,} votes (read, fit, write)", seconds, "s",
        floor=copy_seconds + numpy_seconds,
        floor_note=f"COPY out {copy_seconds:.2f} s + aggregation.dawid_skene in memory {numpy_seconds:.2f} s "
        f"({result.iterations} iterations)",
        target="≤ 3 s at 750,000 votes", passed=seconds <= 3.0 if 700_000 <= run.n_votes <= 800_000 else None,
        note=f"{parts}, {run.iterations} iterations",
    ))  # fmt: skip


def bench_metrics(report: Report, dataset: Dataset) -> None:
    """Metrics for every prediction set against the live consensus: read, compute, append snapshots."""
    sets = list(PredictionSet.objects.filter(dataset=dataset).order_by("pk"))
    seconds, snapshots = timed(
        lambda: metric_snapshots_refresh(datasets=[dataset]),
        setup=lambda: MetricSnapshot.objects.filter(prediction_set__in=sets).delete(),
    )
    copy_seconds = copy_out_seconds(_METRIC_ROWS, dataset)
    order = dataset_order(dataset)
    pool = consensus_label_pool(dataset)
    labels = pool.csr(len(order))
    numpy_seconds = 0.0
    scored_seconds = 0.0
    with_scores = 0
    for prediction_set in sets:
        with prediction_scores_path(prediction_set) as scores:
            evaluate = partial(
                compute_all_streaming,
                prediction_topk(prediction_set),
                order.original,
                labels,
                order.num_classes,
                scores,
            )
            spent, _ = timed(evaluate, best=True)
        numpy_seconds += spent
        scored_seconds += spent if scores is not None else 0.0
        with_scores += scores is not None
    report.add(Figure(
        "metrics", f"metrics for {len(sets)} prediction sets (read, compute, {len(snapshots)} snapshots written)",
        seconds, "s", floor=copy_seconds + numpy_seconds,
        floor_note=f"COPY out {copy_seconds:.2f} s + evaluation.core.metrics.compute_all_streaming "
        f"{numpy_seconds:.2f} s "
        f"(of which {scored_seconds:.2f} s for {with_scores} set(s) with full scores: mAP, LRAP)",
        target="≤ 5 s for 10 sets at 50,000 images",
        passed=seconds <= 5.0 if len(sets) >= 10 and len(order) == 50_000 else None,
        note=f"pool {pool.size:,} settled images",
    ))  # fmt: skip
