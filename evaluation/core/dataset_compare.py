"""Two datasets that share a vocabulary, side by side (pure Python + numpy, no Django).

Dataset A (e.g. ImageNet val) and dataset B (e.g. ImageNetV2) each have prediction sets, paired by model, and a
label source each. Every figure here works on the metric summaries of `evaluation.core.metrics.compute_all`
(the latest snapshot of each set against its side's source). Gaps are always B − A.

- **Gap interval**: Newcombe's hybrid score interval for a difference of two independent proportions (his
  method 10), built from the two Wilson intervals: [d − √((b − b_low)² + (a_high − a)²),
  d + √((b_high − b)² + (a − a_low)²)] for d = b − a. None when either side has no interval (ASMA).
- **Rank correlation** of the paired models between A and B: Spearman's ρ (Pearson's r of the ranks, ties
  sharing their mean rank) and Kendall's τ-b (ties corrected); None for fewer than two models or no spread.
- **Linear fit** of B on A (least squares), for the A-against-B chart.
- **Decomposition of the gap by label count.** With w_g each side's share of images in |Y| bin g and acc_g
  the metric in that bin (`subgroups` of the summaries), a side's *binned accuracy* is Σ_g w_g·acc_g, and
      gap = Σ_g w_B,g·acc_B,g − Σ_g w_A,g·acc_A,g
          = Σ_g (w_B,g − w_A,g)·acc_A,g        (label-mix part)
          + Σ_g w_B,g·(acc_B,g − acc_A,g)     (within-bin part),
  and B's accuracy predicted from A's per-bin accuracies and B's label mix is Σ_g w_B,g·acc_A,g
  (= A's binned accuracy + the label-mix part). The binned accuracy is the metric over the images the bins
  hold: those with a non-empty label set that variable top-k scores (|Y| ≤ the stored ranking), and for top-1
  those of them with an original label — so it can differ slightly from the headline figure; both are shown.
- **A bin present on one side only.** A bin B has and A lacks has no acc_A,g: we use A's accuracy in its
  nearest non-empty bin (the lower one on a tie), and mark the bin `imputed` — B's images with more labels
  than any of A's are predicted to do as A's most-labelled images do. A bin A has and B lacks needs no
  acc_B,g (w_B,g = 0): its within-bin term is 0 and its label-mix term is −w_A,g·acc_A,g. Both parts use
  the same acc_A,g, so the identity holds exactly whatever value is imputed; the choice moves points only
  between the two parts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annotator.core.intervals import interval

Interval = Sequence[float] | None


def difference_interval(a: float, a_ci: Interval, b: float, b_ci: Interval) -> list[float] | None:
    """Newcombe's hybrid score interval of b − a from the two proportions' Wilson intervals."""
    if not a_ci or not b_ci:
        return None
    (a_low, a_high), (b_low, b_high) = a_ci, b_ci
    gap = b - a
    return [
        gap - math.sqrt((b - b_low) ** 2 + (a_high - a) ** 2),
        gap + math.sqrt((b_high - b) ** 2 + (a - a_low) ** 2),
    ]


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks 1..n in ascending order, ties sharing the mean of the ranks they span."""
    array = np.asarray(values, dtype=float)
    order = np.argsort(array, kind="stable")
    ranked = np.empty(array.size)
    position = 0
    while position < array.size:
        end = position
        while end + 1 < array.size and array[order[end + 1]] == array[order[position]]:
            end += 1
        ranked[order[position : end + 1]] = (position + end) / 2 + 1
        position = end + 1
    return ranked


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) < 2:
        return None
    rx, ry = average_ranks(xs), average_ranks(ys)
    dx, dy = rx - rx.mean(), ry - ry.mean()
    spread = math.sqrt(float(dx @ dx) * float(dy @ dy))
    return float(dx @ dy) / spread if spread else None


