"""How likely an image's label set differs from its original label, from the models alone (pure numpy).

**The score** (`model_score`), from M registered prediction sets' rankings and the original label:

    score = mean over the models of (r − 1) / k        (0 … 1, "original_rank_penalty")

with r the original label's rank in that model's top-k, and r − 1 = k when it is not in the top-k (or the
image has no original label). It is 0 for an image every model calls its original class at rank 1 and 1 when
no model ranks the original class at all. The original label far down marks an image whose original label may
not be valid, or that holds another object the models see first.

We also measured disagreement among the models' top-1s (1 − share of models agreeing with the most common
top-1), alone and added to the penalty with weights 0.25 … 1 and as a tie-break: on ImageNet val with ReaL
and the three shipped models every mix scored a lower AUROC than the penalty alone, for both questions
(README, "Model-guided order"), so the score is the penalty alone; `score_parts` keeps both for the benchmark.
With full score matrices the mass beyond the top class would be a further part; the shipped models are top-5
files, so it is not used.

**Model-guided order** sorts by the score, highest first, ties by position (`guided_order`).

**Model-only multi-label share** (`calibrated_share`): the images are cut into strata by score (quantiles over
the whole dataset); human-settled images give each stratum's multi-label rate and non-empty rate, and the
estimate is the ratio Σ_h W_h m_h / Σ_h W_h e_h with W_h the stratum's share of *all* images — post-
stratification, so the models decide the weights and humans the rates. Its interval is the linearised
(delta-method) variance of a ratio estimator, stratum by stratum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from annotator.core.intervals import wilson_interval
from evaluation.core.pilot import z_value


def score_parts(rankings: Sequence[np.ndarray], original: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(disagreement, original_rank_penalty) per image; `rankings` M arrays N×k (-1: empty slot)."""
    if not rankings:
        raise ValueError("at least one prediction set is needed")
    original = np.asarray(original, dtype=np.int64)
    n_images = original.size
    top1 = np.stack([np.asarray(r)[:, 0] for r in rankings], axis=1)
    if top1.shape[0] != n_images:
        raise ValueError("every ranking needs one row per image")
    models = top1.shape[1]
    agreeing = (top1[:, :, None] == top1[:, None, :]) & (top1[:, :, None] >= 0)
    disagreement = 1 - agreeing.sum(axis=2).max(axis=1) / models
    penalties = []
    for ranking in rankings:
        ranking = np.asarray(ranking)
        k = ranking.shape[1]
        at = (ranking == original[:, None]) & (original[:, None] >= 0)
        rank = np.where(at.any(axis=1), at.argmax(axis=1), k)
        penalties.append(rank / k)
    return disagreement.astype(float), np.mean(penalties, axis=0)


def model_score(rankings: Sequence[np.ndarray], original: np.ndarray) -> np.ndarray:
    """The score per image (module docstring): the mean rank penalty of the original label."""
    return score_parts(rankings, original)[1]


def guided_order(score: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Indices in model-guided order: highest score first, then by position."""
    return np.lexsort((position, -score))


def auroc(score: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann–Whitney U with mid-ranks for ties); None without both classes."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return None
    order = np.argsort(score, kind="stable")
    ordered = np.asarray(score)[order]
    ranks = np.empty(score.size)
    _, first, counts = np.unique(ordered, return_index=True, return_counts=True)
    mid = first + (counts + 1) / 2  # mid-rank of every run of tied scores (ranks from 1)
    ranks[order] = np.repeat(mid, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def images_to_find(order: np.ndarray, positive: np.ndarray, shares: Sequence[float] = (0.5, 0.8)) -> dict[str, int]:
    """How many images must be labelled in `order` to meet the given shares of the positives."""
    found = np.cumsum(np.asarray(positive, dtype=bool)[order])
    total = int(found[-1]) if found.size else 0
    return {f"{share:g}": int(np.searchsorted(found, math.ceil(share * total)) + 1) for share in shares}


def score_strata(score: np.ndarray, strata: int = 10) -> np.ndarray:
    """Stratum index per image by score quantiles over all images (ties keep a level in one stratum)."""
    edges = np.unique(np.quantile(score, np.linspace(0, 1, strata + 1)[1:-1]))
    return np.searchsorted(edges, score, side="right")


def calibrated_share(
    stratum: np.ndarray,
    labelled: np.ndarray,
    multilabel: np.ndarray,
    nonempty: np.ndarray,
    *,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """The post-stratified multi-label share (module docstring). `stratum` per image of the dataset;
    `labelled` which images humans have settled; `multilabel` / `nonempty` their outcome (read only where
    labelled). Strata without a labelled image are merged into their neighbour by score."""
    stratum = np.asarray(stratum)
    labelled = np.asarray(labelled, dtype=bool)
    if not labelled.any():
        return {"value": None, "ci": None, "n_labelled": 0, "strata": 0}
    present = np.unique(stratum[labelled])
    merged = present[np.clip(np.searchsorted(present, stratum), 0, present.size - 1)]
    weights, numerators, denominators, variances = [], [], [], []
    for h in present:
        in_h = merged == h
        human = in_h & labelled
        m, e = multilabel[human].astype(float), nonempty[human].astype(float)
        weights.append(in_h.mean())
        numerators.append(m.mean())
        denominators.append(e.mean())
        variances.append((m, e))
    w = np.array(weights)
    denominator = float(np.dot(w, denominators))
    if denominator == 0:
        return {"value": None, "ci": None, "n_labelled": int(labelled.sum()), "strata": int(present.size)}
    value = float(np.dot(w, numerators)) / denominator
    variance = 0.0
    for weight, (m, e) in zip(w, variances, strict=True):
        residual = m - value * e
        # a stratum of one image has no sample variance: count it as the largest a 0/1 residual can have
        spread = float(np.var(residual, ddof=1)) if m.size > 1 else 0.25
        variance += weight**2 * max(spread, 0.25 / (m.size + 1)) / m.size
    half = z_value(confidence) * math.sqrt(variance) / denominator
    return {
        "value": value,
        "ci": [max(0.0, value - half), min(1.0, value + half)],
        "n_labelled": int(labelled.sum()),
        "strata": int(present.size),
    }


def plain_share(multilabel: np.ndarray, nonempty: np.ndarray, confidence: float = 0.95) -> dict[str, Any]:
    """The multi-label share of labelled images alone, with its Wilson interval (to compare with the above)."""
    n = int(np.sum(nonempty))
    k = int(np.sum(multilabel))
    return {"value": k / n if n else None, "ci": list(wilson_interval(k, n, confidence)) if n else None, "n": n}
