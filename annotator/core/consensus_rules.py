"""Consensus per image from flat vote arrays: counts, shares, label sets, status. Pure numpy, no Django.

One function, `consensus_compute`, serves both the live update of one image (a handful of votes, in the
submit's transaction) and the full recompute of a dataset (750k votes in one pass), so the two can never
disagree. The rules:

- A *question* is one (image, class) pair with at least one vote. Its yes-share counts a maybe as half a
  yes (`annotator.core.aggregation.majority`'s default; on ReaL's answers "maybe" means a weak yes).
- Answers a class needs: N, or every annotator who answered the image while fewer did (it is pending).
  Every answer counts, *None fits* and *Bad image* too, though on an image without candidates they cast no
  vote: they confirmed no class. So a class one annotator found through search is not valid alone, and a
  bad-image report leaves a class of the others short of answers (the reviewer decides).
- Majority label set: the classes whose yes-share reaches τ and that have the answers they need.
- Dawid–Skene label set: posterior > the DS threshold and the answers the class needs, the posterior scored
  with the parameters of the latest Dawid–Skene run (`DsParams`), so new votes count between runs. The
  effective label set is the one the dataset's aggregation names (majority until a first run exists).
- Status: `pending` while the image has fewer annotations than it needs; otherwise `disputed` for any
  reason below, else `agreed`. Reasons: a class's yes-share within ±band of τ (`near_threshold`), a class
  with fewer answers than that (`few_answers`), an annotator said unsure or bad image, or one said
  "none fits" while another chose a class (`none_fits_conflict`). Reasons are recorded while pending too.
- Adaptive redundancy (`annotator.core.redundancy`): each candidate question is settled or open, by the
  latest run's posterior or, before any run, the majority margin; an open image stays `pending` (it gets one
  more annotation, asked only its open questions) until it is settled or has its maximum. N is then the
  dataset's minimum. A class found through search is no question anyone is asked: it never holds an image open.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from annotator.core.aggregation import MAYBE, NO, YES, MajorityResult, VoteArrays, majority, unique_first_inverse
from annotator.core.agreement import per_image_agreement
from annotator.core.real_raters import real_prior_groups
from annotator.core.redundancy import OPEN, RedundancyRule, images_state, questions_settled

PENDING, AGREED, DISPUTED = "pending", "agreed", "disputed"
REASONS = ("near_threshold", "few_answers", "unsure", "bad_image", "none_fits_conflict")
ANSWER_CODES = {"no": NO, "yes": YES, "maybe": MAYBE}


@dataclass(frozen=True)
class ConsensusSettings:
    threshold: float = 0.5  # τ
    dispute_band: float = 0.1
    min_answers: int = 3  # the dataset's N
    aggregation: str = "majority"  # or "dawid_skene"
    ds_threshold: float = 0.8
    ds_prior: str = "original"  # single | original | imagenet_real
    redundancy: str = "fixed"  # or "adaptive" (annotator.core.redundancy)
    redundancy_min: int = 2
    redundancy_max: int = 5
    redundancy_confidence: float = 0.95

    @property
    def redundancy_rule(self) -> RedundancyRule | None:
        if self.redundancy != "adaptive":
            return None
        return RedundancyRule(
            self.redundancy_min, self.redundancy_max, self.redundancy_confidence, label_threshold=self.ds_threshold
        )


@dataclass(frozen=True)
class VoteData:
    """A dataset's (or one image's) votes and annotations as flat arrays. Images are dense 0..I-1."""

    image_id: np.ndarray  # (I,) Image pk
    image_needed: np.ndarray  # (I,) annotations needed
    image_original: np.ndarray  # (I,) original label class id, −1 if none
    vote_image: np.ndarray  # (V,) dense image
    vote_class: np.ndarray  # (V,) LabelClass pk
    vote_class_index: np.ndarray  # (V,) LabelClass.index
    vote_annotator: np.ndarray  # (V,) user pk
    vote_answer: np.ndarray  # (V,) NO / YES / MAYBE
    ann_image: np.ndarray  # (A,) dense image
    ann_annotator: np.ndarray  # (A,) user pk
    ann_none_fits: np.ndarray  # (A,) bool
    ann_unsure: np.ndarray
    ann_bad_image: np.ndarray
    ann_has_classes: np.ndarray
    ann_seconds: np.ndarray  # (A,) float
    # Adaptive redundancy only: whether each vote's class is one the image's annotators are asked about (not one
    # found through search; None: all are), and each image's extra annotations asked for by a reviewer.
    vote_candidate: np.ndarray | None = None  # (V,) bool
    image_extra: np.ndarray | None = None  # (I,)

    @property
    def n_images(self) -> int:
        return len(self.image_id)


def vote_data_blocks(data: VoteData, size: int) -> Iterator[VoteData]:
    """`data` cut into blocks of `size` consecutive (dense) images, each a VoteData of its own (images dense
    from 0), its votes and annotations in their order in `data`. Every figure of `consensus_compute` is one
    image's own, so the rows of the blocks, one after the other, are exactly the rows of the whole, while
    memory holds one block's. A block without votes or annotations gives no row."""
    if size < 1:
        raise ValueError("blocks need at least one image")
    n = data.n_images

    def cut(image: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """(a stable order grouping the rows by image, None if they already are; where each image starts)"""
        starts = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(image, minlength=n), out=starts[1:])
        grouped = len(image) < 2 or bool(np.all(image[1:] >= image[:-1]))
        return (None if grouped else np.argsort(image, kind="stable")), starts

    vote_order, vote_starts = cut(data.vote_image)
    ann_order, ann_starts = cut(data.ann_image)

    def rows(order: np.ndarray | None, starts: np.ndarray, lo: int, hi: int) -> slice | np.ndarray:
        return slice(starts[lo], starts[hi]) if order is None else order[starts[lo] : starts[hi]]

    for lo in range(0, n, size):
        hi = min(lo + size, n)
        v, a = rows(vote_order, vote_starts, lo, hi), rows(ann_order, ann_starts, lo, hi)
        yield VoteData(
            image_id=data.image_id[lo:hi],
            image_needed=data.image_needed[lo:hi],
            image_original=data.image_original[lo:hi],
            vote_image=data.vote_image[v] - lo,
            vote_class=data.vote_class[v],
            vote_class_index=data.vote_class_index[v],
            vote_annotator=data.vote_annotator[v],
            vote_answer=data.vote_answer[v],
            ann_image=data.ann_image[a] - lo,
            ann_annotator=data.ann_annotator[a],
            ann_none_fits=data.ann_none_fits[a],
            ann_unsure=data.ann_unsure[a],
            ann_bad_image=data.ann_bad_image[a],
            ann_has_classes=data.ann_has_classes[a],
            ann_seconds=data.ann_seconds[a],
            vote_candidate=None if data.vote_candidate is None else data.vote_candidate[v],
            image_extra=None if data.image_extra is None else data.image_extra[lo:hi],
        )


