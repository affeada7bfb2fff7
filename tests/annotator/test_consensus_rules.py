"""Properties of the consensus rules (`annotator.core.consensus_rules`) over every combination of answers.

Hypothesis draws small datasets the way the workbench fills them: each image has candidates (or none, or
only its original label to show), each annotator answers it or not, choosing shown classes, classes found
through search, *None fits*, *Bad image* (with or without classes) or *Unsure* (all maybe); the votes follow
`relabel_votes_write`'s rule. Settings, the Dawid–Skene run (none, or learnt parameters for some of the
annotators) and its prior mode are drawn too. Each property is checked against a plain re-computation.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from annotator.core.aggregation import MAYBE, NO, YES
from annotator.core.consensus_rules import (
    AGREED,
    DISPUTED,
    PENDING,
    REASONS,
    ConsensusRow,
    ConsensusSettings,
    DsParams,
    VoteData,
    consensus_compute,
)
from evaluation.core.release_rules import ConsensusFacts, ReleaseParameters, image_outcome

CLASS_IDS = [51, 54, 57, 60, 63]
CLASS_INDEX = [0, 1, 397, 398, 999]  # ImageNet animals (< 398) and objects, for ReaL's strata
USER_IDS = [11, 12, 13, 14]
GROUPS = {"single": 1, "original": 2, "imagenet_real": 3}
GRID = [k / 20 for k in range(1, 21)]  # τ and cuts on a grid: no share or posterior sits a rounding away


@dataclass(frozen=True)
class AnswerDraw:
    chosen: tuple[int, ...] = ()  # class positions; those not shown were found through search
    none_fits: bool = False
    unsure: bool = False
    bad_image: bool = False


@dataclass(frozen=True)
class ImageDraw:
    needed: int
    original: int | None  # class position
    candidates: tuple[int, ...]
    answers: tuple[AnswerDraw | None, ...]  # per annotator; None: not answered

    @property
    def shown(self) -> tuple[int, ...]:
        if self.candidates:
            return self.candidates
        return () if self.original is None else (self.original,)


@st.composite
def answers(draw: st.DrawFn, n_classes: int) -> AnswerDraw:
    """Any answer the submit accepts: classes and/or flags, never None fits with a class, never nothing."""
    chosen = tuple(draw(st.lists(st.integers(0, n_classes - 1), max_size=n_classes, unique=True)))
    none_fits = not chosen and draw(st.booleans())
    unsure, bad_image = draw(st.booleans()), draw(st.booleans())
    if not (chosen or none_fits or unsure or bad_image):
        none_fits = True
    return AnswerDraw(chosen, none_fits, unsure, bad_image)


@st.composite
def datasets(draw: st.DrawFn) -> tuple[list[ImageDraw], int]:
    n_classes = draw(st.integers(1, len(CLASS_IDS)))
    n_annotators = draw(st.integers(1, len(USER_IDS)))
    images = []
    for _ in range(draw(st.integers(1, 4))):
        original = draw(st.none() | st.integers(0, n_classes - 1))
        candidates = draw(st.lists(st.integers(0, n_classes - 1), max_size=n_classes, unique=True))
        answered = draw(st.lists(st.none() | answers(n_classes), min_size=n_annotators, max_size=n_annotators))
        images.append(ImageDraw(draw(st.integers(1, 4)), original, tuple(candidates), tuple(answered)))
    return images, n_classes


def vote_data(images: list[ImageDraw]) -> VoteData:
    """The arrays `dataset_vote_data` reads, with the votes `relabel_votes_write` writes."""
    votes, annotations = [], []
    for i, image in enumerate(images):
        for a, answer in enumerate(image.answers):
            if answer is None:
                continue
            flags = (answer.none_fits, answer.unsure, answer.bad_image)
            annotations.append((i, USER_IDS[a], *flags, bool(answer.chosen)))
            if answer.bad_image and not answer.chosen:
                continue  # a bad image with nothing chosen judged no class
            for c in sorted(set(image.shown) | set(answer.chosen)):
                code = YES if c in answer.chosen else MAYBE if answer.unsure else NO
                votes.append((i, CLASS_IDS[c], CLASS_INDEX[c], USER_IDS[a], code))
    v = np.array(votes, np.int64).reshape(-1, 5)
    n = np.array(annotations, np.int64).reshape(-1, 6)
    return VoteData(
        image_id=np.array([1000 + 7 * i for i in range(len(images))], np.int64),
        image_needed=np.array([image.needed for image in images], np.int64),
        image_original=np.array([-1 if im.original is None else CLASS_IDS[im.original] for im in images], np.int64),
        vote_image=v[:, 0], vote_class=v[:, 1], vote_class_index=v[:, 2], vote_annotator=v[:, 3],
        vote_answer=v[:, 4].astype(np.int8), ann_image=n[:, 0], ann_annotator=n[:, 1],
        ann_none_fits=n[:, 2].astype(bool), ann_unsure=n[:, 3].astype(bool), ann_bad_image=n[:, 4].astype(bool),
        ann_has_classes=n[:, 5].astype(bool), ann_seconds=np.zeros(len(n)),
    )  # fmt: skip


def one_image(data: VoteData, i: int) -> VoteData:
    """What the live update of image `i` reads: its own votes and annotations only."""
    votes, anns = data.vote_image == i, data.ann_image == i
    return VoteData(
        image_id=data.image_id[i : i + 1], image_needed=data.image_needed[i : i + 1],
        image_original=data.image_original[i : i + 1], vote_image=np.zeros(votes.sum(), np.int64),
        vote_class=data.vote_class[votes], vote_class_index=data.vote_class_index[votes],
        vote_annotator=data.vote_annotator[votes], vote_answer=data.vote_answer[votes],
        ann_image=np.zeros(anns.sum(), np.int64), ann_annotator=data.ann_annotator[anns],
        ann_none_fits=data.ann_none_fits[anns], ann_unsure=data.ann_unsure[anns],
        ann_bad_image=data.ann_bad_image[anns], ann_has_classes=data.ann_has_classes[anns],
        ann_seconds=data.ann_seconds[anns],
    )  # fmt: skip


log_ratio = st.floats(-6, 6, allow_nan=False)
llr_triples = st.tuples(log_ratio, log_ratio, log_ratio)


@st.composite
def ds_runs(draw: st.DrawFn) -> DsParams | None:
    mode = draw(st.sampled_from(sorted(GROUPS)))
    if draw(st.booleans()):
        return None  # no Dawid–Skene run yet
    seen = draw(st.lists(st.sampled_from(USER_IDS), unique=True))  # annotators the run learnt
    return DsParams(
        run_id=draw(st.integers(1, 10**6)),
        prior_mode=mode,
        llr={uid: draw(llr_triples) for uid in seen},
        default_llr=draw(llr_triples),
        group_log_odds=np.array(draw(st.lists(log_ratio, min_size=GROUPS[mode], max_size=GROUPS[mode]))),
    )


consensus_settings = st.builds(
    ConsensusSettings,
    threshold=st.sampled_from(GRID),
    dispute_band=st.sampled_from([0.0, 0.1, 0.2]),
    min_answers=st.integers(1, 5),
    aggregation=st.sampled_from(["majority", "dawid_skene"]),
    ds_threshold=st.sampled_from(GRID[:-1]),
)


def _expected(image: ImageDraw, data: VoteData, i: int, config: ConsensusSettings, ds: DsParams | None) -> dict:
    """One image's consensus by hand, question by question."""
    mine = data.vote_image == i
    by_class: dict[int, list[tuple[int, int]]] = {}
    for c, a, code in zip(data.vote_class[mine], data.vote_annotator[mine], data.vote_answer[mine], strict=True):
        by_class.setdefault(int(c), []).append((int(a), int(code)))
    answered = sum(answer is not None for answer in image.answers)
    needed = max(min(config.min_answers, answered), 1)
    counts = {c: [sum(code == k for _, code in v) for k in (YES, NO, MAYBE)] for c, v in by_class.items()}
    shares = {c: (y + m / 2) / (y + n + m) for c, (y, n, m) in counts.items()}
    majority = sorted(c for c, s in shares.items() if s >= config.threshold - 1e-12 and sum(counts[c]) >= needed)
    posterior, ds_labels = None, []
    if ds is not None:
        posterior = {c: _posterior(ds, c, v, data.image_original[i]) for c, v in by_class.items()}
        ds_labels = sorted(c for c, p in posterior.items() if p > config.ds_threshold and sum(counts[c]) >= needed)
    return {"needed": needed, "counts": counts, "shares": shares, "majority": majority, "posterior": posterior,
            "ds_labels": ds_labels, "answered": answered}  # fmt: skip


