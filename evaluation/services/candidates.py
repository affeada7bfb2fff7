"""Candidate proposals: each image's original label plus the top-k classes of the selected prediction sets."""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction

from annotator.models import Candidate, Dataset, Image, LabelClass
from evaluation.models import PredictionSet
from evaluation.selectors.label_pools import dataset_order
from evaluation.selectors.prediction_sets import candidate_prediction_sets, prediction_topk

logger = logging.getLogger(__name__)

CANDIDATE_LOCK_NAMESPACE = 0x43414E44  # "CAND"


@dataclass(frozen=True)
class CandidateReport:
    images: int
    candidates: int
    prediction_sets: int
    seconds: float


@transaction.atomic
def candidates_recompute(*, dataset: Dataset) -> CandidateReport:
    """Make the dataset's Candidate rows equal original label ∪ top-k of every selected prediction set.

    k is `dataset.candidate_count` (capped by what a set stores). A class proposed by several sources is one
    row: `original` wins over `model`; a model proposal's score is its best rank weight 1/(rank+1) over the
    sets. Rows that stay keep their id and created_at; rows no longer proposed are deleted, in bulk SQL
    (COPY into a temporary table, then one DELETE, one UPDATE and one INSERT, each a join). What each annotator was
    actually shown is recorded with their annotation, so nothing is lost. Serialised per dataset with an
    advisory lock.
    """
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CANDIDATE_LOCK_NAMESPACE, dataset.pk])
    order = dataset_order(dataset)
    class_ids = _class_ids(dataset, order.num_classes)
    sets = list(candidate_prediction_sets(dataset))
    rows, classes, weights, is_original = _proposals(order.original, sets, dataset.candidate_count)
    # One row per (image, class): original first, then the best-ranked model proposal.
    code = rows * max(order.num_classes, 1) + classes
    ranked = np.lexsort((-weights, ~is_original, code))
    first = ranked[np.r_[True, code[ranked][1:] != code[ranked][:-1]]] if code.size else ranked
    image_ids = order.image_ids[rows[first]]
    label_class_ids = class_ids[classes[first]]
    sources = np.where(is_original[first], Candidate.Source.ORIGINAL.value, Candidate.Source.MODEL.value)
    scores = np.where(is_original[first], np.nan, weights[first])
    _write(dataset, image_ids, label_class_ids, sources, scores)
    report = CandidateReport(len(order), int(first.size), len(sets), time.monotonic() - started)
    logger.info("candidates of %s: %s", dataset.slug, report)
    return report


def _class_ids(dataset: Dataset, num_classes: int) -> np.ndarray:
    ids = np.full(num_classes, -1, dtype=np.int64)
    for index, pk in LabelClass.objects.filter(dataset=dataset).values_list("index", "pk"):
        ids[index] = pk
    return ids


def _proposals(
    original: np.ndarray, sets: list[PredictionSet], k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat (image row, class index, weight, is original) arrays of every proposal."""
    has_original = np.flatnonzero(original >= 0)
    rows = [has_original]
    classes = [original[has_original]]
    weights = [np.full(has_original.size, np.inf)]
    for prediction_set in sets:
        topk = prediction_topk(prediction_set)[: original.size, :k].astype(np.int64)
        n, width = topk.shape
        valid = topk >= 0
        rows.append(np.repeat(np.arange(n), width)[valid.ravel()])
        classes.append(topk[valid])
        weights.append(np.broadcast_to(1.0 / (np.arange(width) + 1), (n, width))[valid])
    is_original = np.zeros(sum(r.size for r in rows), dtype=bool)
    is_original[: has_original.size] = True
    return np.concatenate(rows), np.concatenate(classes), np.concatenate(weights), is_original


def _write(
    dataset: Dataset, image_ids: np.ndarray, label_class_ids: np.ndarray, sources: np.ndarray, scores: np.ndarray
) -> None:
    table, image_table = Candidate._meta.db_table, Image._meta.db_table
    buffer = io.StringIO()
    score_text = np.where(np.isnan(scores), "", np.char.mod("%.6g", np.nan_to_num(scores)))
    buffer.write(
        "\n".join(
            map(",".join, zip(image_ids.astype(str), label_class_ids.astype(str), sources, score_text, strict=True))
        )
    )
    buffer.write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        # Dropped at commit; dropped here too in case an enclosing transaction already made one.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.candidate_new")
        cursor.execute(
            "CREATE TEMP TABLE candidate_new (image_id bigint, label_class_id bigint, source varchar(16), "
            "score double precision) ON COMMIT DROP"
        )
        if image_ids.size:
            cursor.copy_expert("COPY candidate_new FROM STDIN (FORMAT csv)", buffer)
        cursor.execute("ANALYZE candidate_new")
        cursor.execute(
            f"""DELETE FROM {table} c USING {image_table} i
                WHERE c.image_id = i.id AND i.dataset_id = %s
                  AND NOT EXISTS (SELECT 1 FROM candidate_new n
                                  WHERE n.image_id = c.image_id AND n.label_class_id = c.label_class_id)""",
            [dataset.pk],
        )
        # Only changed rows are updated; new rows go through the unique index (ON CONFLICT DO NOTHING), so
        # the insert never depends on the planner's view of the candidate table's size, which is stale
        # right after a bulk fill (a NOT EXISTS anti-join was once planned as nested loops: minutes).
        cursor.execute(
            f"""UPDATE {table} c SET source = n.source, score = n.score
                FROM candidate_new n
                WHERE c.image_id = n.image_id AND c.label_class_id = n.label_class_id
                  AND (c.source, c.score) IS DISTINCT FROM (n.source, n.score)"""
        )
        cursor.execute(
            f"""INSERT INTO {table} (image_id, label_class_id, source, score, created_at)
                SELECT n.image_id, n.label_class_id, n.source, n.score, now() FROM candidate_new n
                ON CONFLICT (image_id, label_class_id) DO NOTHING"""
        )
