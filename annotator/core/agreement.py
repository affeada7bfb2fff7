"""Inter-annotator agreement over flat votes (see `annotator.core.aggregation.VoteArrays`).

All statistics are vectorised (bincount / sort / pair enumeration, no loop per
vote or per item). "maybe" answers are handled per call by `maybe`:
``"drop"`` (default: treat as missing — the annotator gave no verdict),
``"no"`` / ``"yes"`` (fold into that answer) or ``"category"`` (a third
nominal value; only where the statistic is not inherently binary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from annotator.core.aggregation import MAYBE, NO, YES, VoteArrays

MaybeView = Literal["drop", "no", "yes", "category"]

# Set-valued agreement lives in its own module; re-exported here (it needs MaybeView defined first).
from annotator.core.set_agreement import LabelSets as LabelSets  # noqa: E402
from annotator.core.set_agreement import pairs_within  # noqa: E402
from annotator.core.set_agreement import set_alpha as set_alpha  # noqa: E402


def _coded(
    votes: VoteArrays, maybe: MaybeView, *, binary: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(item, annotator, code, n_codes) with maybe mapped per `maybe`; codes NO=0, YES=1[, MAYBE=2]."""
    ans = votes.answer  # int8: every use widens it with an int64 operand or compares it
    if maybe == "category":
        if binary:
            raise ValueError('this statistic is binary: use maybe="drop", "no" or "yes"')
        return votes.item, votes.annotator, ans, 3
    if maybe == "drop":
        keep = ans != MAYBE
        return votes.item[keep], votes.annotator[keep], ans[keep], 2
    if maybe in ("no", "yes"):
        return votes.item, votes.annotator, np.where(ans == MAYBE, YES if maybe == "yes" else NO, ans), 2
    raise ValueError(f"unknown maybe view {maybe!r}")