def _posterior(ds: DsParams, class_id: int, votes: list[tuple[int, int]], original: int) -> float:
    index, is_original = CLASS_INDEX[CLASS_IDS.index(class_id)], class_id == original
    group = {"single": 0, "original": int(not is_original),
             "imagenet_real": 0 if index < 398 and is_original else 1 if index < 398 else 2}[ds.prior_mode]  # fmt: skip
    log_odds = ds.group_log_odds[group] + sum(ds.llr.get(a, ds.default_llr)[code] for a, code in votes)
    return 1 / (1 + math.exp(-log_odds)) if log_odds >= 0 else math.exp(log_odds) / (1 + math.exp(log_odds))


def _row_of(rows: list[ConsensusRow], image_id: int) -> ConsensusRow | None:
    return next((r for r in rows if r.image_id == image_id), None)


HUBBLE = (
    # hubble_deep_field.jpg: no original label, no candidate; None fits, Bad image, Bad image, and one
    # annotator's class found through search.
    [ImageDraw(3, None, (), (AnswerDraw(none_fits=True), AnswerDraw(bad_image=True), AnswerDraw(bad_image=True),
                             AnswerDraw((0,))))],
    1,
)  # fmt: skip


@settings(max_examples=300, deadline=None, database=None)
@given(drawn=datasets(), config=consensus_settings, ds=ds_runs())
@example(drawn=HUBBLE, config=ConsensusSettings(aggregation="dawid_skene", ds_threshold=0.05),
         ds=DsParams(1, "original", {}, (-2.0, 3.0, 0.5), np.array([0.0, 0.0])))  # fmt: skip
