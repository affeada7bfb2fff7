"""NumPy formats: `.npy` (class indices or scores) and `.npz` (named arrays) (pure numpy, no Django)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from evaluation.core.format_errors import Rows
from evaluation.core.metrics import topk_from_scores
from evaluation.core.prediction_formats.common import (
    CLASS_FIELDS,
    Context,
    ParsedPredictions,
    PredictionFormatError,
    check_classes,
    check_finite,
    check_width,
    dataset_positions,
    refuse_rows,
)

NPZ_SCORE_NAMES = ("scores", "logits")
NPZ_KEY_NAMES = ("images", "keys")


def load_arrays(raw: bytes, fmt: str, context: Context) -> dict[str, np.ndarray]:
    try:
        if fmt == "npy":
            return {"": np.load(io.BytesIO(raw), allow_pickle=False)}
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            # The caller limits the compressed size only; refuse archives that would unpack far beyond
            # float64 scores plus int64 rankings plus keys for this dataset (zip bombs).
            limit = len(context.image_keys) * (16 * context.num_classes + 1024) + 2**20
            if sum(info.file_size for info in archive.zip.infolist()) > limit:
                raise PredictionFormatError(f"the .npz unpacks to more than {limit} bytes, too large for this dataset")
            return {name: archive[name] for name in archive.files}
    except PredictionFormatError:
        raise
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise PredictionFormatError("object (pickled) arrays are refused; save plain numeric arrays") from None
        raise PredictionFormatError(f"not a valid .{fmt} file: {error}") from None
    except Exception as error:
        # np.load raises many unrelated types (zip, EOF, tokenize errors) on corrupt input.
        raise PredictionFormatError(f"not a valid .{fmt} file: {error}") from None


def assemble_arrays(arrays: dict[str, np.ndarray], context: Context, fmt: str) -> ParsedPredictions:
    classes: np.ndarray | None
    scores: np.ndarray | None
    keys: np.ndarray | None
    if fmt == "npy":
        single = arrays[""]
        classes, scores, keys = (single, None, None) if single.dtype.kind in "iu" else (None, single, None)
    else:
        accepted = (*CLASS_FIELDS, *NPZ_SCORE_NAMES, *NPZ_KEY_NAMES)
        unknown = sorted(set(arrays) - set(accepted))
        if unknown:
            raise PredictionFormatError(f"unknown array(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}")
        classes, scores, keys = (_one_of(arrays, names) for names in (CLASS_FIELDS, NPZ_SCORE_NAMES, NPZ_KEY_NAMES))
        if classes is None and scores is None:
            raise PredictionFormatError(f"the .npz holds neither class indices ({', '.join(CLASS_FIELDS)}) nor scores")
    n_images = len(context.image_keys)
    rows = Rows.counted(n_images)
    for array in (classes, scores):
        if array is not None and (array.ndim != 2 or array.shape[0] != n_images):
            raise PredictionFormatError(f"expected a 2-D array with {n_images} rows (one per image), got {array.shape}")
    if scores is not None:
        if scores.dtype.kind not in "fiu" or scores.shape[1] != context.num_classes:
            raise PredictionFormatError(
                f"scores must be numeric with {context.num_classes} columns (class indices must be integers), "
                f"got {scores.dtype} {scores.shape}"
            )
        with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused as not finite just below
            scores = np.ascontiguousarray(scores, dtype=np.float32)
        check_finite(scores, rows)
    if classes is not None:
        if classes.dtype.kind not in "iu":
            raise PredictionFormatError(f"class indices must be integers, got {classes.dtype}")
        check_width(classes.shape[1], context.num_classes)
        check_classes(classes, rows, context.num_classes)
        if scores is not None:
            _check_agreement(classes, scores)
        classes = classes[:, : context.k].astype(np.int32)
    else:
        assert scores is not None  # refused above when the file holds neither
        classes = topk_from_scores(scores, context.k)
    if keys is not None:
        positions = dataset_positions(_key_strings(keys, n_images), rows, context)
        order = np.argsort(positions)
        classes = classes[order]
        scores = scores[order] if scores is not None else None
    topk_scores = np.take_along_axis(scores, classes, axis=1) if scores is not None else None
    return ParsedPredictions(topk=classes, scores=scores, topk_scores=topk_scores, format=fmt)


def _one_of(arrays: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray | None:
    present = [name for name in names if name in arrays]
    if len(present) > 1:
        raise PredictionFormatError(f"give only one of the arrays {', '.join(present)}")
    return arrays[present[0]] if present else None


def _key_strings(keys: np.ndarray, n_images: int) -> list[str]:
    if keys.ndim != 1 or keys.shape[0] != n_images or keys.dtype.kind not in "US":
        raise PredictionFormatError(f"image keys must be {n_images} strings, got {keys.dtype} {keys.shape}")
    if keys.dtype.kind == "S":
        try:
            return [key.decode("utf-8") for key in keys.tolist()]
        except UnicodeDecodeError:
            raise PredictionFormatError("image keys must be UTF-8") from None
    strings: list[str] = keys.tolist()
    return strings


def _check_agreement(classes: np.ndarray, scores: np.ndarray) -> None:
    """Given classes must be the score ranking's head; a mismatch means the arrays were not saved together."""
    ranked = np.take_along_axis(scores, classes, axis=1)
    wrong = (ranked[:, 0] < scores.max(axis=1)) | (np.diff(ranked, axis=1) > 0).any(axis=1)
    summary = "class indices disagree with scores"
    refuse_rows(wrong, Rows.counted(len(classes)), summary, lambda i: "classes are not ranked by score")
