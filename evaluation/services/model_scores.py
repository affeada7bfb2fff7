"""Each image's model score (evaluation.core.model_score), stored for the model-guided hand-out order."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from annotator.models import Dataset
from annotator.services.candidates import model_scores_replace
from evaluation.core.model_score import model_score
from evaluation.selectors.label_pools import dataset_order
from evaluation.selectors.prediction_sets import candidate_prediction_sets, prediction_topk

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelScoreReport:
    images: int
    scored: int
    changed: int
    prediction_sets: int
    seconds: float


def model_scores_recompute(*, dataset: Dataset) -> ModelScoreReport:
    """Store `Image.model_score` from the dataset's selected prediction sets (those proposing candidates).

    The score is `evaluation.core.model_score.model_score` of the sets' top-k and the original label. An
    image gets one only when every selected set has a row for it (images imported after a set was registered
    get none) and none when no set is selected. Idempotent: only changed rows are written, in short batches
    (`model_scores_replace`); runs after every candidate recompute, i.e. whenever the selection changes.
    """
    started = time.monotonic()
    order = dataset_order(dataset)
    n_images = len(order)
    sets = list(candidate_prediction_sets(dataset))
    scores = np.full(n_images, np.nan)
    if sets and n_images:
        rankings = [prediction_topk(prediction_set).astype(np.int64) for prediction_set in sets]
        covered = min(n_images, *(ranking.shape[0] for ranking in rankings))
        if covered:
            scores[:covered] = model_score([ranking[:covered] for ranking in rankings], order.original[:covered])
    changed = model_scores_replace(dataset=dataset, image_ids=order.image_ids, scores=scores)
    report = ModelScoreReport(
        n_images, int(np.count_nonzero(~np.isnan(scores))), changed, len(sets), time.monotonic() - started
    )
    logger.info("model scores of %s: %s", dataset.slug, report)
    return report
