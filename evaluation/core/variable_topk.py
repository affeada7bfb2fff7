"""The measures of the paper behind ReLabel (Anzaku et al., arXiv 2412.18409), as ReLabel reads them.

Pure numpy, no Django; `evaluation.core.metrics.compute_all` adds them to every evaluation. *Y* is an image's
label set and *P* the model's ranking. Images with an empty *Y* are left out, as for ReaL.

- **Variable top-k**: each image gets as many guesses as it has valid labels, k = |Y|. Strict:
  1[Y ⊆ P[:|Y|]]; fractional: |P[:|Y|] ∩ Y| / |Y|.
- An image whose |Y| is larger than the stored ranking (a top-5 file, six valid classes) cannot be scored:
  it is left out of variable top-k and counted (`vtk_left_out`). With a full score matrix the ranking goes
  on in score order, so nothing is left out. Ties in scores rank the lower class index first, as
  `evaluation.core.metrics.topk_from_scores` does; an empty slot (-1) is a miss.
- **Subgroups by |Y|**: `bins` are the lower edges of the bins, the last one open-ended: (1, 2, 3, 4) gives
  {1}, {2}, {3}, {4+}. Every figure of a bin is over the same images, the scored images whose |Y| falls in
  it, so with a top-5 file "4+" holds the images with 4 or 5 valid labels.
- **ASMA** (Aggregate Subgroup Model Accuracy): the unweighted mean over the non-empty bins of the bin's
  variable top-k accuracy, strict or fractional. No source we hold gives its formula: this is our reading.
- **Multi-label share**: the share of images with a non-empty Y that have |Y| ≥ 2, with its Wilson interval,
  and the histogram of |Y| (`annotator.core.label_sets`, since the agreement dashboard shows it too).

The bins and the variant are parameters, recorded with every result, not constants buried here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from annotator.core.intervals import interval, ratio

Variant = Literal["strict", "frac"]
VARIANTS: tuple[Variant, ...] = ("strict", "frac")
# Strict by default: it asks the paper's question (are *all* the valid labels ranked at the top?) and is a
# 0/1 outcome per image, so its intervals are proper binomial ones; fractional is shown beside it.
DEFAULT_VARIANT: Variant = "strict"
DEFAULT_BINS: tuple[int, ...] = (1, 2, 3, 4)


def checked_bins(bins: Sequence[int]) -> tuple[int, ...]:
    """The bins' lower edges as a tuple, refusing anything but increasing integers that start at 1."""
    edges = tuple(int(edge) for edge in bins)
    if not edges or edges[0] != 1 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError("bins are the increasing lower edges of the |Y| bins, starting at 1, e.g. 1,2,3,4")
    return edges


def bin_bounds(bins: Sequence[int]) -> list[tuple[int, int | None]]:
    """(lower, upper) |Y| of each bin, inclusive; the last bin's upper is None (open)."""
    edges = checked_bins(bins)
    return [(lower, upper - 1) for lower, upper in zip(edges, edges[1:], strict=False)] + [(edges[-1], None)]


def bin_name(lower: int, upper: int | None) -> str:
    """ "1", "2-3" or "4+"."""
    if upper is None:
        return f"{lower}+"
    return str(lower) if upper == lower else f"{lower}-{upper}"


