"""Agreement between annotators' label sets (Krippendorff's alpha with MASI or Jaccard distance, and the
overlap of sets) — the set-valued side of `annotator.core.agreement`, which re-exports it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from annotator.core.aggregation import MAYBE, YES, VoteArrays, unique_first_inverse

if TYPE_CHECKING:
    from annotator.core.agreement import MaybeView


def pairs_within(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
        if maybe == "category":
            raise ValueError("a label set has no place for maybe as a category")
        width = max(votes.n_annotators, 1)
        key = votes.image_of_item[votes.item]
        key *= width
        key += votes.annotator  # rows sorted by image
        rows = np.unique(key)
        chosen = votes.answer == YES
        if maybe == "yes":
            chosen |= votes.answer == MAYBE
        # each chosen vote's row: np.unique's inverse, looked up for the chosen votes only (one per-vote
        # int64 array less; 20 M votes make each 160 MB)
        row_of_chosen = np.searchsorted(rows, key[chosen])
        del key
        labels = np.asarray(class_of_item, np.int64)[votes.item[chosen]]
        return cls.from_entries(rows // width, rows % width, row_of_chosen, labels)

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
    def from_entries(cls, unit: npt.ArrayLike, coder: npt.ArrayLike, row: np.ndarray, labels: np.ndarray) -> LabelSets:
        """From COO entries: row `row[e]` (index into unit/coder) holds class `labels[e]`."""
        units, coders = np.asarray(unit, np.int64), np.asarray(coder, np.int64)
        width = int(np.max(labels, initial=0)) + 1
        key = np.unique(np.asarray(row, np.int64) * width + np.asarray(labels, np.int64))  # sorts, dedupes
        indptr = np.r_[0, np.cumsum(np.bincount(key // width, minlength=len(units)))].astype(np.int64)
        return cls(units, coders, indptr, key % width)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.indptr)


def _row_entries(sets: LabelSets, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(local row, class, start, offset) of the entries of `rows`, in row order."""
    size = sets.sizes[rows]
    start = np.cumsum(size) - size
    offset = np.arange(int(size.sum())) - np.repeat(start, size)
    lab = sets.indices[np.repeat(sets.indptr[rows], size) + offset]
    return np.repeat(np.arange(len(rows)), size), lab, start, offset


def _set_ids(sets: LabelSets, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct-set id per row of `rows`, and the distinct sets' sizes and (set, class) entries."""
    size = sets.sizes[rows]
    _, lab, start, offset = _row_entries(sets, rows)
    # order-free 64-bit hash of each set (wrapping sum of random codes); verified exactly below
    rng = np.random.default_rng(20240601)
    codes = rng.integers(0, np.iinfo(np.uint64).max, int(lab.max(initial=0)) + 1, np.uint64, endpoint=True)
    # (the arrays built in place and np.unique's work in three per-row arrays: one row per image and
    # annotator, 6.5 M at 1.3 M images)
    csum = np.zeros(len(lab) + 1, np.uint64)
    np.cumsum(codes[lab], dtype=np.uint64, out=csum[1:])
    hashed = csum[start + size]
    hashed -= csum[start]
    del csum
    _, first, sid = unique_first_inverse(hashed)
    rep = first[sid]
    if np.any(size != size[rep]):
        raise RuntimeError("label-set hash collision")  # ~1e-10 chance even at 10^5 distinct sets
    at = np.repeat(start[rep], size)
    del rep
    at += offset
    if np.any(lab != lab[at]):
        raise RuntimeError("label-set hash collision")
    set_size = size[first]
    set_off = np.arange(int(set_size.sum())) - np.repeat(np.cumsum(set_size) - set_size, set_size)
    entry_lab = lab[np.repeat(start[first], set_size) + set_off]
    entry_set = np.repeat(np.arange(len(first)), set_size)
    return sid, set_size, entry_set, entry_lab


def _set_distance(size_a: np.ndarray, size_b: np.ndarray, inter: np.ndarray, distance: str) -> np.ndarray:
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
    observed = np.sum(_observed_terms(sets, rows, unit, m_of_unit, distance))
    # expected: Σ over ordered pairs of values of different distinct sets of δ = 1 − similarity
    sid, set_size, entry_set, entry_lab = _set_ids(sets, rows)
    count = np.bincount(sid).astype(np.float64)
    similar = _overlap_similarity(count, set_size, entry_set, entry_lab, distance)
    expected = (float(n) * n - np.sum(count**2)) - similar
    if expected <= 0:
        return float("nan")
    return float(1.0 - (n - 1) * observed / expected)


def _observed_terms(
    sets: LabelSets, rows: np.ndarray, unit: np.ndarray, m_of_unit: np.ndarray, distance: str, block: int = 1 << 16
) -> np.ndarray:
    """δ(A, B) / (m_u − 1) of every ordered pair of rows (A, B) within an image, in the order of
    `pairs_within(unit)` (`unit` sorted). Computed by blocks of about `block` rows cut between images into
    one array: the same terms as all at once, without every pair's index arrays in memory together (an image
    with 5 annotators has 20 pairs: 26 M at 1.3 M images)."""
    m = m_of_unit[m_of_unit >= 2]
    terms = np.empty(int(np.sum(m * (m - 1))), np.float64)
    cuts = np.unique(np.r_[np.searchsorted(unit, unit[::block]), len(unit)])
    size, done = sets.sizes[rows], 0
    for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
        pi, pj = pairs_within(unit[lo:hi])
        inter = _intersections(sets, rows[lo:hi], unit[lo:hi], pi, pj)
        part = _set_distance(size[lo:hi][pi], size[lo:hi][pj], inter, distance) / (m_of_unit[unit[lo:hi][pi]] - 1)
        terms[done : done + len(part)] = part
        done += len(part)
    return terms


def _intersections(sets: LabelSets, rows: np.ndarray, unit: np.ndarray, pi: np.ndarray, pj: np.ndarray) -> np.ndarray:
    """|A∩B| for row pairs (pi, pj) of the same image, via pairs within (image, class)."""
    local, lab, _, _ = _row_entries(sets, rows)
    n_lab = int(lab.max(initial=0)) + 1
    by = np.argsort(unit[local] * n_lab + lab, kind="stable")
    i, j = pairs_within((unit[local] * n_lab + lab)[by])
    keys, k = np.unique(local[by][i] * len(rows) + local[by][j], return_counts=True)
    want = pi * len(rows) + pj
    if not len(keys):
        return np.zeros(len(want), np.int64)
    pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    return np.where(keys[pos] == want, k[pos], 0)


def _overlap_similarity(
    count: np.ndarray, set_size: np.ndarray, entry_set: np.ndarray, entry_lab: np.ndarray, distance: str
) -> float:
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
    ci, cj = pairs_within(entry_set[e])  # class pairs inside each set (entries grouped by set)
    lab, sid = entry_lab[e], entry_set[e]
    keep = lab[ci] < lab[cj]
    pair_key, owner = lab[ci][keep] * n_lab + lab[cj][keep], sid[ci][keep]
    by = np.argsort(pair_key, kind="stable")
    a, b = pairs_within(pair_key[by])
    keys, shared_pairs = np.unique(owner[by][a] * len(count) + owner[by][b], return_counts=True)
    k = np.rint((1 + np.sqrt(1 + 8 * shared_pairs)) / 2).astype(np.int64)
    sa, sb = set_size[keys // len(count)], set_size[keys % len(count)]
    exact = 1.0 - _set_distance(sa, sb, k, distance)
    total += np.sum(count[keys // len(count)] * count[keys % len(count)] * (exact - k * g1[sa, sb]))
    return float(total)