@dataclass(frozen=True)
class Questions:
    """The (image, class) questions of `VoteData`, sorted by image then class id."""

    votes: VoteArrays  # items = questions, annotators dense, image_of_item dense images
    image: np.ndarray  # (Q,) dense image
    class_id: np.ndarray  # (Q,)
    class_index: np.ndarray  # (Q,)
    is_original: np.ndarray  # (Q,) bool
    annotator_ids: np.ndarray  # (n_annotators,) user pk of each dense annotator


def questions_of(data: VoteData) -> Questions:
    """The questions of `data`, whatever the integer widths of its vote columns (the dataset read keeps them
    compact): every array here is int64, as for the one image of the live path."""
    # np.unique with return_inverse / return_index, done by hand: the same arrays with two fewer per-vote
    # int64 temporaries (20 M votes make each 160 MB)
    classes = np.unique(data.vote_class).astype(np.int64, copy=False)
    key = data.vote_image.astype(np.int64)
    key *= max(len(classes), 1)
    key += np.searchsorted(classes, data.vote_class)
    keys, first, item = unique_first_inverse(key)  # key becomes item
    annotator_ids = np.unique(data.vote_annotator).astype(np.int64, copy=False)
    annotator = np.searchsorted(annotator_ids, data.vote_annotator)
    image = keys // max(len(classes), 1)
    votes = VoteArrays.from_columns(
        item,
        annotator,
        data.vote_answer,
        n_items=len(keys),
        n_annotators=len(annotator_ids),
        image_of_item=image,
        n_images=data.n_images,
        check_unique=False,  # the vote table's unique constraint already guarantees it
    )
    class_id = classes[keys % max(len(classes), 1)] if len(keys) else np.zeros(0, np.int64)
    return Questions(
        votes=votes,
        image=image,
        class_id=class_id,
        class_index=data.vote_class_index[first].astype(np.int64, copy=False),
        is_original=data.image_original[image] == class_id,
        annotator_ids=annotator_ids,
    )


def prior_groups(mode: str, questions: Questions) -> np.ndarray:
    """Dawid–Skene class-prior stratum per question (see Dataset.ds_prior)."""
    if mode == "single":
        return np.zeros(len(questions.image), np.int64)
    if mode == "original":
        return (~questions.is_original).astype(np.int64)
    if mode == "imagenet_real":
        return real_prior_groups(questions.class_index, questions.is_original)
    raise ValueError(f"unknown prior mode {mode!r}")


