"""Multi-label evaluation of ranked predictions against label sets (pure numpy, no Django).

Conventions used throughout:
- ``labels`` is a dense boolean N×C matrix of valid classes per image (see ``label_matrix``). Images whose
  row is empty have no valid label and are excluded from every multi-label metric, as ReaL does.
- ``topk`` is an int N×k matrix of class indices, best first. ``-1`` marks an empty slot; an image whose
  slots are all ``-1`` has no prediction and counts as wrong (excluding it would reward skipping hard
  images). Precision@k still divides by k.
- ``original`` holds each image's original single label, ``-1`` where there is none; such images are left
  out of top-k accuracy only.
- Proportions are fractions in [0, 1]; undefined values (empty denominators) are ``None``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from annotator.core.intervals import interval, ratio
from annotator.core.intervals import wilson_interval as wilson_interval  # re-exported: callers import it from here
from annotator.core.label_sets import label_count_summary
from evaluation.core.variable_topk import DEFAULT_BINS, variable_topk_measures

ScoreTransform = Literal["auto", "none", "softmax", "sigmoid"]
LabelSets = Sequence[Sequence[int]] | tuple[np.ndarray, np.ndarray]
# Bumped whenever compute_all's output changes meaning or gains figures: the periodic refresh then appends a
# snapshot of every prediction set at its current label-pool state, so no set needs uploading again.
METRICS_VERSION = 2
# compute_all key → the name it is exported under (the offline evaluator's JSON, the leaderboard's CSV).
EXPORTED_WITH_INTERVAL = (
    ("top1", "top1"), ("top5", "top5"), ("real_at_1", "real1"), ("real_at_5", "real5"),
    ("vtk_strict", "vtk_strict"), ("vtk_frac", "vtk_frac"), ("multilabel_share", "multilabel_share"),
)  # fmt: skip
EXPORTED_PLAIN = (
    ("asma_strict", "asma_strict"), ("asma_frac", "asma_frac"), ("vtk_scored", "vtk_scored"),
    ("vtk_left_out", "vtk_left_out"), ("vtk_ranking_limit", "vtk_ranking_limit"), ("subgroup_bins", "bins"),
    ("n_images", "n_images"), ("n_evaluated_multilabel", "n_evaluated"), ("n_multilabel", "n_multilabel"),
    ("label_count_histogram", "label_count_histogram"), ("k", "k"), ("precision_at_5", "precision_at_5"),
    ("recall_at_5", "recall_at_5"), ("mean_average_precision", "mean_average_precision"), ("lrap", "lrap"),
    ("top1_error_in_label_set_share", "top1_error_in_label_set_share"), ("metrics_version", "metrics_version"),
)  # fmt: skip
SHARE_KEYS = ("multilabel_share", "multilabel_share_ci", "n_multilabel", "label_count_histogram")


def label_matrix(label_sets: LabelSets, num_classes: int) -> np.ndarray:
    """Dense N×C bool matrix from a list of class-index lists or a CSR pair ``(indptr, indices)``.

    The CSR form must be a tuple of two numpy arrays; anything else is read as a list of lists.
    """
    if isinstance(label_sets, tuple) and len(label_sets) == 2 and all(isinstance(a, np.ndarray) for a in label_sets):
        indptr = np.asarray(label_sets[0], dtype=np.int64)
        indices = np.asarray(label_sets[1], dtype=np.int64)
        if indptr.ndim != 1 or indptr.size == 0 or indptr[0] != 0 or indptr[-1] != indices.size:
            raise ValueError("indptr must start at 0 and end at len(indices)")
        lengths = np.diff(indptr)
        if (lengths < 0).any():
            raise ValueError("indptr must be non-decreasing")
    else:
        lengths = np.fromiter((len(s) for s in label_sets), dtype=np.int64, count=len(label_sets))
        flat = itertools.chain.from_iterable(label_sets)
        indices = np.fromiter(flat, dtype=np.int64, count=int(lengths.sum()))
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise ValueError(f"class indices must lie in 0..{num_classes - 1}")
    matrix = np.zeros((lengths.size, num_classes), dtype=bool)
    matrix[np.repeat(np.arange(lengths.size), lengths), indices] = True
    return matrix


def topk_from_scores(scores: np.ndarray, k: int) -> np.ndarray:
    """The k highest-scoring classes per row as int32, best first; ties rank the lower class index first,
    also at the k-th place (a tie there decides which class makes the cut, and variable top-k reads it)."""
    num_classes = scores.shape[1]
    k = min(k, num_classes)
    if k < num_classes:
        chosen = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        chosen = np.broadcast_to(np.arange(num_classes), scores.shape)
    values = np.take_along_axis(scores, chosen, axis=1)
    order = np.lexsort((chosen, -values), axis=1)
    topk = np.take_along_axis(chosen, order, axis=1).astype(np.int32)
    if k < num_classes:
        # argpartition picks an arbitrary one of several classes tied at the k-th place: redo those rows.
        kth = np.take_along_axis(values, order[:, -1:], axis=1)
        tied = np.flatnonzero(np.count_nonzero(scores >= kth, axis=1) > k)
        if tied.size:
            topk[tied] = np.argsort(-scores[tied], axis=1, kind="stable")[:, :k]
    return topk


def average_precision_per_class(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-class average precision as sklearn's ``average_precision_score``; NaN for classes without positives.

    For each positive, precision is taken at its score's threshold, so tied scores count together.
    """
    num_classes = scores.shape[1]
    ap = np.full(num_classes, np.nan)
    positives_per_class = labels.sum(axis=0)
    # Column blocks: a contiguous transposed copy keeps the per-class work cache-friendly.
    block = 64
    for start in range(0, num_classes, block):
        columns = np.ascontiguousarray(scores[:, start : start + block].T)
        column_labels = np.ascontiguousarray(labels[:, start : start + block].T)
        for offset, (column, is_positive) in enumerate(zip(columns, column_labels, strict=True)):
            n_pos = int(positives_per_class[start + offset])
            if n_pos == 0:
                continue
            positive_scores = np.sort(column[is_positive])
            # Scores below every positive never enter a precision; skipping them is the main speed-up.
            contenders = column[column >= positive_scores[0]]
            bins = np.bincount(np.searchsorted(positive_scores, contenders, side="right"), minlength=n_pos + 1)
            at_or_above = np.cumsum(bins[::-1])[::-1][1:]
            positives_at_or_above = n_pos - np.searchsorted(positive_scores, positive_scores, side="left")
            ap[start + offset] = float(np.mean(positives_at_or_above / at_or_above))
    return ap


