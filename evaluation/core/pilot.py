"""What the settled images of a pilot sample say about the whole dataset (pure numpy, no Django).

- **The sample** (`annotator.core.pilot_sample`, next to the service that draws it): n images drawn without
  replacement with numpy's PCG64 seeded by `seed`, from the images sorted by id, so the same (ids, n, mode,
  seed) always gives the same sample whatever order the ids come in. *uniform*: a simple random sample.
  *stratified*: proportional allocation over the original classes (images without an original label form one
  more stratum), largest remainder with a seeded tie-break for the rounding, then a simple random sample inside
  every stratum. Proportional allocation is close to self-weighting, so the estimates below treat both as a
  simple random sample; for proportional allocation that interval is conservative (stratifying never widens it).
- **The estimates** (`pilot_estimates`), from the settled pilot images alone, each with a 95 % interval:
  proportions (multi-label share, every |Y| bin of the histogram, the share of images whose original label is
  not in Y, every prediction set's top-1 / ReaL@1 / variable top-k) get Wilson intervals over their own
  denominator, as `evaluation.core.metrics` does for the whole pool. ASMA, an unweighted mean of bin
  accuracies, gets a delta-method interval: Var = Σ_b p̃_b(1 − p̃_b)/(n_b + z²) / B², with p̃_b the
  Agresti–Coull centre of bin b, so a bin of 3 images widens the interval as it should instead of claiming a
  variance of 0 at 3/3. (A seeded percentile bootstrap, `asma_bootstrap_interval`, is kept to compare: it
  under-covers when a bin is small, see README.) No finite-population correction: conservative.
- **More images needed** (`images_for_width`): the smallest number of images with which the interval, at the
  current estimate, is at most `width` wide; `more_needed` converts it to settled pilot images (the estimate's
  denominator is a share of the settled images, e.g. non-empty Y only) and subtracts what is settled already.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from annotator.core.intervals import wilson_interval
from evaluation.core.variable_topk import DEFAULT_BINS, VARIANTS, bin_bounds, bin_name, labels_found_at_own_size

DEFAULT_WIDTH = 0.05
_MAX_IMAGES = 10**9


def z_value(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def images_for_width(p: float, width: float, confidence: float = 0.95) -> int:
    """The smallest n whose Wilson interval at proportion p is at most `width` wide (bisection: the width
    falls as n grows)."""
    if not 0 < width < 1:
        raise ValueError("the width must lie strictly between 0 and 1")

    def wide(total: int) -> float:
        low, high = wilson_interval(p * total, total, confidence)
        return high - low

    low, high = 1, 1
    while wide(high) > width:
        low, high = high, high * 2
        if high > _MAX_IMAGES:
            return _MAX_IMAGES
    while low < high:
        middle = (low + high) // 2
        if wide(middle) <= width:
            high = middle
        else:
            low = middle + 1
    return high


def more_needed(needed_in_denominator: int, denominator: int, settled: int) -> int | None:
    """Settled pilot images still to come for the denominator to reach `needed_in_denominator`, assuming the
    denominator keeps its current share of the settled images; None when nothing can be said yet."""
    if denominator == 0 or settled == 0:
        return None
    return max(0, math.ceil(needed_in_denominator * settled / denominator) - settled)


def proportion(
    successes: float, total: int, *, settled: int, width: float = DEFAULT_WIDTH, confidence: float = 0.95
) -> dict[str, Any]:
    """A proportion with its Wilson interval and the settled images still needed for an interval `width` wide."""
    if not total:
        return {"value": None, "ci": None, "n": 0, "more_for_width": None}
    value = successes / total
    low, high = wilson_interval(successes, total, confidence)
    needed = images_for_width(value, width, confidence)
    return {"value": value, "ci": [low, high], "n": total, "more_for_width": more_needed(needed, total, settled)}


def asma_delta_interval(
    sums: np.ndarray, counts: np.ndarray, confidence: float = 0.95
) -> tuple[float, tuple[float, float]] | None:
    """ASMA over the non-empty bins and its delta-method interval (module docstring); None if all are empty."""
    present = counts > 0
    if not present.any():
        return None
    s, n = sums[present].astype(float), counts[present].astype(float)
    z = z_value(confidence)
    value = float(np.mean(s / n))
    adjusted = (s + z * z / 2) / (n + z * z)
    half = z * math.sqrt(float(np.sum(adjusted * (1 - adjusted) / (n + z * z)))) / present.sum()
    return value, (max(0.0, value - half), min(1.0, value + half))


def asma_bootstrap_interval(
    bin_of: np.ndarray, outcome: np.ndarray, n_bins: int, *, seed: int, replicates: int = 1000, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Percentile bootstrap of ASMA over resampled images (bin_of = n_bins: not scored); seeded."""
    if not (bin_of < n_bins).any():
        return None
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, bin_of.size, size=(replicates, bin_of.size))
    flat = (np.arange(replicates)[:, None] * (n_bins + 1) + bin_of[draws]).ravel()
    size = replicates * (n_bins + 1)
    counts = np.bincount(flat, minlength=size).reshape(replicates, -1)[:, :n_bins]
    sums = np.bincount(flat, weights=outcome[draws].ravel(), minlength=size).reshape(replicates, -1)[:, :n_bins]
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.nanmean(np.where(counts > 0, sums / counts, np.nan), axis=1)
    tail = (1 - confidence) / 2
    low, high = np.nanquantile(values, [tail, 1 - tail])
    return float(low), float(high)


