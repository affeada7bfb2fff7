"""What every prediction format shares: the error, the parsed result, and the checks of classes, scores and
image keys (pure Python + numpy, no Django)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt

from evaluation.core.format_errors import MAX_REPORTED, Rows, RowsError, raise_for, refuse

CLASS_FIELDS = ("top5", "topk", "classes")
SCORE_FIELD = "scores"
IMAGE_FIELD = "image"


class PredictionFormatError(RowsError):
    """An upload that cannot be used; ``rows`` are the 1-based numbers of the first offending rows."""


@dataclass(frozen=True)
class ParsedPredictions:
    """Validated predictions in dataset order: ``topk`` N×k int32; ``scores`` N×C float32 when full scores were
    given; ``topk_scores`` N×k float32 aligned with ``topk`` when any scores were given."""

    topk: np.ndarray
    scores: np.ndarray | None
    topk_scores: np.ndarray | None
    format: str


@dataclass(frozen=True)
class Context:
    """What every check of one upload needs: the dataset's image keys in order, each key's position, the number
    of classes, and how many ranked classes to keep."""

    image_keys: Sequence[str]
    image_index: dict[str, int]
    num_classes: int
    k: int


raise_rows = partial(raise_for, error=PredictionFormatError)
refuse_rows: Callable[[npt.ArrayLike, Rows, str, Callable[[int], str]], None] = partial(
    refuse, error=PredictionFormatError
)


def check_width(width: int, num_classes: int) -> None:
    if width < 1:
        raise PredictionFormatError("no classes listed: each row needs at least one class")
    if width > num_classes:
        raise PredictionFormatError(f"rows list {width} classes, but the dataset has only {num_classes}")


def check_classes(class_matrix: np.ndarray, rows: Rows, num_classes: int) -> None:
    bad = (class_matrix < 0) | (class_matrix >= num_classes)
    summary = f"class index out of range 0..{num_classes - 1}"
    refuse_rows(bad.any(axis=1), rows, summary, lambda i: f"class {class_matrix[i][bad[i]][0]}")
    ordered = np.sort(class_matrix, axis=1)
    again = ordered[:, 1:] == ordered[:, :-1]
    summary = "a class is listed twice in one row"
    refuse_rows(again.any(axis=1), rows, summary, lambda i: f"class {ordered[i, 1:][again[i]][0]}")


def check_finite(values: np.ndarray, rows: Rows) -> None:
    not_finite = ~np.isfinite(values).all(axis=1)
    refuse_rows(not_finite, rows, "scores must be finite (float32)", lambda i: "NaN or infinite score")


def dataset_positions(keys: Sequence[str], rows: Rows, context: Context) -> np.ndarray:
    """Dataset position of each row; every dataset image must appear exactly once."""
    get = context.image_index.get
    positions = np.fromiter((get(key, -1) for key in keys), dtype=np.int64, count=len(keys))
    refuse_rows(positions < 0, rows, "unknown image keys", lambda i: f"unknown image {keys[i]!r}")
    _, first_rows = np.unique(positions, return_index=True)
    first_row_of = np.empty(len(context.image_keys), dtype=np.int64)
    first_row_of[positions[first_rows]] = first_rows
    repeated = np.ones(len(keys), dtype=bool)
    repeated[first_rows] = False

    def again(i: int) -> str:
        return f"image {keys[i]!r} again (first at {rows.name(first_row_of[positions[i]])})"

    refuse_rows(repeated, rows, "duplicate rows", again)
    missing = np.flatnonzero(np.bincount(positions, minlength=len(context.image_keys)) == 0)
    if missing.size:
        names = ", ".join(repr(context.image_keys[i]) for i in missing[:MAX_REPORTED])
        more = f" and {missing.size - MAX_REPORTED} more" if missing.size > MAX_REPORTED else ""
        raise PredictionFormatError(f"missing image keys: {names}{more} ({missing.size} missing)")
    return positions