def labels_found_at_own_size(
    hits: np.ndarray,
    sizes: np.ndarray,
    evaluated: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    scores: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per image |P[:|Y|] ∩ Y| and whether the image is scored at all.

    `hits` is the N×k bool matrix "slot j of the ranking is a valid label" (empty slots False), `sizes` |Y|
    per image and `evaluated` the images with a non-empty Y. With `scores` (N×C, and `labels` N×C), images
    whose |Y| exceeds k are ranked on by their scores; without, they are not scored.
    """
    n_images, width = hits.shape
    cumulative = np.cumsum(hits, axis=1, dtype=np.int32)
    within = evaluated & (sizes <= width)
    last_slot = np.clip(sizes, 1, width) - 1
    found = np.where(within, np.take_along_axis(cumulative, last_slot[:, None], axis=1)[:, 0], 0).astype(np.int64)
    scored = within.copy()
    beyond = np.flatnonzero(evaluated & (sizes > width))
    if scores is not None and labels is not None and beyond.size:
        need = int(sizes[beyond].max())
        # Few images have more valid labels than the stored ranking: a full stable sort of those rows is cheap
        # and breaks ties by the lower class index.
        ranking = np.argsort(-scores[beyond], axis=1, kind="stable")[:, :need]
        beyond_hits = np.cumsum(np.take_along_axis(labels[beyond], ranking, axis=1), axis=1)
        found[beyond] = beyond_hits[np.arange(beyond.size), sizes[beyond] - 1]
        scored[beyond] = True
    return found, scored


def variable_topk_measures(
    *,
    hits: np.ndarray,
    sizes: np.ndarray,
    evaluated: np.ndarray,
    top1_correct: np.ndarray,
    has_original: np.ndarray,
    labels: np.ndarray | None = None,
    scores: np.ndarray | None = None,
    bins: Sequence[int] = DEFAULT_BINS,
    confidence: float = 0.95,
    found_scored: tuple[np.ndarray, np.ndarray] | None = None,
    full_ranking: bool | None = None,
) -> dict[str, Any]:
    """Variable top-k (strict, fractional), the subgroups by |Y| and ASMA, as a JSON-serialisable dict.

    `top1_correct` says per image whether the first prediction is the original label, `has_original` which
    images have one; `hits` column 0 is ReaL@1's outcome. See the module docstring for the definitions.
    `found_scored` is `labels_found_at_own_size`'s result when the caller computed it already (block by block,
    without N×C matrices); `full_ranking` then says whether a full score matrix ranked on past k.
    """
    bounds = bin_bounds(bins)
    if found_scored is None:
        found_scored = labels_found_at_own_size(hits, sizes, evaluated, labels=labels, scores=scores)
    found, scored = found_scored
    full = scores is not None if full_ranking is None else full_ranking
    n_scored = int(scored.sum())
    strict = scored & (found == sizes)
    fraction = np.divide(found, sizes, out=np.zeros(sizes.size), where=scored)
    strict_sum, fraction_sum = int(strict.sum()), float(fraction.sum())
    result: dict[str, Any] = {
        "vtk_scored": n_scored,
        "vtk_left_out": int(evaluated.sum()) - n_scored,
        "vtk_ranking_limit": None if full else int(hits.shape[1]),
        "vtk_strict": ratio(strict_sum, n_scored),
        "vtk_strict_ci": interval(strict_sum, n_scored, confidence),
        "vtk_frac": ratio(fraction_sum, n_scored),
        "vtk_frac_ci": interval(fraction_sum, n_scored, confidence),
        "subgroup_bins": [lower for lower, _ in bounds],
    }
    edges = np.array([lower for lower, _ in bounds])
    bin_of = np.where(scored, np.searchsorted(edges, sizes, side="right") - 1, len(bounds))
    per_bin = len(bounds) + 1  # the last slot collects the images outside every bin, then is dropped

    def count(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(bin_of, weights=weights, minlength=per_bin)[: len(bounds)]

    images, with_original = count(), count(has_original)
    top1, real1 = count(top1_correct & has_original), count(hits[:, 0])
    strict_in, fraction_in = count(strict), count(fraction)
    subgroups = []
    for b, (lower, upper) in enumerate(bounds):
        n, m = int(images[b]), int(with_original[b])
        subgroups.append({
            "bin": bin_name(lower, upper), "lower": lower, "upper": upper, "images": n, "n_with_original": m,
            "top1": ratio(int(top1[b]), m), "top1_ci": interval(int(top1[b]), m, confidence),
            "real1": ratio(int(real1[b]), n), "real1_ci": interval(int(real1[b]), n, confidence),
            "vtk_strict": ratio(int(strict_in[b]), n), "vtk_strict_ci": interval(int(strict_in[b]), n, confidence),
            "vtk_frac": ratio(float(fraction_in[b]), n), "vtk_frac_ci": interval(float(fraction_in[b]), n, confidence),
        })  # fmt: skip
    result["subgroups"] = subgroups
    for variant in VARIANTS:
        result[f"asma_{variant}"] = asma(subgroups, variant)
    result["asma_bins"] = [s["bin"] for s in subgroups if s["images"]]
    return result


def asma(subgroups: Sequence[dict[str, Any]], variant: Variant = DEFAULT_VARIANT) -> float | None:
    """Unweighted mean over the non-empty subgroups of their variable top-k accuracy; None if all are empty."""
    values = [s[f"vtk_{variant}"] for s in subgroups if s["images"]]
    return float(np.mean(values)) if values else None