@dataclass(frozen=True)
class DsParams:
    """What a Dawid–Skene run learnt: per annotator, the log-likelihood ratio of each answer, and the
    log prior odds per stratum. Scoring votes with them is one E-step: no refit needed."""

    run_id: int | None
    prior_mode: str
    llr: dict[int, tuple[float, float, float]]  # user pk -> (no, yes, maybe)
    default_llr: tuple[float, float, float]  # annotators the run did not see
    group_log_odds: np.ndarray

    def log_odds(self, questions: Questions) -> np.ndarray:
        """(Q,) posterior log-odds of each question: its stratum's prior plus its votes' answer weights."""
        table = np.array([self.llr.get(int(a), self.default_llr) for a in questions.annotator_ids]).reshape(-1, 3)
        votes = questions.votes
        per_vote = table[votes.annotator, votes.answer] if votes.n_votes else np.zeros(0)
        # bincount of no vote at all returns int64 whatever the weights; the prior below is a float
        log_odds = np.bincount(votes.item, per_vote, minlength=votes.n_items).astype(np.float64, copy=False)
        log_odds += self.group_log_odds[prior_groups(self.prior_mode, questions)]
        return log_odds

    def posterior(self, questions: Questions) -> np.ndarray:
        log_odds = self.log_odds(questions)
        e = np.exp(-np.abs(log_odds))
        posterior: np.ndarray = np.where(log_odds >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return posterior


@dataclass(frozen=True)
class ConsensusRow:
    image_id: int
    status: str
    dispute_reasons: list[str]
    annotation_count: int
    counts: str  # JSON {class id: [yes, no, maybe]}
    shares: str  # JSON {class id: share}
    majority_labels: list[int]
    unsure_count: int
    bad_image_count: int
    none_fits_count: int
    agreement: float | None
    ds_posterior: str | None  # JSON {class id: posterior}
    ds_labels: list[int]
    ds_run_id: int | None
    labels: list[int]
    settled_classes: list[int] = field(default_factory=list)  # adaptive redundancy: questions not asked again
    open_classes: list[int] = field(default_factory=list)
    redundancy_state: str = ""  # "" under fixed redundancy, else OPEN / SETTLED / EXHAUSTED


def consensus_compute(data: VoteData, settings: ConsensusSettings, ds: DsParams | None = None) -> list[ConsensusRow]:
    """One row per image that has an annotation or a vote, in image order."""
    q = questions_of(data)
    vote = majority(q.votes, threshold=settings.threshold, dispute_band=settings.dispute_band)
    n_img = data.n_images

    def any_per_image(image: np.ndarray, flag: np.ndarray) -> np.ndarray:
        return np.bincount(image, np.asarray(flag, np.float64), minlength=n_img)

    annotations = np.bincount(data.ann_image, minlength=n_img)
    # Answers a class needs: N, or every annotator who answered the image while fewer did (it is pending
    # then); never fewer than 1. Every answer counts, None fits and Bad image too, though they may cast no
    # vote: they confirmed no class. (A vote always has its annotation; counting voters as well keeps the
    # bar where it belongs for arrays that lack annotations.)
    pairs = np.unique(q.image[q.votes.item] * max(q.votes.n_annotators, 1) + q.votes.annotator)
    voters = np.bincount(pairs // max(q.votes.n_annotators, 1), minlength=n_img)
    answered = np.maximum(annotations, voters)
    needed = np.maximum(np.minimum(settings.min_answers, answered[q.image]), 1)
    enough = vote.n >= needed
    valid = vote.valid & enough
    unsure = any_per_image(data.ann_image, data.ann_unsure).astype(np.int64)
    bad = any_per_image(data.ann_image, data.ann_bad_image).astype(np.int64)
    none_fits = any_per_image(data.ann_image, data.ann_none_fits).astype(np.int64)
    chose = any_per_image(data.ann_image, data.ann_has_classes) > 0
    reasons = np.stack(
        [
            any_per_image(q.image, vote.disputed) > 0,
            any_per_image(q.image, (vote.n > 0) & ~enough) > 0,
            unsure > 0,
            bad > 0,
            (none_fits > 0) & chose,
        ],
        axis=1,
    )
    posterior = ds.posterior(q) if ds is not None else None
    redundancy = _redundancy(data, q, vote, settings, ds, annotations)
    waiting = annotations < data.image_needed
    if redundancy is not None:  # an open image gets another annotation (the submit raises its need)
        waiting = waiting | (redundancy.image_state == OPEN)
    status = np.where(waiting, PENDING, np.where(reasons.any(axis=1), DISPUTED, AGREED))
    agreement = per_image_agreement(q.votes) if q.votes.n_votes else np.full(n_img, np.nan)
    ds_valid = (posterior > settings.ds_threshold) & enough if posterior is not None else np.zeros(len(q.image), bool)
    use_ds = settings.aggregation == "dawid_skene" and posterior is not None
    effective = ds_valid if use_ds else valid

    # Per-question JSON fragments once, then joined per image: json.dumps per image is 3× slower at 50k.
    ids = q.class_id.tolist()
    count_items = [
        f'"{c}": [{y}, {n}, {m}]'
        for c, y, n, m in zip(ids, vote.yes.tolist(), vote.no.tolist(), vote.maybe.tolist(), strict=True)
    ]
    share_items = _items(ids, np.round(np.nan_to_num(vote.share), 6))
    post_items = _items(ids, np.round(posterior, 6)) if posterior is not None else None
    valid, ds_list, effective_list = valid.tolist(), ds_valid.tolist(), effective.tolist()
    # Python values once for all images (indexing numpy per row costs more than the rest of the loop), and
    # one reason list per combination of flags present, looked up by its bit pattern.
    bits = (reasons.astype(np.int64) << np.arange(len(REASONS))).sum(axis=1).tolist()
    reasons_of = {b: [name for k, name in enumerate(REASONS) if b >> k & 1] for b in set(bits)}
    image_ids, status_list, annotation_counts = data.image_id.tolist(), status.tolist(), annotations.tolist()
    unsure_list, bad_list, none_fits_list = unsure.tolist(), bad.tolist(), none_fits.tolist()
    agreement_list = [None if a != a else round(a, 6) for a in agreement.tolist()]  # a != a: NaN
    run_id = ds.run_id if ds is not None else None
    starts = np.searchsorted(q.image, np.arange(n_img + 1)).tolist()
    if redundancy is not None:
        settled_list, asked_list = redundancy.settled.tolist(), redundancy.asked.tolist()
        state_list = redundancy.image_state.tolist()
    rows = []
    for i in np.flatnonzero((annotations > 0) | (np.diff(starts) > 0)).tolist():
        lo, hi = starts[i], starts[i + 1]
        rows.append(
            ConsensusRow(
                image_id=image_ids[i],
                status=status_list[i],
                dispute_reasons=list(reasons_of[bits[i]]),
                annotation_count=annotation_counts[i],
                counts="{" + ", ".join(count_items[lo:hi]) + "}",
                shares="{" + ", ".join(share_items[lo:hi]) + "}",
                majority_labels=[ids[k] for k in range(lo, hi) if valid[k]],
                unsure_count=unsure_list[i],
                bad_image_count=bad_list[i],
                none_fits_count=none_fits_list[i],
                agreement=agreement_list[i],
                ds_posterior="{" + ", ".join(post_items[lo:hi]) + "}" if post_items is not None else None,
                ds_labels=[ids[k] for k in range(lo, hi) if ds_list[k]],
                ds_run_id=run_id,
                labels=[ids[k] for k in range(lo, hi) if effective_list[k]],
            )
        )
        if redundancy is not None:
            rows[-1] = replace(
                rows[-1],
                settled_classes=[ids[k] for k in range(lo, hi) if settled_list[k] and asked_list[k]],
                open_classes=[ids[k] for k in range(lo, hi) if asked_list[k] and not settled_list[k]],
                redundancy_state=state_list[i],
            )
    return rows


@dataclass(frozen=True)
class _Redundancy:
    settled: np.ndarray  # (Q,) bool
    asked: np.ndarray  # (Q,) bool: a candidate question (one found through search never holds an image open)
    image_state: np.ndarray  # (I,) OPEN / SETTLED / EXHAUSTED


def _redundancy(
    data: VoteData, q: Questions, vote: MajorityResult, settings: ConsensusSettings, ds: DsParams | None,
    annotations: np.ndarray,
) -> _Redundancy | None:  # fmt: skip
    """Adaptive redundancy's state of every question and image (None under fixed redundancy): settled by the
    latest Dawid–Skene run's posterior when there is one, else by the majority margin."""
    rule = settings.redundancy_rule
    if rule is None:
        return None
    log_odds = ds.log_odds(q) if ds is not None else None
    settled = questions_settled(rule, n_answers=vote.n, yes=vote.yes, no=vote.no, log_odds=log_odds)
    if data.vote_candidate is None:
        asked = np.ones(len(settled), bool)
    else:
        asked = np.bincount(q.votes.item, data.vote_candidate.astype(np.float64), minlength=len(settled)) > 0
    extra = np.zeros(data.n_images, np.int64) if data.image_extra is None else data.image_extra
    state = images_state(
        rule, annotations=annotations, question_image=q.image, question_settled=settled | ~asked,
        maximum=rule.max_annotations + extra,
    )  # fmt: skip
    return _Redundancy(settled, asked, state)


def _items(ids: list[int], values: np.ndarray) -> list[str]:
    return [f'"{c}": {v!r}' for c, v in zip(ids, values.tolist(), strict=True)]