def _answer_counts(votes: VoteArrays, maybe: MaybeView) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Q, K) answer counts per question, answers per question, and P(two annotators agree) per question.

    The last is Fleiss' per-item agreement Σ n_k(n_k−1) / n(n−1), 0 where n < 2.
    """
    item, _, code, k = _coded(votes, maybe)
    counts = np.bincount(item * k + code, minlength=votes.n_items * k).reshape(-1, k).astype(np.float64)
    n = counts.sum(axis=1)
    agree = ((counts**2).sum(axis=1) - n) / np.where(n >= 2, n * (n - 1), np.inf)
    return counts, n, agree


# Krippendorff α


def krippendorff_alpha_nominal(
    item: np.ndarray, value: np.ndarray, n_values: int | None = None, *, n_items: int | None = None
) -> float:
    """Nominal Krippendorff α from (item, value) pairs; missing = absent. NaN if undefined. With `n_items`,
    items are indices 0..n_items−1 already (the unpaired ones drop out below either way), so they are not
    relabelled: the same figure without a per-pair sort."""
    item, value = np.asarray(item, np.int64), np.asarray(value, np.int64)
    k = int(value.max(initial=-1)) + 1 if n_values is None else int(n_values)
    if n_items is None:
        _, item = np.unique(item, return_inverse=True)
    size = int(item.max(initial=-1)) + 1 if n_items is None else n_items
    key = item * k
    key += value
    counts = np.bincount(key, minlength=size * k).reshape(-1, k)
    del key
    m = counts.sum(axis=1)
    c, m = counts[m >= 2].astype(np.float64), m[m >= 2]  # only pairable values count
    n, n_c = m.sum(), c.sum(axis=0)
    expected = n * n - np.sum(n_c**2)  # Σ_{a≠b} n_a n_b
    if n < 2 or expected == 0:
        return float("nan")
    # off-diagonal mass of the coincidence matrix o[a, b] = Σ_u n_ua (n_ub − [a=b]) / (m_u − 1)
    w = c / (m - 1)[:, None]
    o = w.T @ c - np.diag(w.sum(axis=0))
    return float(1.0 - (n - 1) * (o.sum() - np.trace(o)) / expected)


def binary_alpha(votes: VoteArrays, *, maybe: MaybeView = "drop") -> float:
    """Krippendorff α (nominal) over questions: do annotators agree on yes/no?"""
    item, _, code, k = _coded(votes, maybe)
    return krippendorff_alpha_nominal(item, code, k, n_items=votes.n_items)


# per class


@dataclass(frozen=True)
class ClassAgreement:
    """Per-class arrays (length n_classes)."""

    n_questions: np.ndarray  # questions with ≥ 1 counted answer
    n_votes: np.ndarray
    yes_share: np.ndarray  # share of counted answers that are yes
    positive_agreement: np.ndarray  # Σ y(y−1) / Σ y(n−1): P(2nd says yes | 1st says yes)
    negative_agreement: np.ndarray  # the same for no
    fleiss_kappa: np.ndarray  # NaN where undefined (e.g. every answer identical)
    n_original: np.ndarray  # questions where the class is the image's original label
    original_rejected: np.ndarray  # … of those, not valid in the consensus


def per_class_agreement(
    votes: VoteArrays,
    class_of_item: np.ndarray,
    *,
    n_classes: int | None = None,
    valid: np.ndarray | None = None,
    is_original: np.ndarray | None = None,
    maybe: MaybeView = "drop",
) -> ClassAgreement:
    """Agreement per label class over the questions asking about it.

    Positive/negative agreement are specific agreement (Fleiss 1971; for two
    raters 2a / (2a + b + c)). Fleiss κ allows a varying number of answers per
    question (only questions with ≥ 2 count). `valid` (Q,) consensus and
    `is_original` (Q,) flags give how often the original label was rejected.
    """
    cls_of_item = np.asarray(class_of_item, np.int64)
    n_c = int(cls_of_item.max(initial=-1)) + 1 if n_classes is None else int(n_classes)
    counts, n, agree = _answer_counts(votes, maybe)

    def per_class(x: np.ndarray) -> np.ndarray:
        return np.bincount(cls_of_item, np.asarray(x, np.float64), minlength=n_c)

    n_questions, n_votes = per_class(n > 0).astype(np.int64), per_class(n).astype(np.int64)
    y, no, two = counts[:, YES], counts[:, NO], n >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        yes_share = per_class(y) / n_votes
        pos = per_class(y * (y - 1)) / per_class(y * (n - 1))
        neg = per_class(no * (no - 1)) / per_class(no * (n - 1))
        # Fleiss κ per class: mean per-question agreement vs chance from the class's answer mix
        p_bar = per_class(agree) / per_class(two)
        cat = np.stack([per_class(counts[:, c] * two) for c in range(counts.shape[1])], axis=1)
        p_exp = np.sum((cat / cat.sum(axis=1, keepdims=True)) ** 2, axis=1)
        kappa = np.where(p_exp < 1, (p_bar - p_exp) / (1 - p_exp), np.nan)
    orig = np.zeros(len(cls_of_item), bool) if is_original is None else np.asarray(is_original, bool)
    if valid is None and orig.any():
        raise ValueError("original_rejected needs the consensus `valid`")
    rejected = orig if valid is None else orig & ~np.asarray(valid, bool)
    n_original, rejected = per_class(orig).astype(np.int64), per_class(rejected).astype(np.int64)
    return ClassAgreement(n_questions, n_votes, yes_share, pos, neg, kappa, n_original, rejected)


# per annotator


@dataclass(frozen=True)
class AnnotatorAgreement:
    """Per-annotator arrays (length n_annotators)."""

    n_votes: np.ndarray  # all answers, maybe included
    n_maybe: np.ndarray
    n_compared: np.ndarray  # counted answers on questions with a decided leave-one-out consensus
    sensitivity: np.ndarray  # P(says yes | the others' majority says yes)
    specificity: np.ndarray  # P(says no | the others' majority says no)
    kappa: np.ndarray  # Cohen κ of own answers vs the others' majority
    n_gold: np.ndarray  # counted answers on gold questions
    gold_accuracy: np.ndarray  # share of those equal to the gold answer


def per_annotator_agreement(
    votes: VoteArrays, *, gold: np.ndarray | None = None, maybe: MaybeView = "drop"
) -> AnnotatorAgreement:
    """Each annotator against the leave-one-out majority of the *other* annotators.

    The consensus for a vote is the others' yes-share on that question: yes
    above ½, no below; exact ties and questions nobody else answered are left
    out. `gold` (Q,) holds 1 yes / 0 no / −1 not gold.
    """
    a_n = votes.n_annotators
    item, ann, code, _ = _coded(votes, maybe, binary=True)
    # Integer counts, updated in place: the figures of float counts to the bit, with a third of the per-vote
    # temporaries (20 M votes make each 160 MB).
    yes = code == YES
    twice_y_q = np.bincount(item, yes, minlength=votes.n_items).astype(np.int64)[item]
    twice_y_q -= yes
    twice_y_q *= 2  # twice the others' yes
    n_q = np.bincount(item, minlength=votes.n_items)[item]
    n_q -= 1  # others' answers
    decided = n_q > 0
    decided &= twice_y_q != n_q
    cons = twice_y_q > n_q
    del twice_y_q, n_q
    # 2×2 table per annotator: own answer × consensus
    cell = ann[decided] * 4
    cell += 2 * yes[decided]
    cell += cons[decided]
    tab = np.bincount(cell, minlength=a_n * 4).reshape(a_n, 4)
    del cell, cons
    nn, ny, yn, yy = (tab[:, c].astype(np.float64) for c in range(4))  # own·consensus
    total = tab.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = yy / (yy + ny)
        spec = nn / (nn + yn)
        p_o = (yy + nn) / total
        p_e = ((yy + yn) * (yy + ny) + (nn + ny) * (nn + yn)) / total**2
        kappa = np.where(p_e < 1, (p_o - p_e) / (1 - p_e), np.nan)
    n_gold = np.zeros(a_n, np.int64)
    acc = np.full(a_n, np.nan)
    if gold is not None:
        g = np.asarray(gold, np.int64)[item]
        on = g >= 0
        n_gold = np.bincount(ann[on], minlength=a_n)
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = np.bincount(ann[on], code[on] == g[on], minlength=a_n) / n_gold
    n_maybe = np.bincount(votes.annotator, votes.answer == MAYBE, minlength=a_n).astype(np.int64)
    return AnnotatorAgreement(
        np.bincount(votes.annotator, minlength=a_n), n_maybe, total.astype(np.int64), sens, spec, kappa, n_gold, acc
    )


@dataclass(frozen=True)
class PairwiseKappa:
    """Cohen κ for annotator pairs (a < b) with enough shared questions."""

    annotator_a: np.ndarray
    annotator_b: np.ndarray
    n_shared: np.ndarray
    kappa: np.ndarray  # NaN where undefined (both constant and equal)


def pairwise_cohen_kappa(votes: VoteArrays, *, min_shared: int = 20, maybe: MaybeView = "drop") -> PairwiseKappa:
    """Cohen κ for every annotator pair answering ≥ `min_shared` common questions."""
    item, ann, code, k = _coded(votes, maybe)
    order = np.argsort(item, kind="stable")
    item, ann, code = item[order], ann[order], code[order]
    i, j = pairs_within(item)
    ordered = ann[i] < ann[j]  # each unordered pair once, smaller annotator first
    i, j = i[ordered], j[ordered]
    pairs, pair_of = np.unique(ann[i] * votes.n_annotators + ann[j], return_inverse=True)
    tab = np.bincount(pair_of * k * k + code[i] * k + code[j], minlength=len(pairs) * k * k)
    tab = tab.reshape(-1, k, k).astype(np.float64)
    n = tab.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p_o = np.trace(tab, axis1=1, axis2=2) / n
        p_e = np.sum(tab.sum(axis=2) * tab.sum(axis=1), axis=1) / n**2
        kappa = np.where(p_e < 1, (p_o - p_e) / (1 - p_e), np.nan)
    keep = n >= min_shared
    return PairwiseKappa(
        pairs[keep] // votes.n_annotators, pairs[keep] % votes.n_annotators, n[keep].astype(np.int64), kappa[keep]
    )


# per image


@dataclass(frozen=True)
class SetSizeSummary:
    n_images: int  # images with at least one question
    size_counts: np.ndarray  # size_counts[s] = images whose consensus set has s classes
    multi_label_share: float  # share of those images with ≥ 2 classes
    empty_share: float  # … with no valid class


def consensus_set_sizes(valid: np.ndarray, image_of_item: np.ndarray) -> SetSizeSummary:
    """Sizes of the consensus label sets of the images that were asked about."""
    image_of_item = np.asarray(image_of_item, np.int64)
    asked = np.bincount(image_of_item) > 0
    size = np.bincount(image_of_item, np.asarray(valid, bool), minlength=len(asked))[asked].astype(np.int64)
    if not len(size):
        return SetSizeSummary(0, np.zeros(1, np.int64), float("nan"), float("nan"))
    return SetSizeSummary(len(size), np.bincount(size), float(np.mean(size >= 2)), float(np.mean(size == 0)))


def per_image_agreement(votes: VoteArrays, *, maybe: MaybeView = "drop") -> np.ndarray:
    """(n_images,) agreement per image: mean over its questions of P(two annotators agree).

    For a question with answer counts n_k (n answers) that is Σ n_k(n_k−1) /
    n(n−1) — Fleiss' per-item agreement: 1 when unanimous, 0.4 for a 3–2
    split. Questions with < 2 counted answers are skipped; NaN if none left.
    """
    if votes.image_of_item is None:
        raise ValueError("votes need image_of_item")
    _, n, agree = _answer_counts(votes, maybe)
    img = votes.image_of_item
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(img, agree, votes.n_images) / np.bincount(img, n >= 2, votes.n_images)


def agreement_histogram(values: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) of agreement values in [0, 1] for a chart; NaN values are skipped."""
    v = np.asarray(values, np.float64)
    return np.histogram(v[~np.isnan(v)], bins=bins, range=(0.0, 1.0))


def cooccurring_pairs(
    valid: np.ndarray, image_of_item: np.ndarray, class_of_item: np.ndarray, *, top: int = 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Most frequent unordered class pairs (a < b) valid together on one image: (a, b, count)."""
    v = np.asarray(valid, bool)
    img = np.asarray(image_of_item, np.int64)[v]
    cls_ = np.asarray(class_of_item, np.int64)[v]
    n_c = int(cls_.max(initial=0)) + 1
    entry = np.unique(img * n_c + cls_)  # sorted by image, duplicates dropped
    img, cls_ = entry // n_c, entry % n_c
    i, j = pairs_within(img)
    keep = cls_[i] < cls_[j]
    pairs, count = np.unique(cls_[i][keep] * n_c + cls_[j][keep], return_counts=True)
    best = np.lexsort((pairs, -count))[:top]  # most frequent first, ties by class index
    return pairs[best] // n_c, pairs[best] % n_c, count[best]