@example(drawn=([ImageDraw(2, 0, (), (AnswerDraw(none_fits=True), AnswerDraw(bad_image=True)))], 1),
         config=ConsensusSettings(), ds=DsParams(1, "single", {}, (0.0, 1.0, 0.5), np.array([0.0])))  # fmt: skip
def test_the_consensus_of_any_answers_follows_the_rules(drawn, config, ds):
    images, _ = drawn
    data = vote_data(images)
    rows = consensus_compute(data, config, ds)  # never raises

    # Rows exactly for the images with an answer (every vote comes with its annotation), in image order.
    with_answers = [
        int(data.image_id[i]) for i, image in enumerate(images) if any(a is not None for a in image.answers)
    ]
    assert [r.image_id for r in rows] == with_answers

    for i, image in enumerate(images):
        row = _row_of(rows, int(data.image_id[i]))
        if row is None:
            continue
        expected = _expected(image, data, i, config, ds)
        counts = {int(c): v for c, v in json.loads(row.counts).items()}
        assert counts == expected["counts"] and row.annotation_count == expected["answered"]
        shares = {int(c): s for c, s in json.loads(row.shares).items()}
        assert shares == pytest.approx(expected["shares"], abs=1e-6) and all(0 <= s <= 1 for s in shares.values())

        # Label sets: a subset of the voted classes, each with the answers it needs.
        assert row.majority_labels == expected["majority"]
        assert set(row.labels) | set(row.ds_labels) <= set(counts)
        assert all(sum(counts[c]) >= expected["needed"] for c in row.labels + row.ds_labels)
        if ds is None:
            assert row.ds_posterior is None and row.ds_run_id is None and row.ds_labels == []
            assert row.labels == row.majority_labels
        else:
            posterior = {int(c): p for c, p in json.loads(row.ds_posterior).items()}
            assert set(posterior) == set(counts) and all(0.0 <= p <= 1.0 for p in posterior.values())
            assert posterior == pytest.approx(expected["posterior"], abs=1e-6) and row.ds_run_id == ds.run_id
            assert row.ds_labels == expected["ds_labels"]
            assert row.labels == (row.ds_labels if config.aggregation == "dawid_skene" else row.majority_labels)

        # Flags, reasons and status.
        given_answers = [a for a in image.answers if a is not None]
        assert row.none_fits_count == sum(a.none_fits for a in given_answers)
        assert row.bad_image_count == sum(a.bad_image for a in given_answers)
        assert row.unsure_count == sum(a.unsure for a in given_answers)
        chose = any(a.chosen for a in given_answers)
        assert ("none_fits_conflict" in row.dispute_reasons) == (row.none_fits_count > 0 and chose)
        assert row.dispute_reasons == [r for r in REASONS if r in row.dispute_reasons]  # known, in order
        assert ("bad_image" in row.dispute_reasons) == (row.bad_image_count > 0)
        assert ("unsure" in row.dispute_reasons) == (row.unsure_count > 0)
        short = any(0 < sum(v) < expected["needed"] for v in counts.values())
        assert ("few_answers" in row.dispute_reasons) == short
        if row.annotation_count < image.needed:
            assert row.status == PENDING
        else:
            assert row.status == (DISPUTED if row.dispute_reasons else AGREED)
        assert row.agreement is None or 0.0 <= row.agreement <= 1.0

        # The live update of the image alone computes the same row.
        assert consensus_compute(one_image(data, i), config, ds) == [row]

        # A release with the dataset's settings lists the same classes once the image has N annotations.
        if row.annotation_count >= config.min_answers:
            facts = ConsensusFacts(
                has_row=True, annotation_count=row.annotation_count, counts=json.loads(row.counts),
                shares=json.loads(row.shares), posterior=json.loads(row.ds_posterior) if ds else None,
                disputed=bool(row.dispute_reasons),
            )  # fmt: skip
            aggregation = config.aggregation if ds is not None else "majority"
            threshold = config.ds_threshold if aggregation == "dawid_skene" else config.threshold
            outcome = image_outcome(facts, ReleaseParameters(aggregation, threshold, config.min_answers))
            assert outcome.classes == sorted(row.labels)
            if row.status != PENDING:
                assert outcome.status == row.status