def kendall_tau_b(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """(concordant − discordant) / √((n0 − ties in x)(n0 − ties in y)) over all pairs; O(n²), n is a few hundred
    models at most."""
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if x.size < 2:
        return None
    upper = np.triu_indices(x.size, k=1)
    sx = np.sign(x[:, None] - x[None, :])[upper]
    sy = np.sign(y[:, None] - y[None, :])[upper]
    pairs = sx.size
    untied_x, untied_y = pairs - int(np.sum(sx == 0)), pairs - int(np.sum(sy == 0))
    if not untied_x or not untied_y:
        return None
    return float(np.sum(sx * sy)) / math.sqrt(untied_x * untied_y)


def linear_fit(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """(slope, intercept) of the least-squares line y = slope·x + intercept; None without two distinct x."""
    if len(points) < 2:
        return None
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    dx = x - x.mean()
    spread = float(dx @ dx)
    if spread < 1e-18:
        return None
    slope = float(dx @ (y - y.mean())) / spread
    return slope, float(y.mean() - slope * x.mean())


# --- the decomposition -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BinPart:
    bin: str
    n_a: int
    n_b: int
    w_a: float
    w_b: float
    acc_a: float | None  # as used (imputed when `imputed`); None when neither side has the bin
    acc_b: float | None  # None when B has no image in the bin
    imputed: bool
    label_mix: float  # (w_B − w_A)·acc_A
    within_bin: float  # w_B·(acc_B − acc_A)


@dataclass(frozen=True)
class Decomposition:
    acc_a: float  # Σ w_A·acc_A: A's binned accuracy
    acc_b: float  # Σ w_B·acc_B
    label_mix: float
    within_bin: float
    predicted_b: float  # Σ w_B·acc_A
    bins: list[BinPart] = field(default_factory=list)

    @property
    def gap(self) -> float:
        return self.acc_b - self.acc_a


def decompose(
    names: Sequence[str],
    counts_a: Sequence[int],
    acc_a: Sequence[float | None],
    counts_b: Sequence[int],
    acc_b: Sequence[float | None],
) -> Decomposition | None:
    """The gap B − A of the binned accuracy as label-mix part + within-bin part (module docstring).

    `names` are the bins, `counts_*` each side's images per bin (the denominators of `acc_*`), `acc_*` the
    metric per bin (None where a side has no image in the bin). None when a side has no image in any bin.
    """
    total_a, total_b = sum(counts_a), sum(counts_b)
    if not total_a or not total_b:
        return None
    present_a = [g for g, n in enumerate(counts_a) if n and acc_a[g] is not None]
    if not present_a:
        return None
    parts = []
    for g, name in enumerate(names):
        w_a, w_b = counts_a[g] / total_a, counts_b[g] / total_b
        own_a = acc_a[g] if counts_a[g] else None
        imputed = own_a is None and bool(counts_b[g])
        if imputed:
            nearest = min(present_a, key=lambda h: (abs(h - g), h))
            own_a = acc_a[nearest]
        b_value = acc_b[g] if counts_b[g] else None
        a_used = 0.0 if own_a is None else float(own_a)
        label_mix = (w_b - w_a) * a_used
        within = w_b * (float(b_value) - a_used) if b_value is not None else 0.0
        parts.append(BinPart(name, int(counts_a[g]), int(counts_b[g]), w_a, w_b, own_a, b_value, imputed, label_mix,
                             within))  # fmt: skip
    binned_a = sum(p.w_a * (p.acc_a or 0.0) for p in parts if p.n_a)
    binned_b = sum(p.w_b * (p.acc_b or 0.0) for p in parts if p.n_b)
    predicted = sum(p.w_b * (p.acc_a or 0.0) for p in parts if p.n_b)
    return Decomposition(
        acc_a=binned_a,
        acc_b=binned_b,
        label_mix=sum(p.label_mix for p in parts),
        within_bin=sum(p.within_bin for p in parts),
        predicted_b=predicted,
        bins=parts,
    )


# Per-bin figures of `subgroups` a gap can be decomposed for: the summary metric it bins, and its denominator.
PER_BIN = {
    "top1": ("top1", "n_with_original"),
    "real1": ("real_at_1", "images"),
    "vtk_strict": ("vtk_strict", "images"),
    "vtk_frac": ("vtk_frac", "images"),
}


def decompose_subgroups(
    subgroups_a: Sequence[dict[str, Any]], subgroups_b: Sequence[dict[str, Any]], figure: str
) -> Decomposition | None:
    """`decompose` on two summaries' `subgroups` for one per-bin figure (a key of PER_BIN); None when the bins
    differ (evaluated with other bin edges) or a side has none."""
    if figure not in PER_BIN or not subgroups_a or not subgroups_b:
        return None
    if [s["bin"] for s in subgroups_a] != [s["bin"] for s in subgroups_b]:
        return None
    denominator = PER_BIN[figure][1]
    return decompose(
        [s["bin"] for s in subgroups_a],
        [int(s.get(denominator) or 0) for s in subgroups_a],
        [s.get(figure) for s in subgroups_a],
        [int(s.get(denominator) or 0) for s in subgroups_b],
        [s.get(figure) for s in subgroups_b],
    )


# --- the label mix ---------------------------------------------------------------------------------------


def label_count_shares(histogram: Sequence[int], widest: int = 6, confidence: float = 0.95) -> list[dict[str, Any]]:
    """Share of the images with a label set (|Y| ≥ 1) per |Y| = 1, 2, …, `widest`+ with its Wilson interval;
    `histogram[n]` is the number of images with |Y| = n (index 0, the empty sets, is left out)."""
    sizes = [int(n) for n in histogram[1:]]
    sizes += [0] * (widest - len(sizes))  # both sides of a comparison get the same bins
    counts = [*sizes[: widest - 1], sum(sizes[widest - 1 :])]
    total = sum(counts)
    return [
        {
            "bin": str(i + 1) if i + 1 < widest else f"{widest}+",
            "images": n,
            "share": n / total if total else None,
            "share_ci": interval(n, total, confidence),
        }
        for i, n in enumerate(counts)
    ]
