"""Candidate proposals: each image's original label plus the top-k classes of the selected prediction sets."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from annotator.models import Candidate, Dataset, LabelClass
from annotator.services.candidates import candidates_lock, candidates_replace
from evaluation.models import PredictionSet
from evaluation.selectors.label_pools import dataset_order
from evaluation.selectors.prediction_sets import candidate_prediction_sets, prediction_topk

logger = logging.getLogger(__name__)


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
    sets. The annotator app writes the rows (`candidates_replace`); what each annotator was actually shown is
    recorded with their annotation, so nothing is lost. Serialised per dataset (`candidates_lock`).
    """
    started = time.monotonic()
    candidates_lock(dataset=dataset)
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
    candidates_replace(
        dataset=dataset, image_ids=image_ids, label_class_ids=label_class_ids, sources=sources, scores=scores
    )
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