@settings(max_examples=100, deadline=None, database=None)
@given(drawn=datasets(), config=consensus_settings, ds=ds_runs(), seed=st.integers(0, 2**32 - 1))
def test_the_order_of_the_votes_and_annotations_changes_nothing(drawn, config, ds, seed):
    data = vote_data(drawn[0])
    rng = np.random.default_rng(seed)
    v, a = rng.permutation(len(data.vote_image)), rng.permutation(len(data.ann_image))
    shuffled = VoteData(
        data.image_id, data.image_needed, data.image_original, data.vote_image[v], data.vote_class[v],
        data.vote_class_index[v], data.vote_annotator[v], data.vote_answer[v], data.ann_image[a],
        data.ann_annotator[a], data.ann_none_fits[a], data.ann_unsure[a], data.ann_bad_image[a],
        data.ann_has_classes[a], data.ann_seconds[a],
    )  # fmt: skip
    assert consensus_compute(shuffled, config, ds) == consensus_compute(data, config, ds)


@pytest.mark.parametrize("mode", sorted(GROUPS))
def test_an_image_without_any_vote_is_scored_by_a_dawid_skene_run_of_every_prior_mode(mode):
    """None fits and Bad image on an image without candidates; the posterior has no question."""
    images = [ImageDraw(2, None, (), (AnswerDraw(none_fits=True), AnswerDraw(bad_image=True)))]
    ds = DsParams(7, mode, {11: (-1.0, 2.0, 0.3)}, (-1.0, 1.0, 0.0), np.zeros(GROUPS[mode]))
    (row,) = consensus_compute(vote_data(images), ConsensusSettings(aggregation="dawid_skene"), ds)
    assert (row.ds_posterior, row.labels, row.status, row.ds_run_id) == ("{}", [], "disputed", 7)


@pytest.mark.parametrize(("ds_threshold", "settled", "still_open"), [(0.8, [1], [0]), (0.5, [0], [1])])
def test_adaptive_redundancy_settles_a_question_by_its_distance_from_the_datasets_ds_threshold(
    ds_threshold, settled, still_open
):
    # two annotators both choose class 0 of the two shown: class 0 has two yes, class 1 two no. Each yes adds 1.6
    # to the log-odds, each no −0.8, the prior is even: class 0's posterior is σ(3.2) = 0.961, class 1's σ(−1.6) =
    # 0.168. At c = 0.95 a question needs odds 19 times beyond those of the DS threshold t:
    # t = 0.8 (odds 4): 0.961 (odds 24.5) is 6.1 times above, open; 0.168 (odds 0.202) is 19.8 times below, settled;
    # t = ½ (odds 1): 0.961 is 24.5 times above, settled; 0.168 is 4.95 times below, open.
    both = AnswerDraw(chosen=(0,))
    data = vote_data([ImageDraw(2, None, (0, 1), (both, both))])
    config = ConsensusSettings(redundancy="adaptive", ds_threshold=ds_threshold, aggregation="dawid_skene")
    (row,) = consensus_compute(data, config, DsParams(1, "single", {}, (-0.8, 1.6, 0.0), np.array([0.0])))
    posterior = json.loads(row.ds_posterior)
    assert posterior[str(CLASS_IDS[0])] == pytest.approx(1 / (1 + math.exp(-3.2)), abs=1e-6)  # stored to 6 places
    assert posterior[str(CLASS_IDS[1])] == pytest.approx(1 / (1 + math.exp(1.6)), abs=1e-6)
    assert row.settled_classes == [CLASS_IDS[c] for c in settled]
    assert row.open_classes == [CLASS_IDS[c] for c in still_open]
    assert row.redundancy_state == "open" and row.status == PENDING
