"""The pilot page's and API's figures: estimates from a pilot's settled images, and the model-only estimate."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotator.models import Dataset, Image, LabelClass, Pilot, PilotImage
from annotator.pg_copy import read_int_columns
from annotator.selectors.consensus import settled_consensus_labels
from evaluation.core.model_score import calibrated_share, model_score, score_strata
from evaluation.core.pilot import DEFAULT_WIDTH, pilot_estimates
from evaluation.models import PredictionSet
from evaluation.selectors.prediction_sets import prediction_topk


def current_pilot(dataset: Dataset) -> Pilot | None:
    """The active pilot, else the latest one."""
    return Pilot.objects.filter(dataset=dataset).order_by("-active", "-created_at", "-pk").first()


def _images_in_order(dataset: Dataset) -> tuple[np.ndarray, np.ndarray, int]:
    """Image ids and original class indices (-1: none) in dataset order, and the number of classes: one binary
    COPY (the ORM's `dataset_order` also reads the keys, 0.6 s of the page's 1 s at 50,000 images)."""
    rows = read_int_columns(
        f"SELECT i.id::bigint, coalesce(c.index, -1)::bigint FROM {Image._meta.db_table} i "
        f"LEFT JOIN {LabelClass._meta.db_table} c ON c.id = i.original_label_id "
        "WHERE i.dataset_id = %s ORDER BY i.position",
        [dataset.pk],
        2,
    )
    return rows[:, 0], rows[:, 1], LabelClass.objects.filter(dataset=dataset).count()


def _rows_of(topk: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """These dataset-order rows of a ranking; images added after it was registered get empty slots (-1)."""
    padded = np.full((rows.size, topk.shape[1]), -1, dtype=np.int64)
    inside = rows < topk.shape[0]
    padded[inside] = topk[rows[inside]]
    return padded


def pilot_report(pilot: Pilot, *, width: float = DEFAULT_WIDTH) -> dict[str, Any]:
    """Everything the pilot page shows (`evaluation.core.pilot.pilot_estimates` and the model-only share).

    Only the pilot's settled images count (consensus agreed, disputed or adjudicated, not excluded): the pilot
    is a random sample, the rest of the settled images are not. One query per prediction set plus six.
    """
    dataset = pilot.dataset
    image_ids, original, num_classes = _images_in_order(dataset)
    row_of = {image_id: row for row, image_id in enumerate(image_ids.tolist())}
    in_pilot = set(PilotImage.objects.filter(pilot=pilot).values_list("image_id", flat=True))
    settled = settled_consensus_labels(dataset)
    index_of = dict(LabelClass.objects.filter(dataset=dataset).values_list("id", "index"))
    pairs = sorted(
        (row_of[image_id], labels)
        for image_id, labels in zip(settled.image_ids, settled.labels, strict=True)
        if image_id in in_pilot
    )
    rows = np.array([row for row, _ in pairs], dtype=np.int64)
    labels = np.zeros((rows.size, num_classes), dtype=bool)
    for i, (_, classes) in enumerate(pairs):
        labels[i, [index_of[c] for c in classes]] = True
    rankings = {
        prediction_set.name: prediction_topk(prediction_set).astype(np.int64)
        for prediction_set in PredictionSet.objects.filter(dataset=dataset).order_by("name")
    }
    estimates = pilot_estimates(
        labels, original[rows], {name: _rows_of(topk, rows) for name, topk in rankings.items()}, width=width
    )
    model_only = None
    n_images = image_ids.size
    if rankings and n_images:
        score = model_score([_rows_of(topk, np.arange(n_images)) for topk in rankings.values()], original)
        labelled = np.zeros(n_images, dtype=bool)
        labelled[rows] = True
        multilabel, nonempty = np.zeros(n_images, dtype=bool), np.zeros(n_images, dtype=bool)
        multilabel[rows], nonempty[rows] = labels.sum(axis=1) >= 2, labels.any(axis=1)
        model_only = calibrated_share(score_strata(score), labelled, multilabel, nonempty) | {"models": list(rankings)}
    return {
        "pilot": {
            "id": pilot.pk, "dataset": dataset.slug, "n": pilot.n, "mode": pilot.mode, "seed": pilot.seed,
            "created_at": pilot.created_at.isoformat(), "active": pilot.active,
        },
        "n_images": len(in_pilot),
        "estimates": estimates,
        "model_only_multilabel_share": model_only,
    }  # fmt: skip
