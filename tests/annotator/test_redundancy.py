"""Adaptive redundancy: the settled rule (annotator.core.redundancy) and the replay of answer sets under a policy
(annotator.core.replay), on small synthetic answer sets, against plain loops written out separately."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annotator.core.aggregation import MAYBE, NO, YES, VoteArrays
from annotator.core.redundancy import (
    EXHAUSTED,
    OPEN,
    SETTLED,
    RedundancyRule,
    images_state,
    open_reason,
    questions_settled,
)
from annotator.core.replay import (
    ADAPTIVE,
    FIRST_TWO,
    FIXED,
    MARGIN,
    DsWeights,
    Policy,
    adaptive_taken,
    answers_taken,
    arrival,
    equal_shares,
    used_votes,
    warmup_images,
)

RULE = RedundancyRule()


def test_two_agreeing_answers_settle_a_question_without_a_run_and_a_split_does_not():
    settled = questions_settled(
        RULE, n_answers=np.array([2, 2, 2, 1, 4, 4, 3]), yes=np.array([2, 0, 1, 1, 3, 2, 1]),
        no=np.array([0, 2, 1, 0, 1, 2, 0]),
    )  # fmt: skip
    # yes/yes, no/no settle; yes/no does not; one answer is below the minimum; y n y y has a margin of 2;
    # two each does not; y maybe maybe has a margin of one
    assert settled.tolist() == [True, True, False, False, True, False, False]


def test_with_a_run_a_question_is_settled_when_its_posterior_leaves_the_confidence_band():
    bound = math.log(0.95 / 0.05)
    log_odds = np.array([bound + 0.01, -bound - 0.01, bound - 0.01, 0.0, bound, 10.0])
    settled = questions_settled(
        RULE, n_answers=np.array([2, 2, 2, 5, 3, 1]), yes=np.zeros(6), no=np.zeros(6), log_odds=log_odds
    )
    # posterior 0.95 exactly counts as outside [0.05, 0.95]; a certain one with one answer waits for the minimum
    assert settled.tolist() == [True, True, False, False, True, False]


def test_with_a_label_cut_the_band_sits_around_the_cut_not_around_a_half():
    # t = 0.8: the label flips at log-odds logit(0.8) = ln 4; c = 0.95 asks for odds 19 times beyond it either way
    rule = RedundancyRule(confidence=0.95, label_threshold=0.8)
    cut, bound = math.log(4), math.log(19)
    log_odds = np.array([cut + bound + 0.01, cut - bound - 0.01, cut + bound - 0.01, cut - bound + 0.01, bound + 0.01,
                         -bound - 0.01, cut + bound, cut - bound])  # fmt: skip
    settled = questions_settled(rule, n_answers=np.full(8, 2), yes=np.zeros(8), no=np.zeros(8), log_odds=log_odds)
    # a posterior of 0.951 (log-odds ln 19 + 0.01) was settled around ½ but is only 4.8:1 beyond the cut: open;
    # a posterior of 0.049 is ~77:1 below the cut: settled; exactly 19:1 beyond the cut counts as outside
    assert settled.tolist() == [True, True, False, False, False, True, True, True]
    # the same by posteriors, independently: posterior odds / cut odds outside [1/19, 19]
    posterior = 1 / (1 + np.exp(-log_odds))
    ratio = (posterior / (1 - posterior)) / 4.0
    assert settled.tolist() == ((ratio >= 19 * (1 - 1e-9)) | (ratio <= (1 + 1e-9) / 19)).tolist()
    # without a run the margin rule is the same whatever the cut
    yes, no = np.array([2, 0, 1]), np.array([0, 2, 1])
    assert (
        questions_settled(rule, n_answers=np.full(3, 2), yes=yes, no=no).tolist()
        == questions_settled(RULE, n_answers=np.full(3, 2), yes=yes, no=no).tolist()
        == [True, True, False]
    )


@pytest.mark.parametrize("t", [0.0, 1.0, -0.1, 1.5])
def test_a_label_threshold_outside_the_open_unit_interval_is_refused(t):
    with pytest.raises(ValueError, match="label threshold"):
        RedundancyRule(label_threshold=t)


def test_an_image_is_settled_when_all_its_questions_are_and_it_has_the_minimum_else_open_until_the_maximum():
    state = images_state(
        RULE, annotations=np.array([2, 3, 5, 1, 2]), question_image=np.array([0, 0, 1, 1, 2, 3]),
        question_settled=np.array([True, True, True, False, False, True]),
    )  # fmt: skip
    assert state.tolist() == [SETTLED, OPEN, EXHAUSTED, OPEN, SETTLED]  # image 4 has no question
    assert open_reason(OPEN, 3, 1) == "undecided after 3 answers (1 open question)"
    assert open_reason(SETTLED, 2, 0) == "settled after 2 answers"
    assert open_reason(EXHAUSTED, 5, 2) == "still undecided after the maximum of 5 answers"


def test_rules_out_of_range_are_refused():
    for kwargs in ({"min_annotations": 3, "max_annotations": 2}, {"confidence": 0.5}, {"confidence": 1.0},
                   {"margin": 0}, {"min_annotations": 0}):  # fmt: skip
        with pytest.raises(ValueError):
            RedundancyRule(**kwargs)


def _votes(table: list[list[int | None]], image_of_item: list[int]) -> VoteArrays:
    """Rows = questions, columns = raters, None = the rater did not answer."""
    cells = [(q, a, ans) for q, row in enumerate(table) for a, ans in enumerate(row) if ans is not None]
    item, annotator, answer = (np.array(c) for c in zip(*cells, strict=True))
    return VoteArrays.from_columns(item, annotator, answer, n_items=len(table), n_annotators=len(table[0]),
                                   image_of_item=np.array(image_of_item))  # fmt: skip


Y, N, M = YES, NO, MAYBE
# image 0: clear (every rater agrees on both questions); image 1: one clear and one contested question
TABLE = [
    [Y, Y, Y, Y, Y],
    [N, N, N, N, N],
    [N, N, N, N, N],
    [Y, N, M, M, M],  # whatever the order, yes and no never differ by 2
]
IMAGES = [0, 0, 1, 1]


def test_a_clear_image_stops_at_the_minimum_and_a_contested_question_goes_to_the_maximum():
    arrived = arrival(_votes(TABLE, IMAGES), seed=3)
    taken = answers_taken(arrived, Policy(MARGIN))
    assert taken.tolist() == [2, 2, 2, 5]
    image_level = answers_taken(arrived, Policy(MARGIN, question_level=False))
    assert image_level.tolist() == [2, 2, 5, 5]  # the clear question of image 1 is asked along
    assert answers_taken(arrived, Policy(FIXED, RedundancyRule(max_annotations=3))).tolist() == [3, 3, 3, 3]
    assert used_votes(arrived, taken).n_votes == 11


def test_with_a_run_answers_of_a_reliable_rater_settle_sooner_than_those_of_a_coin():
    # rater 0 is worth ±4 in log-odds, the others ±1; the prior is even
    llr = np.array([[-4.0, 4.0, 0.0]] + [[-1.0, 1.0, 0.0]] * 4)
    weights = DsWeights(llr, np.zeros(1))
    votes = _votes([[Y, Y, Y, Y, Y], [N, Y, Y, Y, Y]], [0, 1])
    arrived = arrival(votes, seed=0)
    rule = RedundancyRule(confidence=0.95)  # needs |log-odds| ≥ 2.94
    taken = answers_taken(arrived, Policy(ADAPTIVE, rule), weights, np.zeros(2, np.int64))
    expected = [_loop_adaptive(arrived, q, llr, rule) for q in range(2)]
    assert taken.tolist() == expected


def _loop_adaptive(arrived, question: int, llr: np.ndarray, rule: RedundancyRule) -> int:
    """The rule written as a loop over one question's answers in arrival order."""
    votes = arrived.votes
    mine = [
        (int(a), int(ans)) for q, a, ans in zip(votes.item, votes.annotator, votes.answer, strict=True) if q == question
    ]
    total = 0.0
    for k, (a, ans) in enumerate(mine, start=1):
        total += llr[a, ans]
        cut = math.log(rule.label_threshold / (1 - rule.label_threshold))
        if k >= rule.min_annotations and abs(total - cut) >= math.log(rule.confidence / (1 - rule.confidence)) - 1e-9:
            return k
        if k == rule.max_annotations:
            return k
    return len(mine)


