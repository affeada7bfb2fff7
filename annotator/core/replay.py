"""Replaying an answer set as if it arrived live under a redundancy policy. Pure numpy, no Django.

How answers "arrive": each image's raters come in a seeded random order (one order per image). ReaL's raters
answered questions, not whole images (an image's ~7.4 questions were spread over ~6.9 raters, each
question answered by exactly 5), so annotation round k of an image gives each of its still-open questions
its k-th answer in the image's rater order: round k is "the k-th annotation" of every question. After each
round the policy decides, from the answers so far, which questions and whether the image need another.

Policies:

- `fixed-N`: every question gets its first N answers (fixed-5 on ReaL: all of them);
- `first-two`: the issue's simple rule, a question stops after its first two answers agree (yes/yes or
  no/no), else it takes all its answers;
- `margin`: `annotator.core.redundancy`'s rule before any Dawid–Skene run (|yes − no| ≥ margin);
- `adaptive`: the same rule with a Dawid–Skene run's parameters (posterior odds c / (1 − c) times beyond the
  label cut t of the rule: t = ½ is the band [1 − c, c], the product uses the dataset's DS threshold).

With *question-level* stopping (the product's: a later annotation shows only the open candidates) a
question takes answers until it is settled; with *image-level* stopping every question of an image takes
answers until all of them are settled. Either way no question gets more than `max_annotations`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator.core.aggregation import MAYBE, NO, YES, VoteArrays, answer_log_likelihood_ratios, dawid_skene, majority
from annotator.core.redundancy import RedundancyRule, questions_settled

FIXED, FIRST_TWO, MARGIN, ADAPTIVE = "fixed", "first-two", "margin", "adaptive"


@dataclass(frozen=True)
class Policy:
    kind: str  # FIXED / FIRST_TWO / MARGIN / ADAPTIVE
    rule: RedundancyRule = RedundancyRule()
    question_level: bool = True
    # adaptive only: stop and score with the parameters of the run on all answers (known answer weights) instead
    # of a warm-up run and a refit on the answers used
    known_run: bool = False
    # with known_run: stop with the full run's parameters but label by a refit on the answers used, as the product
    # publishes (what the refit costs once the stopping is ideal)
    refit_labels: bool = False

    @property
    def name(self) -> str:
        if self.kind == FIXED:
            return f"fixed-{self.rule.max_annotations}"
        suffix = "" if self.question_level else "-image-level"
        if self.kind == ADAPTIVE:
            t = self.rule.label_threshold
            around = "" if t == 0.5 else f"-around-{t:g}"
            known = ("-known-stop" if self.refit_labels else "-known-run") if self.known_run else ""
            return f"adaptive-{self.rule.confidence:g}{around}{suffix}{known}"
        if self.kind == MARGIN:
            return f"margin-{self.rule.margin}{suffix}"
        return f"{self.kind}{suffix}"


@dataclass(frozen=True)
class Arrival:
    """The votes in arrival order: sorted by question, then by the image's rater order."""

    votes: VoteArrays  # item, annotator, answer sorted so; image_of_item set
    position: np.ndarray  # (V,) 1-based: the vote is its question's position-th answer
    starts: np.ndarray  # (Q,) index of each question's first vote (questions without votes: not allowed)
    n_answers: np.ndarray  # (Q,) answers each question has in all

    @property
    def image(self) -> np.ndarray:
        """(Q,) dense image of each question."""
        assert self.votes.image_of_item is not None  # arrival() refuses votes without it
        return self.votes.image_of_item


def arrival(votes: VoteArrays, *, seed: int) -> Arrival:
    """Order `votes` as they arrive: one seeded random rater order per image."""
    if votes.image_of_item is None:
        raise ValueError("the votes need the image of each question")
    n_answers = np.bincount(votes.item, minlength=votes.n_items)
    if np.any(n_answers == 0):
        raise ValueError("every question needs at least one answer")
    rng = np.random.default_rng(seed)
    rater_key = rng.random((votes.n_images, max(votes.n_annotators, 1)))
    order = np.lexsort((rater_key[votes.image_of_item[votes.item], votes.annotator], votes.item))
    ordered = VoteArrays.from_columns(
        votes.item[order], votes.annotator[order], votes.answer[order], n_items=votes.n_items,
        n_annotators=votes.n_annotators, image_of_item=votes.image_of_item, n_images=votes.n_images,
        check_unique=False,
    )  # fmt: skip
    starts = np.concatenate([[0], np.cumsum(n_answers)[:-1]])
    position = np.arange(len(order)) - starts[ordered.item] + 1
    return Arrival(ordered, position, starts, n_answers)


