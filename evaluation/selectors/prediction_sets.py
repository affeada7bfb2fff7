"""Reads of prediction sets: their stored rankings and scores, and the summaries and history of their metric
snapshots (for the leaderboard, its history charts and the model page)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
from django.core.files.storage import default_storage
from django.db.models import JSONField, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTransform

from annotator.models import Dataset, Image, LabelClass
from evaluation.core.arrays import from_npy_bytes
from evaluation.models import MetricSnapshot, PredictionArrays, PredictionSet
from evaluation.selectors.label_pools import LabelSourceChoice


def prediction_topk(prediction_set: PredictionSet) -> np.ndarray:
    """The stored N×k int32 ranking: one read of one row."""
    return from_npy_bytes(PredictionArrays.objects.values_list("topk", flat=True).get(pk=prediction_set.pk))


def prediction_scores(prediction_set: PredictionSet) -> np.ndarray | None:
    if not prediction_set.has_scores or not prediction_set.scores_file.name:  # both or neither (a constraint)
        return None
    with default_storage.open(prediction_set.scores_file.name, "rb") as stored:
        return np.load(stored, allow_pickle=False)


@contextmanager
def prediction_scores_path(prediction_set: PredictionSet) -> Iterator[str | None]:
    """A local path of the stored N×C .npy scores (None without scores), for reading memory-mapped block by
    block (`evaluation.core.metrics.compute_all_streaming`) instead of loading the matrix. A storage without
    local files (S3) is copied to a temporary file first, in chunks, removed on exit."""
    if not prediction_set.has_scores or not prediction_set.scores_file.name:
        yield None
        return
    name = prediction_set.scores_file.name
    try:
        local_path = default_storage.path(name)
    except NotImplementedError:
        local_path = ""
    if local_path and os.path.isfile(local_path):  # an in-memory storage names a path that is not on disk
        yield local_path
        return
    with tempfile.NamedTemporaryFile(suffix=".npy") as local, default_storage.open(name, "rb") as stored:
        shutil.copyfileobj(stored, local, length=1 << 22)
        local.flush()
        yield local.name


def candidate_prediction_sets(dataset: Dataset) -> QuerySet[PredictionSet]:
    return PredictionSet.objects.filter(dataset=dataset, use_for_candidates=True).order_by("pk")


SUMMARY_KEYS = (
    "metrics_version", "n_images", "n_evaluated_multilabel", "multilabel_share", "multilabel_share_ci",
    "n_multilabel", "label_count_histogram",
    "top1", "top1_ci", "top5", "top5_ci", "real_at_1", "real_at_1_ci", "real_at_5", "real_at_5_ci",
    "vtk_strict", "vtk_strict_ci", "vtk_frac", "vtk_frac_ci", "vtk_scored", "vtk_left_out", "vtk_ranking_limit",
    "asma_strict", "asma_frac", "asma_bins", "subgroup_bins", "subgroups",
    "precision_at_5", "recall_at_5", "mean_average_precision", "lrap", "top1_error_in_label_set_share",
)  # fmt: skip
HISTORY_KEYS = (
    "top1", "top5", "real_at_1", "real_at_5", "asma_strict", "precision_at_5", "recall_at_5", "mean_average_precision",
)  # fmt: skip


def _values_of(keys: tuple[str, ...]) -> dict[str, KeyTransform]:
    """Extract single keys of the JSON in the database, so the per-class lists never leave it."""
    return {f"m_{key}": KeyTransform(key, "values") for key in keys}


def _summary_of(keys: tuple[str, ...]) -> RawSQL:
    """The JSON's `keys` as one object, built in the database from a single pass over the stored JSON: each
    `values -> 'key'` would read (detoast and decompress) the whole ~60 kB value again, 30 times per row."""
    return RawSQL(
        f"(SELECT jsonb_object_agg(key, value) FROM jsonb_each({MetricSnapshot._meta.db_table}.values) "
        "WHERE key = ANY(%s))",
        (list(keys),),
        output_field=JSONField(),
    )


def latest_snapshot_summaries(dataset: Dataset, source: LabelSourceChoice) -> dict[int, dict]:
    """Prediction set id → summary metrics of its latest snapshot against `source` (one query); a key the
    snapshot lacks (computed before its metric existed) is None."""
    rows = (
        MetricSnapshot.objects.filter(prediction_set__dataset=dataset, **source.snapshot_filter())
        .order_by("prediction_set_id", "-created_at", "-id")
        .distinct("prediction_set_id")
        .values("prediction_set_id", "pool_size", "created_at", summary=_summary_of(SUMMARY_KEYS))
    )
    return {
        row["prediction_set_id"]: {
            "prediction_set_id": row["prediction_set_id"],
            "pool_size": row["pool_size"],
            "created_at": row["created_at"],
            **{key: (row["summary"] or {}).get(key) for key in SUMMARY_KEYS},
        }
        for row in rows
    }


def widest_summary(summaries: Mapping[int, dict]) -> dict | None:
    """The summary evaluated on the most images (the newest on a tie): the label source's state its multi-label
    share is read from."""
    return max(summaries.values(), key=lambda m: (m.get("n_images") or 0, m["created_at"]), default=None)


def metric_history(dataset: Dataset, source: LabelSourceChoice) -> list[dict]:
    """Every state of the label pool each of the dataset's sets was evaluated at against `source`, oldest first,
    with the charted metrics. A state evaluated again under newer metric definitions counts once, as its
    newest snapshot."""
    rows = (
        MetricSnapshot.objects.filter(prediction_set__dataset=dataset, **source.snapshot_filter())
        .order_by("prediction_set_id", "watermark", "-metrics_version", "-created_at", "-id")
        .distinct("prediction_set_id", "watermark")
        .values("prediction_set_id", "pool_size", "created_at", **_values_of(HISTORY_KEYS))
    )
    return sorted((_unprefixed(row) for row in rows), key=lambda row: row["created_at"])


def _unprefixed(row: Mapping[str, Any]) -> dict:
    return {key.removeprefix("m_"): value for key, value in row.items()}


def prediction_sets_of(dataset: Dataset) -> QuerySet[PredictionSet]:
    return PredictionSet.objects.filter(dataset=dataset).select_related("uploaded_by").order_by("name")


def latest_snapshot(prediction_set: PredictionSet, source: LabelSourceChoice) -> MetricSnapshot | None:
    return (
        MetricSnapshot.objects.filter(prediction_set=prediction_set, **source.snapshot_filter())
        .order_by("-created_at", "-id")
        .first()
    )


def class_names(dataset: Dataset) -> dict[int, tuple[str, str]]:
    """Class index → (key, name)."""
    rows = LabelClass.objects.filter(dataset=dataset).values_list("index", "key", "name")
    return {index: (key, name) for index, key, name in rows}


def images_by_id(ids: list[int]) -> dict[int, Image]:
    images = Image.objects.filter(pk__in=ids).only("id", "key", "position", "thumbnail", "dataset_id")
    return {image.pk: image for image in images}