def _random_votes(seed: int, n_images: int = 60) -> tuple[VoteArrays, np.ndarray]:
    rng = np.random.default_rng(seed)
    per_image = rng.integers(1, 5, n_images)
    image_of_item = np.repeat(np.arange(n_images), per_image)
    n_items, n_raters = len(image_of_item), 9
    item = np.repeat(np.arange(n_items), 5)
    annotator = np.concatenate([rng.choice(n_raters, 5, replace=False) for _ in range(n_items)])
    truth = rng.random(n_items) < 0.4
    right = rng.random(len(item)) < 0.85
    answer = np.where(right, np.where(truth[item], YES, NO), np.where(truth[item], NO, YES))
    answer[rng.random(len(item)) < 0.08] = MAYBE
    votes = VoteArrays.from_columns(item, annotator, answer, n_items=n_items, n_annotators=n_raters,
                                    image_of_item=image_of_item)  # fmt: skip
    return votes, (image_of_item % 2).astype(np.int64)


def test_the_arrival_order_follows_one_seeded_rater_order_per_image():
    votes, _ = _random_votes(1)
    first, again, other = arrival(votes, seed=5), arrival(votes, seed=5), arrival(votes, seed=6)
    assert np.array_equal(first.votes.annotator, again.votes.annotator)
    assert not np.array_equal(first.votes.annotator, other.votes.annotator)
    # within an image, any two raters come in the same relative order on every question they both answered
    before: dict[tuple[int, int, int], bool] = {}
    sequences: dict[int, list[int]] = {}
    for q, a in zip(first.votes.item.tolist(), first.votes.annotator.tolist(), strict=True):
        sequences.setdefault(q, []).append(a)
    for q, sequence in sequences.items():
        image = int(votes.image_of_item[q])
        assert first.position[first.starts[q] : first.starts[q] + len(sequence)].tolist() == list(
            range(1, len(sequence) + 1)
        )
        for i, a in enumerate(sequence):
            for b in sequence[i + 1 :]:
                assert before.setdefault((image, a, b), True) is True
                assert before.setdefault((image, b, a), False) is False


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_vectorised_replay_matches_a_loop_over_each_question(seed):
    votes, groups = _random_votes(seed)
    arrived = arrival(votes, seed=seed)
    for policy in (Policy(MARGIN), Policy(FIRST_TWO), Policy(MARGIN, RedundancyRule(min_annotations=3, margin=1))):
        expected = [_loop_margin(arrived, q, policy) for q in range(votes.n_items)]
        assert answers_taken(arrived, policy).tolist() == expected
    llr = np.random.default_rng(seed).normal(0, 2, (9, 3))
    weights = DsWeights(llr, np.array([0.0, 0.0]))
    for rule in (RedundancyRule(confidence=0.9), RedundancyRule(confidence=0.9, label_threshold=0.8)):
        expected = [_loop_adaptive(arrived, q, llr, rule) for q in range(votes.n_items)]
        assert answers_taken(arrived, Policy(ADAPTIVE, rule), weights, groups).tolist() == expected