@dataclass(frozen=True)
class DsWeights:
    """A Dawid–Skene run's parameters over dense annotators: what each answer adds to a question's log-odds,
    and the prior log-odds of each question's stratum."""

    answer_llr: np.ndarray  # (A, 3) by NO / YES / MAYBE
    group_log_odds: np.ndarray  # (G,) prior log-odds per stratum


def ds_fit(votes: VoteArrays, groups: np.ndarray, *, n_groups: int = 1) -> tuple[np.ndarray, DsWeights]:
    """The product's Dawid–Skene fit (maybe its own answer) on `votes`: (posterior per question, weights).
    Annotators without a vote get the pooled weights, as `DsParams.default_llr` gives them in the product;
    strata without a question (up to `n_groups`) the overall prior, as the DS service stores them."""
    result = dawid_skene(votes, groups=groups)
    n_votes = np.bincount(votes.annotator, minlength=votes.n_annotators)
    llr, pooled = answer_log_likelihood_ratios(result.confusion, n_votes)
    llr[n_votes == 0] = pooled
    prior = np.full(max(n_groups, len(result.group_prior)), result.prior)
    prior[: len(result.group_prior)] = result.group_prior
    prior = np.clip(prior, 1e-12, 1 - 1e-12)
    return result.posterior, DsWeights(llr, np.log(prior / (1 - prior)))


def answers_taken(
    arrived: Arrival, policy: Policy, weights: DsWeights | None = None, groups: np.ndarray | None = None
) -> np.ndarray:
    """(Q,) how many of its answers each question takes under `policy` (adaptive: with the run's `weights`
    and the questions' prior strata `groups`)."""
    rule, votes, p = policy.rule, arrived.votes, arrived.position
    cap: np.ndarray = np.minimum(rule.max_annotations, arrived.n_answers)
    if policy.kind == FIXED:
        return cap
    yes = _running(votes.answer == YES, arrived)
    no = _running(votes.answer == NO, arrived)
    if policy.kind == ADAPTIVE:
        if weights is None or groups is None:
            raise ValueError("the adaptive policy needs a Dawid–Skene run's weights and the prior strata")
        log_odds = _running(weights.answer_llr[votes.annotator, votes.answer], arrived)
        log_odds += weights.group_log_odds[groups[votes.item]]
        settled = questions_settled(rule, n_answers=p, yes=yes, no=no, log_odds=log_odds)
    elif policy.kind == MARGIN:
        settled = questions_settled(rule, n_answers=p, yes=yes, no=no)
    elif policy.kind == FIRST_TWO:
        settled = (p == 2) & ((yes == 2) | (no == 2))
    else:
        raise ValueError(f"unknown policy {policy.kind!r}")
    first_settled = np.minimum.reduceat(np.where(settled, p, np.iinfo(np.int64).max), arrived.starts)
    taken: np.ndarray = np.minimum(first_settled, cap)
    if not policy.question_level:  # every question of the image until the last one is settled
        image = arrived.image
        rounds = np.zeros(votes.n_images, np.int64)
        np.maximum.at(rounds, image, taken)
        taken = np.minimum(rounds[image], cap)
    return taken


def _running(values: np.ndarray, arrived: Arrival) -> np.ndarray:
    """Per vote, the sum of `values` over its question's answers up to and including it."""
    total = np.cumsum(values, dtype=np.float64 if values.dtype.kind == "f" else np.int64)
    before = total[arrived.starts] - values[arrived.starts]
    running: np.ndarray = total - before[arrived.votes.item]
    return running


