"""Consensus from yes/no/maybe votes: majority vote and binary Dawid–Skene.

Pure numpy, no Django: the caller turns `Vote` rows (one per image, class and
annotator) into flat arrays once (`VoteArrays.from_columns`) and every
aggregate below is a handful of `np.bincount` calls over those arrays.

Vocabulary: a *question* (item) is one (image, class) pair; an *answer* is
``NO`` (shown, not chosen), ``YES`` or ``MAYBE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

NO, YES, MAYBE = 0, 1, 2
MaybeMode = Literal["separate", "half", "no", "yes"]


@dataclass(frozen=True)
class VoteArrays:
    """Votes as equal-length flat int arrays (one entry per vote)."""

    item: np.ndarray  # (V,) question index 0..n_items-1
    annotator: np.ndarray  # (V,) annotator index 0..n_annotators-1
    answer: np.ndarray  # (V,) NO / YES / MAYBE
    n_items: int
    n_annotators: int
    image_of_item: np.ndarray | None = None  # (n_items,) image index per question
    n_images: int = 0

    @classmethod
    def from_columns(
        cls,
        item: np.ndarray,
        annotator: np.ndarray,
        answer: np.ndarray,
        *,
        n_items: int | None = None,
        n_annotators: int | None = None,
        image_of_item: np.ndarray | None = None,
        n_images: int | None = None,
        check_unique: bool = True,
    ) -> VoteArrays:
        """Validate and coerce the columns; sizes default to max index + 1.

        `check_unique` rejects two votes by one annotator on one question
        (a sort, ~50 ms at 750k votes), which would silently double-count.
        """
        item = np.ascontiguousarray(item, dtype=np.int64)
        annotator = np.ascontiguousarray(annotator, dtype=np.int64)
        answer = np.ascontiguousarray(answer, dtype=np.int8)
        if not (item.ndim == annotator.ndim == answer.ndim == 1):
            raise ValueError("item, annotator and answer must be 1-d")
        if not (len(item) == len(annotator) == len(answer)):
            raise ValueError("item, annotator and answer must have equal length")
        n_items = int(item.max(initial=-1)) + 1 if n_items is None else int(n_items)
        n_annotators = int(annotator.max(initial=-1)) + 1 if n_annotators is None else int(n_annotators)
        if len(item) and (item.min() < 0 or item.max() >= n_items):
            raise ValueError("item index out of range")
        if len(annotator) and (annotator.min() < 0 or annotator.max() >= n_annotators):
            raise ValueError("annotator index out of range")
        if len(answer) and (answer.min() < NO or answer.max() > MAYBE):
            raise ValueError("answer must be 0 (no), 1 (yes) or 2 (maybe)")
        if check_unique and len(item):
            key = np.sort(item * max(n_annotators, 1) + annotator)
            if np.any(key[1:] == key[:-1]):
                raise ValueError("an annotator answered the same question twice")
        images = 0
        if image_of_item is not None:
            image_of_item = np.ascontiguousarray(image_of_item, dtype=np.int64)
            if image_of_item.shape != (n_items,):
                raise ValueError("image_of_item must have one entry per question")
            images = int(image_of_item.max(initial=-1)) + 1
            if n_images is not None:
                if n_images < images:
                    raise ValueError("image index out of range")
                images = int(n_images)
        return cls(item, annotator, answer, n_items, n_annotators, image_of_item, images)

    @property
    def n_votes(self) -> int:
        return len(self.item)

    def answer_counts(self) -> np.ndarray:
        """(n_items, 3) counts of NO, YES, MAYBE per question."""
        flat = np.bincount(self.item * 3 + self.answer, minlength=self.n_items * 3)
        return flat.reshape(self.n_items, 3)


def unique_first_inverse(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`np.unique(key, return_index=True, return_inverse=True)` of 64-bit integer keys: the sorted distinct
    keys, where each first occurs, and each key's position among them (int64). `key` is overwritten by the
    last, which is returned as an int64 view of it: three per-key arrays at most where np.unique holds five
    (20 M votes make each 160 MB)."""
    if key.dtype.itemsize != 8 or key.dtype.kind not in "iu":
        raise TypeError("keys must be 64-bit integers")
    order = np.argsort(key, kind="stable")  # np.unique's own choice with return_index: first occurrences
    ordered = key[order]
    new = np.empty(len(key), bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    keys = ordered[new]
    rank = np.cumsum(new, out=ordered.view(np.int64))  # the sorted copy's buffer, no longer needed
    rank -= 1
    inverse = key.view(np.int64)
    inverse[order] = rank
    return keys, order[new], inverse


# --------------------------------------------------------------------------- majority


@dataclass(frozen=True)
class MajorityResult:
    """Per-question vote counts and the thresholded yes-share."""

    yes: np.ndarray  # (Q,) int
    no: np.ndarray
    maybe: np.ndarray
    n: np.ndarray  # answers per question
    share: np.ndarray  # (yes + maybe_weight·maybe) / n; NaN without answers
    valid: np.ndarray  # share ≥ threshold and n ≥ min_votes
    disputed: np.ndarray  # |share − threshold| ≤ dispute_band (and enough votes)
    threshold: float
    maybe_weight: float


def majority(
    votes: VoteArrays,
    *,
    threshold: float = 0.5,
    maybe_weight: float = 0.5,
    min_votes: int = 1,
    dispute_band: float = 0.0,
) -> MajorityResult:
    """Majority vote per question: valid if the yes-share reaches `threshold`.

    A MAYBE counts as `maybe_weight` of a yes and the rest of a no: 0.5
    (default) treats it as half a yes, 0 as "not yes", 1 as a yes. Half is the
    default because on ReaL's raw answers it reproduces their Dawid–Skene
    labels far better than either extreme (ReaL's raters mean "maybe" as a
    weak yes). The default band marks exact ties as disputed.
    """
    counts = votes.answer_counts()
    no, yes, maybe = counts[:, NO], counts[:, YES], counts[:, MAYBE]
    n = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (yes + maybe_weight * maybe) / n
    enough = n >= max(min_votes, 1)
    # a tiny epsilon so 0.6 - 0.5 == 0.1 counts as inside a 0.1 band
    valid = enough & (share >= threshold - 1e-12)
    disputed = enough & (np.abs(share - threshold) <= dispute_band + 1e-12)
    return MajorityResult(yes, no, maybe, n, share, valid, disputed, threshold, maybe_weight)


# --------------------------------------------------------------------------- Dawid–Skene


@dataclass(frozen=True)
class DawidSkeneResult:
    """Fitted binary Dawid–Skene model."""

    posterior: np.ndarray  # (Q,) P(class valid | votes)
    sensitivity: np.ndarray  # (A,) P(answer yes | valid)
    specificity: np.ndarray  # (A,) P(answer no | not valid)
    confusion: np.ndarray  # (A, 2, R) P(response | truth); rows not-valid, valid
    responses: tuple[str, ...]  # column names of `confusion`
    prior: float  # overall P(valid) (mean over questions of the group priors)
    group_prior: np.ndarray  # (G,) P(valid) per question group
    iterations: int
    converged: bool
    log_likelihood: float  # marginal log-likelihood of the votes at the end


def _responses(
    votes: VoteArrays, maybe: MaybeMode
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None, tuple[str, ...]]:
    """(vote index, response, weight, names): the likelihood's view of the votes. Index None: every vote once,
    in order; weight None: every weight 1 (no per-vote arrays for those: 20 M votes make each 160 MB)."""
    ans = votes.answer
    if maybe == "separate":
        return None, ans, None, ("no", "yes", "maybe")
    is_maybe = ans == MAYBE
    if maybe in ("no", "yes"):
        resp = np.where(is_maybe, YES if maybe == "yes" else NO, ans)
        return None, resp, None, ("no", "yes")
    if maybe == "half":
        # a maybe enters the likelihood as half a no plus half a yes
        extra = np.flatnonzero(is_maybe)
        resp = np.concatenate([np.where(is_maybe, NO, ans), np.full(len(extra), YES)])
        weight = np.concatenate([np.where(is_maybe, 0.5, 1.0), np.full(len(extra), 0.5)])
        return np.concatenate([np.arange(votes.n_votes), extra]), resp, weight, ("no", "yes")
    raise ValueError(f"unknown maybe mode {maybe!r}")


def dawid_skene(
    votes: VoteArrays,
    *,
    maybe: MaybeMode = "separate",
    groups: np.ndarray | None = None,
    init: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    pseudo_votes: float = 5.0,
) -> DawidSkeneResult:
    """Binary Dawid–Skene EM: is each question's class valid for its image?

    Every annotator has a confusion matrix P(response | truth) over the
    responses chosen by `maybe`: "separate" (default) gives a 2×3 matrix where
    MAYBE is its own response — on ReaL it reproduces their labels best (half:
    -1 pp, maybe-as-no: -3 pp); "half" counts a maybe as half a yes and half a
    no; "no"/"yes" fold it into that answer.

    `groups` (Q,) gives questions a class prior per group, e.g. whether the
    class is the image's original label (far more often valid than a model's
    proposal). `init` is the starting P(valid) per question; by default the
    majority yes-share (maybe = half). EM stops when no posterior moves more
    than `tol`, or after `max_iter` iterations (tol=0 runs exactly max_iter).

    Smoothing: each annotator's confusion rows get `pseudo_votes` pseudo-counts
    distributed like the pooled rows of all annotators (a Dirichlet prior
    centred on the crowd). Annotators with few votes thus start out as
    "average" rather than perfect or useless, annotators with many are barely
    affected; no probability is ever 0, so one odd answer cannot veto a label.
    Group priors use a Beta(1, 1) (Laplace) prior for the same reason.
    """
    if max_iter < 1:
        raise ValueError("max_iter must be at least 1")
    n_q, n_a = votes.n_items, votes.n_annotators
    vote_idx, resp, weight, names = _responses(votes, maybe)
    n_r = len(names)
    item = votes.item if vote_idx is None else votes.item[vote_idx]
    cell = votes.annotator * n_r if vote_idx is None else votes.annotator[vote_idx] * n_r
    cell += resp  # (annotator, response) cell per vote
    del resp
    cell_total = np.bincount(cell, weight, minlength=n_a * n_r).astype(np.float64, copy=False)

    def weighted(values: np.ndarray) -> np.ndarray:
        # × 1.0 changes no float, so without weights (one per vote) the sums are the same to the bit
        return values if weight is None else weight * values

    if groups is None:
        groups = np.zeros(n_q, dtype=np.int64)
    groups = np.asarray(groups, dtype=np.int64)
    if groups.shape != (n_q,) or (n_q and groups.min() < 0):
        raise ValueError("groups must be a non-negative int per question")
    n_g = int(groups.max(initial=0)) + 1
    group_size = np.bincount(groups, minlength=n_g)

    if init is None:
        share = majority(votes, maybe_weight=0.5).share
        init = np.where(np.isnan(share), 0.5, share)
    p = np.clip(np.asarray(init, dtype=np.float64), 0.0, 1.0)
    if p.shape != (n_q,):
        raise ValueError("init must have one probability per question")

    converged, log_lik, it = False, float("nan"), 0
    while it < max_iter:
        it += 1
        # M-step: expected (annotator, response) counts under each truth
        c1 = np.bincount(cell, weighted(p[item]), minlength=n_a * n_r).reshape(n_a, n_r)
        c0 = cell_total.reshape(n_a, n_r) - c1
        pooled1 = (c1.sum(0) + 1.0) / (c1.sum() + n_r)
        pooled0 = (c0.sum(0) + 1.0) / (c0.sum() + n_r)
        c1 = np.maximum(c1, 0.0) + pseudo_votes * pooled1
        c0 = np.maximum(c0, 0.0) + pseudo_votes * pooled0
        pi1 = c1 / c1.sum(1, keepdims=True)
        pi0 = c0 / c0.sum(1, keepdims=True)
        prior = (np.bincount(groups, p, minlength=n_g) + 1.0) / (group_size + 2.0)
        # E-step: posterior log-odds = prior log-odds + Σ votes' log-likelihood ratios
        llr = (np.log(pi1) - np.log(pi0)).ravel()
        log_odds = np.bincount(item, weighted(llr[cell]), minlength=n_q)
        log_odds += np.log(prior / (1.0 - prior))[groups]
        new_p = _sigmoid(log_odds)
        delta = float(np.max(np.abs(new_p - p), initial=0.0))
        p = new_p
        if delta <= tol:
            converged = True
            break

    # marginal log-likelihood, only for monitoring (one more pass, cheap)
    if n_q:
        l0 = np.bincount(item, weighted(np.log(pi0).ravel()[cell]), minlength=n_q)
        l0 += np.log1p(-prior)[groups]
        log_lik = float(np.sum(l0 + np.logaddexp(0.0, log_odds)))
    confusion = np.stack([pi0, pi1], axis=1)
    return DawidSkeneResult(
        posterior=p,
        sensitivity=pi1[:, YES].copy(),
        specificity=pi0[:, NO].copy(),
        confusion=confusion,
        responses=names,
        prior=float(np.mean(prior[groups])) if n_q else float(prior[0]),
        group_prior=prior,
        iterations=it,
        converged=converged,
        log_likelihood=log_lik,
    )


def answer_log_likelihood_ratios(confusion: np.ndarray, n_votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What a fitted confusion (A, 2, R) says each answer is worth: (A, R) log P(answer | valid) − log
    P(answer | not valid) per annotator, and the (R,) pooled ratios of all annotators weighted by their
    `n_votes` (A,), for annotators the fit did not see."""
    pi0, pi1 = confusion[:, 0, :], confusion[:, 1, :]
    weights = n_votes / max(n_votes.sum(), 1)
    pooled = np.log(weights @ pi1) - np.log(weights @ pi0)
    return np.log(pi1) - np.log(pi0), pooled


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a negative magnitude never overflows
    e = np.exp(-np.abs(x))
    squashed: np.ndarray = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return squashed
