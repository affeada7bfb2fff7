"""Inter-annotator agreement over flat votes (see `annotator.aggregation.VoteArrays`).

All statistics are vectorised (bincount / sort / pair enumeration, no loop per
vote or per item). "maybe" answers are handled per call by `maybe`:
``"drop"`` (default: treat as missing — the annotator gave no verdict),
``"no"`` / ``"yes"`` (fold into that answer) or ``"category"`` (a third
nominal value; only where the statistic is not inherently binary).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from annotator.aggregation import MAYBE, NO, YES, VoteArrays

MaybeView = Literal["drop", "no", "yes", "category"]


def _coded(votes: VoteArrays, maybe: MaybeView, *, binary: bool = False):
    """(item, annotator, code, n_codes) with maybe mapped per `maybe`; codes NO=0, YES=1[, MAYBE=2]."""
    ans = votes.answer.astype(np.int64)
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


def _answer_counts(votes: VoteArrays, maybe: MaybeView):
    """(Q, K) answer counts per question, answers per question, and P(two annotators agree) per question.

    The last is Fleiss' per-item agreement Σ n_k(n_k−1) / n(n−1), 0 where n < 2.
    """
    item, _, code, k = _coded(votes, maybe)
    counts = np.bincount(item * k + code, minlength=votes.n_items * k).reshape(-1, k).astype(np.float64)
    n = counts.sum(axis=1)
    agree = ((counts**2).sum(axis=1) - n) / np.where(n >= 2, n * (n - 1), np.inf)
    return counts, n, agree


def _pairs_within(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ordered position pairs (i, j), i ≠ j, with equal group; `groups` must be sorted."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    sizes = np.diff(np.r_[starts, n])
    size_of = np.repeat(sizes, sizes)  # group size at each position
    i = np.repeat(np.arange(n), size_of)
    first = np.cumsum(size_of) - size_of  # where each position's run of partners starts in i
    j = np.repeat(np.repeat(starts, sizes), size_of) + (np.arange(len(i)) - np.repeat(first, size_of))
    keep = i != j
    return i[keep], j[keep]


# Krippendorff α


def krippendorff_alpha_nominal(item: np.ndarray, value: np.ndarray, n_values: int | None = None) -> float:
    """Nominal Krippendorff α from (item, value) pairs; missing = absent. NaN if undefined."""
    item, value = np.asarray(item, np.int64), np.asarray(value, np.int64)
    k = int(value.max(initial=-1)) + 1 if n_values is None else int(n_values)
    _, item = np.unique(item, return_inverse=True)
    counts = np.bincount(item * k + value, minlength=(int(item.max(initial=-1)) + 1) * k).reshape(-1, k)
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
    return krippendorff_alpha_nominal(item, code, k)


@dataclass(frozen=True)
class LabelSets:
    """Each annotator's chosen label set per image, CSR-style: row r has classes indices[indptr[r]:indptr[r+1]]."""

    unit: np.ndarray  # (R,) image of each row
    coder: np.ndarray  # (R,) annotator of each row
    indptr: np.ndarray  # (R+1,)
    indices: np.ndarray  # (nnz,) classes, sorted and unique within a row

    @classmethod
    def from_votes(cls, votes: VoteArrays, class_of_item: np.ndarray, *, maybe: MaybeView = "no") -> LabelSets:
        """One row per (image, annotator) with any vote; the set holds the classes answered yes.

        An annotator who saw an image and chose nothing has an empty set (a
        real answer: "none fits"). `maybe="yes"` puts maybe-classes in the set.
        """
        if votes.image_of_item is None:
            raise ValueError("votes need image_of_item")
        image = votes.image_of_item[votes.item]
        key = image * max(votes.n_annotators, 1) + votes.annotator  # rows sorted by image
        rows, row_of_vote = np.unique(key, return_inverse=True)
        chosen = votes.answer == YES
        if maybe == "yes":
            chosen |= votes.answer == MAYBE
        elif maybe == "category":
            raise ValueError("a label set has no place for maybe as a category")
        width = max(votes.n_annotators, 1)
        labels = np.asarray(class_of_item, np.int64)[votes.item[chosen]]
        return cls.from_entries(rows // width, rows % width, row_of_vote[chosen], labels)

    @classmethod
    def from_lists(cls, unit: Sequence[int], coder: Sequence[int], sets: Sequence[Iterable[int]]) -> LabelSets:
        """From Python sets (small fixtures and tests; loops over rows)."""
        lists = [sorted(set(s)) for s in sets]
        row = np.repeat(np.arange(len(lists)), [len(s) for s in lists])
        labels = np.fromiter((c for s in lists for c in s), np.int64, count=len(row))
        return cls.from_entries(unit, coder, row, labels)

    @classmethod
    def from_dense(cls, unit: np.ndarray, coder: np.ndarray, matrix: np.ndarray) -> LabelSets:
        """From a (rows × classes) bool matrix."""
        return cls.from_entries(unit, coder, *np.nonzero(np.asarray(matrix, bool)))

    @classmethod
    def from_entries(cls, unit: np.ndarray, coder: np.ndarray, row: np.ndarray, labels: np.ndarray) -> LabelSets:
        """From COO entries: row `row[e]` (index into unit/coder) holds class `labels[e]`."""
        unit, coder = np.asarray(unit, np.int64), np.asarray(coder, np.int64)
        width = int(np.max(labels, initial=0)) + 1
        key = np.unique(np.asarray(row, np.int64) * width + np.asarray(labels, np.int64))  # sorts, dedupes
        indptr = np.r_[0, np.cumsum(np.bincount(key // width, minlength=len(unit)))].astype(np.int64)
        return cls(unit, coder, indptr, key % width)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.indptr)


def _row_entries(sets: LabelSets, rows: np.ndarray):
    """(local row, class, start, offset) of the entries of `rows`, in row order."""
    size = sets.sizes[rows]
    start = np.cumsum(size) - size
    offset = np.arange(int(size.sum())) - np.repeat(start, size)
    lab = sets.indices[np.repeat(sets.indptr[rows], size) + offset]
    return np.repeat(np.arange(len(rows)), size), lab, start, offset


def _set_ids(sets: LabelSets, rows: np.ndarray):
    """Distinct-set id per row of `rows`, and the distinct sets' sizes and (set, class) entries."""
    size = sets.sizes[rows]
    _, lab, start, offset = _row_entries(sets, rows)
    # order-free 64-bit hash of each set (wrapping sum of random codes); verified exactly below
    rng = np.random.default_rng(20240601)
    codes = rng.integers(0, np.iinfo(np.uint64).max, int(lab.max(initial=0)) + 1, np.uint64, endpoint=True)
    csum = np.r_[np.uint64(0), np.cumsum(codes[lab], dtype=np.uint64)]
    _, first, sid = np.unique(csum[start + size] - csum[start], return_index=True, return_inverse=True)
    sid, rep = sid.ravel(), first[sid.ravel()]
    if np.any(size != size[rep]) or np.any(lab != lab[np.repeat(start[rep], size) + offset]):
        raise RuntimeError("label-set hash collision")  # ~1e-10 chance even at 10^5 distinct sets
    set_size = size[first]
    set_off = np.arange(int(set_size.sum())) - np.repeat(np.cumsum(set_size) - set_size, set_size)
    entry_lab = lab[np.repeat(start[first], set_size) + set_off]
    entry_set = np.repeat(np.arange(len(first)), set_size)
    return sid, set_size, entry_set, entry_lab


def _set_distance(size_a, size_b, inter, distance: str) -> np.ndarray:
    """MASI or Jaccard distance from |A|, |B|, |A∩B|; d(∅, ∅) = 0 (nltk divides by zero there)."""
    union = size_a + size_b - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        jacc = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    if distance == "jaccard":
        return 1.0 - jacc
    if distance != "masi":
        raise ValueError(f"unknown distance {distance!r}")
    # Passonneau's monotonicity weight: 1 equal, 2/3 subset, 1/3 overlap, 0 disjoint
    subset = np.where(inter == np.minimum(size_a, size_b), 2 / 3, np.where(inter > 0, 1 / 3, 0.0))
    m = np.where((size_a == size_b) & (inter == size_a), 1.0, subset)
    return 1.0 - jacc * m


def set_alpha(sets: LabelSets, *, distance: Literal["masi", "jaccard"] = "masi") -> float:
    """Krippendorff α over label sets per image with MASI (default) or Jaccard distance.

    Same definition as nltk's ``AnnotationTask(distance=masi_distance).alpha()``
    (which is O(K²) in Python), vectorised. The distance depends only on
    (|A|, |B|, |A∩B|), and sets sharing no class are at distance 1, so the
    expected disagreement needs no pair enumeration beyond pairs of distinct
    sets sharing two or more classes. d(∅, ∅) = 0. Images with one annotator
    are not pairable and are ignored. NaN if undefined (no variation).
    """
    order = np.argsort(sets.unit, kind="stable")
    unit = sets.unit[order]
    m_of_unit = np.bincount(unit)
    rows, unit = order[m_of_unit[unit] >= 2], unit[m_of_unit[unit] >= 2]
    n = len(rows)
    if n < 2:
        return float("nan")
    size = sets.sizes[rows]
    # observed: ordered row pairs within each image, weighted 1 / (m_u − 1)
    pi, pj = _pairs_within(unit)
    inter = _intersections(sets, rows, unit, pi, pj)
    observed = np.sum(_set_distance(size[pi], size[pj], inter, distance) / (m_of_unit[unit[pi]] - 1))
    # expected: Σ over ordered pairs of values of different distinct sets of δ = 1 − similarity
    sid, set_size, entry_set, entry_lab = _set_ids(sets, rows)
    count = np.bincount(sid).astype(np.float64)
    similar = _overlap_similarity(count, set_size, entry_set, entry_lab, distance)
    expected = (float(n) * n - np.sum(count**2)) - similar
    if expected <= 0:
        return float("nan")
    return float(1.0 - (n - 1) * observed / expected)


def _intersections(sets: LabelSets, rows, unit, pi, pj) -> np.ndarray:
    """|A∩B| for row pairs (pi, pj) of the same image, via pairs within (image, class)."""
    local, lab, _, _ = _row_entries(sets, rows)
    n_lab = int(lab.max(initial=0)) + 1
    by = np.argsort(unit[local] * n_lab + lab, kind="stable")
    i, j = _pairs_within((unit[local] * n_lab + lab)[by])
    keys, k = np.unique(local[by][i] * len(rows) + local[by][j], return_counts=True)
    want = pi * len(rows) + pj
    if not len(keys):
        return np.zeros(len(want), np.int64)
    pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    return np.where(keys[pos] == want, k[pos], 0)


def _overlap_similarity(count, set_size, entry_set, entry_lab, distance) -> float:
    """Σ over ordered pairs a ≠ b of distinct sets sharing a class of n_a·n_b·(1 − δ_ab)."""
    n_size = int(set_size.max(initial=0)) + 1
    s = np.arange(n_size)
    g1 = 1.0 - _set_distance(s[:, None], s[None, :], np.ones((n_size, n_size), np.int64), distance)
    g1[0, :] = g1[:, 0] = 0.0
    # first pretend every shared class counts once with similarity g(|A|, |B|, 1):
    # Σ_c Σ_{s,t} N[c,s]·N[c,t]·g1[s,t], N[c,s] = Σ n_A over sets of size s holding c
    n_lab = int(entry_lab.max(initial=0)) + 1
    big_n = np.bincount(entry_lab * n_size + set_size[entry_set], count[entry_set], n_lab * n_size)
    big_n = big_n.reshape(n_lab, n_size)
    total = np.sum((big_n @ g1) * big_n) - np.sum(count**2 * set_size * g1[set_size, set_size])
    # then fix pairs sharing k ≥ 2 classes: they share k(k−1)/2 class pairs
    multi = np.flatnonzero(set_size >= 2)
    if len(multi) < 2:
        return float(total)
    e = np.isin(entry_set, multi)
    ci, cj = _pairs_within(entry_set[e])  # class pairs inside each set (entries grouped by set)
    lab, sid = entry_lab[e], entry_set[e]
    keep = lab[ci] < lab[cj]
    pair_key, owner = lab[ci][keep] * n_lab + lab[cj][keep], sid[ci][keep]
    by = np.argsort(pair_key, kind="stable")
    a, b = _pairs_within(pair_key[by])
    keys, shared_pairs = np.unique(owner[by][a] * len(count) + owner[by][b], return_counts=True)
    k = np.rint((1 + np.sqrt(1 + 8 * shared_pairs)) / 2).astype(np.int64)
    sa, sb = set_size[keys // len(count)], set_size[keys % len(count)]
    exact = 1.0 - _set_distance(sa, sb, k, distance)
    total += np.sum(count[keys // len(count)] * count[keys % len(count)] * (exact - k * g1[sa, sb]))
    return float(total)


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
    yes = (code == YES).astype(np.int64)
    y_q = np.bincount(item, yes, minlength=votes.n_items)[item] - yes  # others' yes
    n_q = np.bincount(item, minlength=votes.n_items)[item] - 1  # others' answers
    decided = (n_q > 0) & (2 * y_q != n_q)
    cons = 2 * y_q > n_q
    # 2×2 table per annotator: own answer × consensus
    tab = np.bincount(ann[decided] * 4 + yes[decided] * 2 + cons[decided], minlength=a_n * 4).reshape(a_n, 4)
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
    i, j = _pairs_within(item)
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
    i, j = _pairs_within(img)
    keep = cls_[i] < cls_[j]
    pairs, count = np.unique(cls_[i][keep] * n_c + cls_[j][keep], return_counts=True)
    best = np.lexsort((pairs, -count))[:top]  # most frequent first, ties by class index
    return pairs[best] // n_c, pairs[best] % n_c, count[best]