def used_votes(arrived: Arrival, taken: np.ndarray) -> VoteArrays:
    """The votes a policy used (each question's first `taken` answers)."""
    votes = arrived.votes
    keep = arrived.position <= taken[votes.item]
    return VoteArrays.from_columns(
        votes.item[keep], votes.annotator[keep], votes.answer[keep], n_items=votes.n_items,
        n_annotators=votes.n_annotators, image_of_item=votes.image_of_item, n_images=votes.n_images,
        check_unique=False,
    )  # fmt: skip


@dataclass(frozen=True)
class LabelSets:
    """Per question, whether its class is in its image's label set."""

    ds: np.ndarray  # (Q,) Dawid–Skene posterior > the DS threshold
    majority: np.ndarray  # (Q,) yes-share ≥ ½, maybe half a yes


def label_sets(
    votes: VoteArrays, groups: np.ndarray, *, ds_threshold: float, weights: DsWeights | None = None
) -> tuple[LabelSets, DsWeights]:
    """The label sets of `votes`: Dawid–Skene refitted on them (or, given `weights`, scored with a run's parameters
    without a refit) and the majority. Returns them with the weights used."""
    if weights is None:
        posterior, weights = ds_fit(votes, groups, n_groups=int(groups.max(initial=0)) + 1)
        valid = posterior > ds_threshold
    else:
        log_odds = np.bincount(votes.item, weights.answer_llr[votes.annotator, votes.answer], minlength=votes.n_items)
        valid = log_odds + weights.group_log_odds[groups] > np.log(ds_threshold / (1 - ds_threshold))
    return LabelSets(valid, majority(votes).valid), weights


def equal_shares(ours: np.ndarray, reference: np.ndarray, image_of_item: np.ndarray, n_images: int,
                 image_extra: np.ndarray | None = None) -> tuple[float, float]:  # fmt: skip
    """(questions equal, images equal) as shares; an image is equal when all its questions are and it has no
    reference label outside its questions (`image_extra` (I,) counts those). Images without a question are
    left out."""
    differ = ours != reference
    differing = np.bincount(image_of_item, differ.astype(np.float64), minlength=n_images)
    if image_extra is not None:
        differing = differing + image_extra
    has_questions = np.bincount(image_of_item, minlength=n_images) > 0
    images_equal = float(np.mean(differing[has_questions] == 0)) if has_questions.any() else 1.0
    return (float(np.mean(~differ)) if len(differ) else 1.0), images_equal


def warmup_images(n_images: int, share: float, *, seed: int) -> np.ndarray:
    """(I,) bool: the images answered before a first Dawid–Skene run exists (a seeded random `share`)."""
    rng = np.random.default_rng(seed + 1)
    return rng.random(n_images) < share


def adaptive_taken(
    arrived: Arrival, policy: Policy, groups: np.ndarray, *, warmup: np.ndarray
) -> tuple[np.ndarray, DsWeights]:
    """(Q,) answers taken under an adaptive policy the way the product runs it: the `warmup` images are
    answered under the majority margin (no run yet), a Dawid–Skene run is fitted on the answers they used,
    and every other image is answered with that run's weights. Returns the counts and the weights."""
    margin = Policy(MARGIN, policy.rule, policy.question_level)
    early = answers_taken(arrived, margin)
    in_warmup = warmup[arrived.image]
    # the run sees only the warm-up's questions (others would pull its priors towards its starting point)
    _, weights = ds_fit(
        _only_questions(used_votes(arrived, early), in_warmup), groups[in_warmup], n_groups=int(groups.max()) + 1
    )
    later = answers_taken(arrived, policy, weights, groups)
    return np.where(in_warmup, early, later), weights


def _only_questions(votes: VoteArrays, keep: np.ndarray) -> VoteArrays:
    """`votes` restricted to the questions where `keep` (Q,) is true, renumbered densely in order."""
    new_index = np.cumsum(keep) - 1
    mine = keep[votes.item]
    image = votes.image_of_item[keep] if votes.image_of_item is not None else None
    return VoteArrays.from_columns(
        new_index[votes.item[mine]], votes.annotator[mine], votes.answer[mine], n_items=int(keep.sum()),
        n_annotators=votes.n_annotators, image_of_item=image, n_images=votes.n_images, check_unique=False,
    )  # fmt: skip


ANSWER_NAMES = {NO: "no", YES: "yes", MAYBE: "maybe"}