def label_ranking_average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Label-ranking AP as sklearn's ``label_ranking_average_precision_score``, over rows with ≥1 label.

    Work is O(positives × C): cheap for small label sets, the case here.
    """
    rows, classes = np.nonzero(labels)
    if rows.size == 0:
        raise ValueError("no image has a label")
    thresholds = scores[rows, classes]
    precision = np.empty(rows.size)
    chunk = max(1, 2**22 // scores.shape[1])  # bounds the temporary chunk×C matrices to a few MB
    for start in range(0, rows.size, chunk):
        chunk_rows = rows[start : start + chunk]
        at_or_above = scores[chunk_rows] >= thresholds[start : start + chunk, None]
        relevant_at_or_above = np.count_nonzero(at_or_above & labels[chunk_rows], axis=1)
        precision[start : start + chunk] = relevant_at_or_above / np.count_nonzero(at_or_above, axis=1)
    per_row_sum = np.bincount(rows, weights=precision, minlength=labels.shape[0])
    per_row_count = np.bincount(rows, minlength=labels.shape[0])
    has_labels = per_row_count > 0
    return float(np.mean(per_row_sum[has_labels] / per_row_count[has_labels]))


def set_metrics(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    """Subset accuracy, Hamming loss, micro-F1 and macro-F1 of predicted label sets (N×C bool each).

    Macro-F1 averages over classes with at least one positive, as mean AP does.
    """
    true_pos = np.count_nonzero(predicted & labels, axis=0)
    false_pos = np.count_nonzero(predicted & ~labels, axis=0)
    false_neg = np.count_nonzero(~predicted & labels, axis=0)
    has_positive = (true_pos + false_neg) > 0
    micro_denominator = 2 * true_pos.sum() + false_pos.sum() + false_neg.sum()
    per_class_f1 = 2 * true_pos[has_positive] / (2 * true_pos + false_pos + false_neg)[has_positive]
    return {
        "subset_accuracy": float(np.mean((predicted == labels).all(axis=1))),
        "hamming_loss": float(np.mean(predicted != labels)),
        "micro_f1": float(2 * true_pos.sum() / micro_denominator) if micro_denominator else None,
        "macro_f1": float(per_class_f1.mean()) if per_class_f1.size else None,
    }


def compute_all(
    topk: np.ndarray,
    original: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray | None = None,
    *,
    ks: Sequence[int] = (1, 5),
    threshold: float = 0.5,
    score_transform: ScoreTransform = "auto",
    confidence: float = 0.95,
    n_pairs: int = 20,
    bins: Sequence[int] = DEFAULT_BINS,
) -> dict[str, Any]:
    """Every metric for one prediction set, as a JSON-serialisable dict (see module docstring).

    Metrics at k are reported for each k in ``ks`` not wider than ``topk``. With ``scores`` (N×C), mean
    AP, LRAP and set metrics are added; predicted sets are {c: p_c ≥ threshold} after ``score_transform``
    ("auto": scores already in [0, 1] are used as they are, others go through a softmax). Variable top-k,
    the subgroups by |Y| (``bins``: their lower edges) and ASMA are in `evaluation.core.variable_topk`.
    """
    topk, original = _validated(topk, original, labels, scores)
    n_images, num_classes = labels.shape
    ks = sorted({k for k in ks if 1 <= k <= topk.shape[1]})
    has_original = original >= 0
    evaluated = np.asarray(labels.any(axis=1))  # asarray: numpy's stubs type any(axis=...) as possibly scalar
    set_sizes = labels.sum(axis=1)
    valid_slot = topk >= 0
    safe_topk = np.where(valid_slot, topk, 0)
    hits = labels[np.arange(n_images)[:, None], safe_topk] & valid_slot
    matches_original = (topk == original[:, None]) & has_original[:, None] & valid_slot
    n_with_original = int(has_original.sum())
    n_evaluated = int(evaluated.sum())

    result: dict[str, Any] = {
        "metrics_version": METRICS_VERSION,
        "n_images": n_images,
        "n_classes": num_classes,
        "k": int(topk.shape[1]),
        "n_with_original_label": n_with_original,
        "n_evaluated_multilabel": n_evaluated,
        "n_empty_label_sets": n_images - n_evaluated,
        "n_without_prediction": int((~valid_slot).all(axis=1).sum()),
        "confidence": confidence,
        "mean_labels_per_image": ratio(int(set_sizes.sum()), n_evaluated),
    }
    share = label_count_summary(np.bincount(set_sizes), confidence)
    result |= {key: share[key] for key in SHARE_KEYS}
    for k in ks:
        top_correct = int(matches_original[:, :k].any(axis=1).sum())
        real_correct = int(hits[evaluated, :k].any(axis=1).sum())
        hits_at_k = hits[evaluated, :k].sum(axis=1)
        result[f"top{k}"] = ratio(top_correct, n_with_original)
        result[f"top{k}_ci"] = interval(top_correct, n_with_original, confidence)
        result[f"real_at_{k}"] = ratio(real_correct, n_evaluated)
        result[f"real_at_{k}_ci"] = interval(real_correct, n_evaluated, confidence)
        result[f"precision_at_{k}"] = float(np.mean(hits_at_k / k)) if n_evaluated else None
        result[f"recall_at_{k}"] = float(np.mean(hits_at_k / set_sizes[evaluated])) if n_evaluated else None
    result.update(
        variable_topk_measures(
            hits=hits, sizes=set_sizes, evaluated=evaluated, top1_correct=matches_original[:, 0],
            has_original=has_original, labels=labels, scores=scores, bins=bins, confidence=confidence,
        )
    )  # fmt: skip
    result.update(_top1_error_analysis(topk, original, labels, hits, evaluated, n_pairs))
    result["per_class"] = _per_class(original, matches_original, hits, evaluated, num_classes)
    if scores is not None:
        score_metrics, per_class_ap = _score_metrics(scores, labels, evaluated, threshold, score_transform)
        result.update(score_metrics)
        result["per_class"]["average_precision"] = per_class_ap
    return result


def _validated(
    topk: np.ndarray, original: np.ndarray, labels: np.ndarray, scores: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Checks shapes and index ranges; duplicated classes in a row would inflate precision@k."""
    if labels.ndim != 2 or labels.dtype != np.bool_:
        raise ValueError("labels must be an N×C bool matrix (see label_matrix)")
    n_images, num_classes = labels.shape
    topk = np.asarray(topk)
    original = np.asarray(original)
    if topk.ndim != 2 or topk.shape[0] != n_images or topk.shape[1] == 0 or topk.dtype.kind not in "iu":
        raise ValueError(f"topk must be an integer matrix with {n_images} rows and at least one column")
    if original.shape != (n_images,) or original.dtype.kind not in "iu":
        raise ValueError(f"original must be an integer vector of length {n_images}")
    if topk.size and (topk.min() < -1 or topk.max() >= num_classes):
        raise ValueError(f"topk entries must lie in -1..{num_classes - 1}")
    if original.size and (original.min() < -1 or original.max() >= num_classes):
        raise ValueError(f"original labels must lie in -1..{num_classes - 1}")
    ordered = np.sort(topk, axis=1)
    if ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any():
        raise ValueError("a topk row repeats a class")
    if scores is not None and (scores.shape != labels.shape or not np.isfinite(scores).all()):
        raise ValueError(f"scores must be finite, with shape {labels.shape}")
    return topk.astype(np.int64, copy=False), original.astype(np.int64, copy=False)