def _width_scaled(value: float, ci: tuple[float, float], n: int, width: float, settled: int) -> int | None:
    """For an interval that narrows as 1/√n (ASMA's): the settled images still needed for `width`."""
    current = ci[1] - ci[0]
    if current <= width:
        return 0
    return more_needed(math.ceil(n * (current / width) ** 2), n, settled)


def prediction_set_estimates(
    topk: np.ndarray,
    labels: np.ndarray,
    original: np.ndarray,
    *,
    bins: Sequence[int] = DEFAULT_BINS,
    width: float = DEFAULT_WIDTH,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Top-1 against the original label, ReaL@1, variable top-k and ASMA (strict and fractional) of one
    prediction set on the settled pilot images; `topk` N×k (-1: empty slot), `labels` N×C bool."""
    settled = labels.shape[0]
    sizes = labels.sum(axis=1)
    evaluated = sizes > 0
    has_original = original >= 0
    valid = topk >= 0
    hits = labels[np.arange(settled)[:, None], np.where(valid, topk, 0)] & valid
    top1 = (topk[:, 0] == original) & has_original
    found, scored = labels_found_at_own_size(hits, sizes, evaluated)
    strict = scored & (found == sizes)
    fraction = np.divide(found, sizes, out=np.zeros(settled), where=scored)

    def share(successes: float, total: int) -> dict[str, Any]:
        return proportion(successes, total, settled=settled, width=width, confidence=confidence)

    result: dict[str, Any] = {
        "top1": share(int(top1.sum()), int(has_original.sum())),
        "real1": share(int(hits[evaluated, 0].sum()), int(evaluated.sum())),
        "vtk_strict": share(int(strict.sum()), int(scored.sum())),
        "vtk_frac": share(float(fraction.sum()), int(scored.sum())),
    }
    bounds = bin_bounds(bins)
    edges = np.array([lower for lower, _ in bounds])
    bin_of = np.where(scored, np.searchsorted(edges, sizes, side="right") - 1, len(bounds))
    counts = np.bincount(bin_of, minlength=len(bounds) + 1)[: len(bounds)]
    for variant, outcome in zip(VARIANTS, (strict.astype(float), fraction), strict=True):
        sums = np.bincount(bin_of, weights=outcome, minlength=len(bounds) + 1)[: len(bounds)]
        estimate = asma_delta_interval(sums, counts, confidence)
        if estimate is None:
            result[f"asma_{variant}"] = {"value": None, "ci": None, "n": 0, "more_for_width": None, "bins": []}
            continue
        value, ci = estimate
        result[f"asma_{variant}"] = {
            "value": value, "ci": list(ci), "n": int(scored.sum()),
            "more_for_width": _width_scaled(value, ci, int(scored.sum()), width, settled),
            "bins": [bin_name(*bounds[b]) for b in np.flatnonzero(counts)],
        }  # fmt: skip
    return result


def pilot_estimates(
    labels: np.ndarray,
    original: np.ndarray,
    prediction_sets: Mapping[str, np.ndarray] | None = None,
    *,
    bins: Sequence[int] = DEFAULT_BINS,
    width: float = DEFAULT_WIDTH,
    confidence: float = 0.95,
    max_histogram: int = 6,
) -> dict[str, Any]:
    """Everything the pilot page shows, from the settled pilot images: `labels` N×C bool (an empty row is a
    settled "no valid class"), `original` their original class indices (-1: none), `prediction_sets` name →
    N×k ranked classes. The histogram's last bin is "`max_histogram`+"."""
    if labels.ndim != 2 or labels.dtype != np.bool_ or original.shape != (labels.shape[0],):
        raise ValueError("labels must be an N×C bool matrix and original a vector of N class indices")
    settled = labels.shape[0]
    sizes = labels.sum(axis=1)
    evaluated = sizes > 0
    n_evaluated = int(evaluated.sum())
    with_original = evaluated & (original >= 0)
    original_valid = with_original & labels[np.arange(settled), np.clip(original, 0, None)]

    def share(successes: float, total: int) -> dict[str, Any]:
        return proportion(successes, total, settled=settled, width=width, confidence=confidence)

    capped = np.minimum(sizes[evaluated], max_histogram)
    histogram = np.bincount(capped, minlength=max_histogram + 1)[1:]
    return {
        "n_settled": settled,
        "n_empty": settled - n_evaluated,
        "confidence": confidence,
        "width": width,
        "multilabel_share": share(int((sizes >= 2).sum()), n_evaluated),
        "label_count_histogram": [
            {"size": f"{s}+" if s == max_histogram else str(s), **share(int(count), n_evaluated)}
            for s, count in enumerate(histogram.tolist(), start=1)
        ],
        "original_not_valid_share": share(int(with_original.sum() - original_valid.sum()), int(with_original.sum())),
        "prediction_sets": {
            name: prediction_set_estimates(
                np.asarray(topk, dtype=np.int64), labels, original, bins=bins, width=width, confidence=confidence
            )
            for name, topk in (prediction_sets or {}).items()
        },
    }