def _loop_margin(arrived, question: int, policy: Policy) -> int:
    votes, rule = arrived.votes, policy.rule
    answers = [int(ans) for q, ans in zip(votes.item, votes.answer, strict=True) if q == question]
    yes = no = 0
    for k, ans in enumerate(answers, start=1):
        yes += ans == YES
        no += ans == NO
        if policy.kind == FIRST_TWO:
            if k == 2 and (yes == 2 or no == 2):
                return 2
        elif k >= rule.min_annotations and abs(yes - no) >= rule.margin:
            return k
        if k == rule.max_annotations:
            return k
    return len(answers)


def test_adaptive_answers_warmup_images_by_margin_and_the_others_with_the_warmup_run():
    votes, groups = _random_votes(4, n_images=200)
    arrived = arrival(votes, seed=4)
    warmup = warmup_images(votes.n_images, 0.3, seed=4)
    taken, weights = adaptive_taken(arrived, Policy(ADAPTIVE), groups, warmup=warmup)
    in_warmup = warmup[votes.image_of_item]
    assert np.array_equal(taken[in_warmup], answers_taken(arrived, Policy(MARGIN))[in_warmup])
    later = answers_taken(arrived, Policy(ADAPTIVE), weights, groups)
    assert np.array_equal(taken[~in_warmup], later[~in_warmup])
    # reliable simulated raters: a right answer weighs for its side
    assert (weights.answer_llr[:, YES] > 0).all() and (weights.answer_llr[:, NO] < 0).all()
    assert 2 * votes.n_items <= taken.sum() < 5 * votes.n_items


def test_equal_shares_count_questions_and_whole_images():
    ours = np.array([True, False, True, True])
    reference = np.array([True, False, False, True])
    image = np.array([0, 0, 1, 2])
    assert equal_shares(ours, reference, image, 4) == (0.75, 2 / 3)  # image 3 has no question
    assert equal_shares(ours, reference, image, 4, image_extra=np.array([1, 0, 0, 0])) == (0.75, 1 / 3)