def _top1_error_analysis(
    topk: np.ndarray, original: np.ndarray, labels: np.ndarray, hits: np.ndarray, evaluated: np.ndarray, n_pairs: int
) -> dict[str, Any]:
    """How many top-1 "errors" name a valid label, and the most frequent such (original, predicted) pairs."""
    errors = evaluated & (original >= 0) & (topk[:, 0] != original)
    valid_errors = errors & hits[:, 0]
    num_classes = labels.shape[1]
    pair_codes, counts = np.unique(original[valid_errors] * num_classes + topk[valid_errors, 0], return_counts=True)
    # Most frequent first; equal counts in ascending (original, predicted) order keep the table stable.
    order = np.lexsort((pair_codes, -counts))[:n_pairs]
    pairs = [
        {"original": int(code // num_classes), "predicted": int(code % num_classes), "count": int(count)}
        for code, count in zip(pair_codes[order], counts[order], strict=True)
    ]
    n_errors = int(errors.sum())
    n_valid = int(valid_errors.sum())
    return {
        "n_top1_errors": n_errors,
        "n_top1_errors_in_label_set": n_valid,
        "top1_error_in_label_set_share": ratio(n_valid, n_errors),
        "valid_error_pairs": pairs,
    }


def _per_class(
    original: np.ndarray, matches_original: np.ndarray, hits: np.ndarray, evaluated: np.ndarray, num_classes: int
) -> dict[str, list[Any]]:
    """Per-class top-1 and ReaL@1, grouping each image under its original label.

    Grouping by original label puts every image in exactly one class, so the two columns can be compared
    class by class; images without an original label are left out here.
    """
    has_original = original >= 0
    in_both = has_original & evaluated
    n_images = np.bincount(original[has_original], minlength=num_classes)
    n_evaluated = np.bincount(original[in_both], minlength=num_classes)
    top1 = np.bincount(original[has_original], weights=matches_original[has_original, 0], minlength=num_classes)
    real1 = np.bincount(original[in_both], weights=hits[in_both, 0], minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "n_images": n_images.tolist(),
            "top1": _nan_to_none(top1 / n_images),
            "n_evaluated": n_evaluated.tolist(),
            "real_at_1": _nan_to_none(real1 / n_evaluated),
        }


def _score_metrics(
    scores: np.ndarray, labels: np.ndarray, evaluated: np.ndarray, threshold: float, transform: ScoreTransform
) -> tuple[dict[str, Any], list[float | None]]:
    """Mean AP, LRAP and thresholded-set metrics over the images with a non-empty label set, and per-class AP."""
    if not evaluated.any():
        keys = ("mean_average_precision", "n_classes_with_positives", "lrap", "mean_predicted_set_size",
                "subset_accuracy", "hamming_loss", "micro_f1", "macro_f1")  # fmt: skip
        empty = dict.fromkeys(keys) | {"threshold": threshold, "score_transform": transform}
        return empty, [None] * labels.shape[1]
    scores = scores[evaluated]
    labels = labels[evaluated]
    ap = average_precision_per_class(scores, labels)
    if transform == "auto":
        transform = "none" if scores.min() >= 0 and scores.max() <= 1 else "softmax"
    probabilities = _transform(scores, transform)
    predicted = probabilities >= threshold
    metrics = {
        "mean_average_precision": float(np.nanmean(ap)) if not np.isnan(ap).all() else None,
        "n_classes_with_positives": int((~np.isnan(ap)).sum()),
        "lrap": label_ranking_average_precision(scores, labels),
        "threshold": threshold,
        "score_transform": transform,
        "mean_predicted_set_size": float(predicted.sum(axis=1).mean()),
        **set_metrics(predicted, labels),
    }
    return metrics, _nan_to_none(ap)


def _transform(scores: np.ndarray, transform: ScoreTransform) -> np.ndarray:
    if transform == "none":
        return scores
    if transform == "sigmoid":
        with np.errstate(over="ignore"):  # exp overflowing to inf still gives the right limit, 0
            squashed: np.ndarray = 1 / (1 + np.exp(-scores))
        return squashed
    if transform == "softmax":
        # Shifting by the row maximum avoids overflow; in-place steps keep one N×C temporary, not three.
        probabilities: np.ndarray = scores - scores.max(axis=1, keepdims=True)
        np.exp(probabilities, out=probabilities)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return probabilities
    raise ValueError(f"unknown score transform {transform!r}")


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values.tolist()]
