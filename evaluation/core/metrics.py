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
import os
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from annotator.core.intervals import interval, ratio
from annotator.core.intervals import wilson_interval as wilson_interval  # re-exported: callers import it from here
from annotator.core.label_sets import label_count_summary
from evaluation.core.variable_topk import DEFAULT_BINS, labels_found_at_own_size, variable_topk_measures

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
    indptr, indices = label_csr(label_sets, num_classes)
    lengths = np.diff(indptr)
    matrix = np.zeros((lengths.size, num_classes), dtype=bool)
    matrix[np.repeat(np.arange(lengths.size), lengths), indices] = True
    return matrix


def label_csr(label_sets: LabelSets, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Checked int64 CSR pair ``(indptr, indices)`` from the same inputs as `label_matrix`, never N×C."""
    if isinstance(label_sets, tuple) and len(label_sets) == 2 and all(isinstance(a, np.ndarray) for a in label_sets):
        indptr = np.asarray(label_sets[0], dtype=np.int64)
        indices = np.asarray(label_sets[1], dtype=np.int64)
        if indptr.ndim != 1 or indptr.size == 0 or indptr[0] != 0 or indptr[-1] != indices.size:
            raise ValueError("indptr must start at 0 and end at len(indices)")
        if (np.diff(indptr) < 0).any():
            raise ValueError("indptr must be non-decreasing")
    else:
        lengths = np.fromiter((len(s) for s in label_sets), dtype=np.int64, count=len(label_sets))
        flat = itertools.chain.from_iterable(label_sets)
        indices = np.fromiter(flat, dtype=np.int64, count=int(lengths.sum()))
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise ValueError(f"class indices must lie in 0..{num_classes - 1}")
    return indptr, indices


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
    per_row = label_ranking_per_row(scores, labels)
    if per_row.size == 0:
        raise ValueError("no image has a label")
    return float(np.mean(per_row))


def label_ranking_per_row(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each labelled row's mean precision over its labels, in row order; rows without a label are skipped.

    A row's value depends on that row only, so the streaming path concatenates these block by block and
    takes the same ``np.mean`` over the same array: LRAP equal to the dense one bit for bit.
    """
    rows, classes = np.nonzero(labels)
    thresholds = scores[rows, classes]
    precision = np.empty(rows.size)
    chunk = max(1, 2**22 // max(1, scores.shape[1]))  # bounds the temporary chunk×C matrices to a few MB
    for start in range(0, rows.size, chunk):
        chunk_rows = rows[start : start + chunk]
        at_or_above = scores[chunk_rows] >= thresholds[start : start + chunk, None]
        relevant_at_or_above = np.count_nonzero(at_or_above & labels[chunk_rows], axis=1)
        precision[start : start + chunk] = relevant_at_or_above / np.count_nonzero(at_or_above, axis=1)
    per_row_sum = np.bincount(rows, weights=precision, minlength=labels.shape[0])
    per_row_count = np.bincount(rows, minlength=labels.shape[0])
    has_labels = per_row_count > 0
    per_row: np.ndarray = per_row_sum[has_labels] / per_row_count[has_labels]
    return per_row


def set_counts(predicted: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """The integer counts behind `set_metrics` (per-class arrays and totals); they add up over image blocks."""
    return {
        "true_pos": np.count_nonzero(predicted & labels, axis=0),
        "false_pos": np.count_nonzero(predicted & ~labels, axis=0),
        "false_neg": np.count_nonzero(~predicted & labels, axis=0),
        "exact": int(np.count_nonzero((predicted == labels).all(axis=1))),
        "mismatched": int(np.count_nonzero(predicted != labels)),
        "predicted": int(np.count_nonzero(predicted)),
        "rows": int(labels.shape[0]),
    }


def set_metrics(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    """Subset accuracy, Hamming loss, micro-F1 and macro-F1 of predicted label sets (N×C bool each).

    Macro-F1 averages over classes with at least one positive, as mean AP does.
    """
    return set_metrics_from_counts(set_counts(predicted, labels))


def set_metrics_from_counts(counts: dict[str, Any]) -> dict[str, float | None]:
    """`set_metrics` from summed `set_counts`. Subset accuracy and Hamming loss are ratios of integer counts
    (a float64 mean of 0/1 values sums exactly, so these equal ``np.mean`` of the dense 0/1 matrix)."""
    true_pos, false_pos, false_neg = counts["true_pos"], counts["false_pos"], counts["false_neg"]
    has_positive = (true_pos + false_neg) > 0
    micro_denominator = 2 * true_pos.sum() + false_pos.sum() + false_neg.sum()
    per_class_f1 = 2 * true_pos[has_positive] / (2 * true_pos + false_pos + false_neg)[has_positive]
    rows, num_classes = counts["rows"], true_pos.size
    return {
        "subset_accuracy": counts["exact"] / rows,
        "hamming_loss": counts["mismatched"] / (rows * num_classes),
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
    `compute_all_streaming` gives the same dict, bit for bit, without the dense N×C matrices.
    """
    topk, original = _validated(topk, original, labels, scores)
    facts = _image_facts(topk, labels, scores)
    result = _assemble(
        topk, original, facts, labels.shape[1], full_ranking=scores is not None,
        ks=ks, confidence=confidence, n_pairs=n_pairs, bins=bins,
    )  # fmt: skip
    if scores is not None:
        score_metrics, per_class_ap = _score_metrics(scores, labels, facts["evaluated"], threshold, score_transform)
        result.update(score_metrics)
        result["per_class"]["average_precision"] = per_class_ap
    return result


def _image_facts(topk: np.ndarray, labels: np.ndarray, scores: np.ndarray | None) -> dict[str, np.ndarray]:
    """Per image (rows of `labels`): |Y|, Y ≠ ∅, the N×k hits and variable top-k's found/scored. Each row
    depends on that row only, so image blocks give the same values as the whole matrix."""
    evaluated = np.asarray(labels.any(axis=1))  # asarray: numpy's stubs type any(axis=...) as possibly scalar
    set_sizes = labels.sum(axis=1)
    valid_slot = topk >= 0
    safe_topk = np.where(valid_slot, topk, 0)
    hits = labels[np.arange(labels.shape[0])[:, None], safe_topk] & valid_slot
    found, scored = labels_found_at_own_size(hits, set_sizes, evaluated, labels=labels, scores=scores)
    return {"evaluated": evaluated, "set_sizes": set_sizes, "hits": hits, "found": found, "scored": scored}


def _assemble(
    topk: np.ndarray,
    original: np.ndarray,
    facts: dict[str, np.ndarray],
    num_classes: int,
    *,
    full_ranking: bool,
    ks: Sequence[int],
    confidence: float,
    n_pairs: int,
    bins: Sequence[int],
) -> dict[str, Any]:
    """Every figure that needs no scores, from the per-image facts (O(N·k), never N×C)."""
    evaluated, set_sizes, hits = facts["evaluated"], facts["set_sizes"], facts["hits"]
    n_images = topk.shape[0]
    ks = sorted({k for k in ks if 1 <= k <= topk.shape[1]})
    has_original = original >= 0
    valid_slot = topk >= 0
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
            has_original=has_original, bins=bins, confidence=confidence,
            found_scored=(facts["found"], facts["scored"]), full_ranking=full_ranking,
        )
    )  # fmt: skip
    result.update(_top1_error_analysis(topk, original, num_classes, hits, evaluated, n_pairs))
    result["per_class"] = _per_class(original, matches_original, hits, evaluated, num_classes)
    return result


ScoreSource = np.ndarray | str | os.PathLike[str]


def compute_all_streaming(
    topk: np.ndarray,
    original: np.ndarray,
    label_sets: LabelSets,
    num_classes: int,
    scores: ScoreSource | None = None,
    *,
    block_rows: int = 20_000,
    column_block: int = 128,
    ks: Sequence[int] = (1, 5),
    threshold: float = 0.5,
    score_transform: ScoreTransform = "auto",
    confidence: float = 0.95,
    n_pairs: int = 20,
    bins: Sequence[int] = DEFAULT_BINS,
) -> dict[str, Any]:
    """`compute_all` by image blocks: the same dict, equal bit for bit, without any N×C matrix.

    ``label_sets`` as `label_matrix` takes them (CSR or lists); ``scores`` an N×C array (a memory-mapped one
    is read block by block) or the path of a .npy file, opened memory-mapped for each block and unmapped after
    it, so the pages read do not stay in the process. Peak memory is O(N·k + block_rows·C + N·column_block).

    Why equal: every per-image value (hits, |Y|, variable top-k's found, LRAP's per-image precision) depends
    on its own row only; they are concatenated in image order and reduced by the same code as the dense path
    (`_assemble`, the same ``np.mean`` over the same arrays), so float sums see the same numbers in the same
    order. Set metrics are integer counts added over blocks. Per-class AP takes a block of columns at a time,
    each column complete over the images, through the same `average_precision_per_class`.
    """
    if block_rows < 1 or column_block < 1:
        raise ValueError("block sizes must be positive")
    indptr, indices = label_csr(label_sets, num_classes)
    n_images = indptr.size - 1
    topk, original = _validated_ranking(topk, original, n_images, num_classes)
    if scores is not None:
        _score_rows(scores, 0, 0, (n_images, num_classes))  # checks the shape before any work
    blocks = [(start, min(start + block_rows, n_images)) for start in range(0, n_images, block_rows)]
    parts: list[dict[str, np.ndarray]] = []
    lrap_parts: list[np.ndarray] = []
    low, high = np.inf, -np.inf
    for start, stop in blocks:
        labels = _label_rows(indptr, indices, start, stop, num_classes)
        block_scores = None if scores is None else _score_rows(scores, start, stop, (n_images, num_classes))
        parts.append(_image_facts(topk[start:stop], labels, block_scores))
        evaluated_here = parts[-1]["evaluated"]
        if block_scores is not None and evaluated_here.any():
            kept = block_scores[evaluated_here]
            low, high = min(low, float(kept.min())), max(high, float(kept.max()))
            lrap_parts.append(label_ranking_per_row(kept, labels[evaluated_here]))
    keys = ("evaluated", "set_sizes", "hits", "found", "scored")
    empty = _image_facts(topk[:0], np.zeros((0, num_classes), dtype=bool), None)
    facts = {key: np.concatenate([empty[key], *(part[key] for part in parts)]) for key in keys}
    result = _assemble(
        topk, original, facts, num_classes, full_ranking=scores is not None,
        ks=ks, confidence=confidence, n_pairs=n_pairs, bins=bins,
    )  # fmt: skip
    if scores is None:
        return result
    evaluated = facts["evaluated"]
    if not evaluated.any():
        result.update(_empty_score_metrics(threshold, score_transform))
        result["per_class"]["average_precision"] = [None] * num_classes
        return result
    if score_transform == "auto":
        score_transform = "none" if low >= 0 and high <= 1 else "softmax"
    counts: dict[str, Any] | None = None
    for start, stop in blocks:
        here = evaluated[start:stop]
        block_scores = _score_rows(scores, start, stop, (n_images, num_classes))[here]
        predicted = _transform(block_scores, score_transform) >= threshold
        added = set_counts(predicted, _label_rows(indptr, indices, start, stop, num_classes)[here])
        counts = added if counts is None else {key: counts[key] + added[key] for key in counts}
    assert counts is not None  # evaluated.any() above
    ap = _average_precision_by_columns(scores, indptr, indices, evaluated, blocks, num_classes, column_block)
    result.update(_score_summary(ap, float(np.mean(np.concatenate(lrap_parts))), threshold, score_transform))
    result["mean_predicted_set_size"] = counts["predicted"] / counts["rows"]
    result.update(set_metrics_from_counts(counts))
    result["per_class"]["average_precision"] = _nan_to_none(ap)
    return result


def _label_rows(indptr: np.ndarray, indices: np.ndarray, start: int, stop: int, num_classes: int) -> np.ndarray:
    """Dense bool rows start..stop of a checked CSR label pool."""
    lengths = np.diff(indptr[start : stop + 1])
    block = np.zeros((stop - start, num_classes), dtype=bool)
    block[np.repeat(np.arange(stop - start), lengths), indices[indptr[start] : indptr[stop]]] = True
    return block


def _score_rows(
    scores: ScoreSource, start: int, stop: int, shape: tuple[int, int], columns: slice = slice(None)
) -> np.ndarray:
    """Rows start..stop (and `columns`) of the scores as an in-memory array, checked finite.

    A path is opened memory-mapped for this block only; dropping the map afterwards returns its pages,
    so the process's resident memory does not grow with the file.
    """
    mapped = scores if isinstance(scores, np.ndarray) else np.load(scores, mmap_mode="r", allow_pickle=False)
    if mapped.shape != shape:
        raise ValueError(f"scores must be finite, with shape {shape}")
    block = np.array(mapped[start:stop, columns])
    del mapped
    if not np.isfinite(block).all():
        raise ValueError(f"scores must be finite, with shape {shape}")
    return block


def _average_precision_by_columns(
    scores: ScoreSource,
    indptr: np.ndarray,
    indices: np.ndarray,
    evaluated: np.ndarray,
    blocks: list[tuple[int, int]],
    num_classes: int,
    column_block: int,
) -> np.ndarray:
    """Per-class AP over the evaluated images, `column_block` classes at a time (N×column_block in memory)."""
    n_kept = int(evaluated.sum())
    position = np.cumsum(evaluated) - 1  # row → its place among the evaluated rows
    entry_rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    ap = np.full(num_classes, np.nan)
    for first in range(0, num_classes, column_block):
        last = min(first + column_block, num_classes)
        column_scores: np.ndarray | None = None
        filled = 0
        for start, stop in blocks:
            part = _score_rows(scores, start, stop, evaluated.shape + (num_classes,), slice(first, last))
            part = part[evaluated[start:stop]]
            if column_scores is None:
                column_scores = np.empty((n_kept, last - first), dtype=part.dtype)
            column_scores[filled : filled + part.shape[0]] = part
            filled += part.shape[0]
        in_columns = (indices >= first) & (indices < last) & evaluated[entry_rows]
        column_labels = np.zeros((n_kept, last - first), dtype=bool)
        column_labels[position[entry_rows[in_columns]], indices[in_columns] - first] = True
        assert column_scores is not None
        ap[first:last] = average_precision_per_class(column_scores, column_labels)
    return ap


def _validated(
    topk: np.ndarray, original: np.ndarray, labels: np.ndarray, scores: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Checks shapes and index ranges; duplicated classes in a row would inflate precision@k."""
    if labels.ndim != 2 or labels.dtype != np.bool_:
        raise ValueError("labels must be an N×C bool matrix (see label_matrix)")
    if scores is not None and (scores.shape != labels.shape or not np.isfinite(scores).all()):
        raise ValueError(f"scores must be finite, with shape {labels.shape}")
    return _validated_ranking(topk, original, *labels.shape)


def _validated_ranking(
    topk: np.ndarray, original: np.ndarray, n_images: int, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
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
    return topk.astype(np.int64, copy=False), original.astype(np.int64, copy=False)


def _top1_error_analysis(
    topk: np.ndarray, original: np.ndarray, num_classes: int, hits: np.ndarray, evaluated: np.ndarray, n_pairs: int
) -> dict[str, Any]:
    """How many top-1 "errors" name a valid label, and the most frequent such (original, predicted) pairs."""
    errors = evaluated & (original >= 0) & (topk[:, 0] != original)
    valid_errors = errors & hits[:, 0]
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
        return _empty_score_metrics(threshold, transform), [None] * labels.shape[1]
    scores = scores[evaluated]
    labels = labels[evaluated]
    ap = average_precision_per_class(scores, labels)
    if transform == "auto":
        transform = "none" if scores.min() >= 0 and scores.max() <= 1 else "softmax"
    probabilities = _transform(scores, transform)
    predicted = probabilities >= threshold
    metrics = {
        **_score_summary(ap, label_ranking_average_precision(scores, labels), threshold, transform),
        "mean_predicted_set_size": float(predicted.sum(axis=1).mean()),
        **set_metrics(predicted, labels),
    }
    return metrics, _nan_to_none(ap)


def _score_summary(ap: np.ndarray, lrap: float, threshold: float, transform: ScoreTransform) -> dict[str, Any]:
    return {
        "mean_average_precision": float(np.nanmean(ap)) if not np.isnan(ap).all() else None,
        "n_classes_with_positives": int((~np.isnan(ap)).sum()),
        "lrap": lrap,
        "threshold": threshold,
        "score_transform": transform,
    }


def _empty_score_metrics(threshold: float, transform: ScoreTransform) -> dict[str, Any]:
    keys = ("mean_average_precision", "n_classes_with_positives", "lrap", "mean_predicted_set_size",
            "subset_accuracy", "hamming_loss", "micro_f1", "macro_f1")  # fmt: skip
    return dict.fromkeys(keys) | {"threshold": threshold, "score_transform": transform}


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
