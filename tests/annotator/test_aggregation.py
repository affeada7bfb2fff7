"""Majority vote and binary Dawid–Skene (annotator.core.aggregation): hand-worked values and simulations."""

from __future__ import annotations

import time

import numpy as np
import pytest

from annotator.core.aggregation import MAYBE, NO, YES, VoteArrays, dawid_skene, majority


def votes_from_table(table: list[list[int | None]]) -> VoteArrays:
    """Rows = questions, columns = annotators, None = not asked."""
    item, annotator, answer = zip(
        *[(q, a, ans) for q, row in enumerate(table) for a, ans in enumerate(row) if ans is not None], strict=True
    )
    return VoteArrays.from_columns(item, annotator, answer, n_items=len(table), n_annotators=len(table[0]))


def simulate(n_items=4000, n_annotators=12, per_item=5, prior=0.3, seed=0, sens=None, spec=None):
    rng = np.random.default_rng(seed)
    sens = rng.uniform(0.7, 0.95, n_annotators) if sens is None else np.asarray(sens)
    spec = rng.uniform(0.75, 0.97, n_annotators) if spec is None else np.asarray(spec)
    truth = rng.random(n_items) < prior
    who = np.argsort(rng.random((n_items, n_annotators)), axis=1)[:, :per_item]
    item = np.repeat(np.arange(n_items), per_item)
    annotator = who.ravel()
    u = rng.random(len(item))
    says_yes = np.where(truth[item], u < sens[annotator], u > spec[annotator])
    votes = VoteArrays.from_columns(
        item, annotator, np.where(says_yes, YES, NO), n_items=n_items, n_annotators=n_annotators
    )
    return votes, truth, sens, spec


def test_vote_arrays_infer_sizes_and_coerce_dtypes():
    votes = VoteArrays.from_columns([0, 0, 2], [1, 0, 1], [YES, NO, MAYBE], image_of_item=[0, 0, 1])
    assert (votes.n_items, votes.n_annotators, votes.n_images, votes.n_votes) == (3, 2, 2, 3)
    assert votes.item.dtype == np.int64 and votes.answer.dtype == np.int8
    assert votes.answer_counts().tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 1]]


def test_vote_arrays_reject_a_second_vote_by_the_same_annotator_on_a_question():
    with pytest.raises(ValueError, match="twice"):
        VoteArrays.from_columns([0, 0], [3, 3], [YES, NO])


@pytest.mark.parametrize(
    ("columns", "message"),
    [(([0], [0], [3]), "answer"), (([0, 1], [0], [1]), "equal length"), (([-1], [0], [1]), "item index")],
)
def test_vote_arrays_reject_malformed_columns(columns, message):
    with pytest.raises(ValueError, match=message):
        VoteArrays.from_columns(*columns)


def test_majority_counts_a_maybe_as_half_a_yes_by_default():
    # q0: 3 yes 2 no → 0.6; q1: 2 yes 2 no 1 maybe → 0.5 (tie: valid and disputed);
    # q2: 1 yes 3 no 1 maybe → 0.3; q3: nobody answered
    votes = votes_from_table([[1, 1, 1, 0, 0], [1, 1, 0, 0, 2], [1, 0, 0, 0, 2], [None] * 5])
    result = majority(votes)
    assert result.yes.tolist() == [3, 2, 1, 0] and result.maybe.tolist() == [0, 1, 1, 0]
    np.testing.assert_allclose(result.share[:3], [0.6, 0.5, 0.3])
    assert np.isnan(result.share[3])
    assert result.valid.tolist() == [True, True, False, False]
    assert result.disputed.tolist() == [False, True, False, False]


def test_majority_with_maybe_weight_zero_counts_maybe_as_not_yes():
    votes = votes_from_table([[1, 1, 0, 0, 2], [1, 1, 1, 2, 2]])
    result = majority(votes, maybe_weight=0.0)
    np.testing.assert_allclose(result.share, [0.4, 0.6])
    assert result.valid.tolist() == [False, True]


def test_majority_needs_min_votes_and_marks_near_ties_within_the_band():
    votes = votes_from_table([[1, None, None], [1, 1, 0], [1, 0, 0]])
    result = majority(votes, min_votes=2, dispute_band=0.2)
    assert result.valid.tolist() == [False, True, False]
    assert result.disputed.tolist() == [False, True, True]  # 2/3 and 1/3 are within 0.2 of 0.5


def test_dawid_skene_down_weights_an_annotator_who_always_says_yes():
    votes, truth, _, _ = simulate(n_annotators=6, per_item=6, sens=[0.9] * 5 + [1.0], spec=[0.9] * 5 + [0.0])
    result = dawid_skene(votes)
    assert result.specificity[5] < 0.05 and result.sensitivity[5] > 0.95
    # its yes carries no evidence: P(yes | valid) ≈ P(yes | not valid)
    assert abs(np.log(result.confusion[5, 1, YES] / result.confusion[5, 0, YES])) < 0.1
    assert np.mean((result.posterior > 0.5) == truth) > 0.98


def test_dawid_skene_recovers_simulated_sensitivity_specificity_and_prior():
    votes, truth, sens, spec = simulate(n_items=20000, seed=1)
    result = dawid_skene(votes)
    np.testing.assert_allclose(result.sensitivity, sens, atol=0.03)
    np.testing.assert_allclose(result.specificity, spec, atol=0.03)
    assert result.prior == pytest.approx(truth.mean(), abs=0.01)
    assert result.converged and result.iterations < 100
    assert np.mean((result.posterior > 0.5) == truth) > np.mean(majority(votes).valid == truth)


def test_dawid_skene_posterior_is_bayes_rule_with_its_own_confusion_matrices():
    votes, _, _, _ = simulate(n_items=300, n_annotators=5, seed=2)
    votes = VoteArrays.from_columns(
        votes.item, votes.annotator, np.where(np.arange(votes.n_votes) % 7 == 0, MAYBE, votes.answer)
    )
    result = dawid_skene(votes, tol=1e-12, max_iter=500)
    assert result.responses == ("no", "yes", "maybe")
    # an independent per-vote loop at the fixed point
    like = np.ones((votes.n_items, 2))
    for q, a, ans in zip(votes.item, votes.annotator, votes.answer, strict=True):
        like[q] *= result.confusion[a, :, ans]
    bayes = like[:, 1] * result.prior / (like[:, 1] * result.prior + like[:, 0] * (1 - result.prior))
    np.testing.assert_allclose(result.posterior, bayes, atol=1e-8)


def test_dawid_skene_gives_an_annotator_with_two_votes_roughly_crowd_average_rates():
    votes, _, _, _ = simulate(n_items=3000, n_annotators=10, seed=3)
    newcomer = VoteArrays.from_columns(
        np.r_[votes.item, 0, 1], np.r_[votes.annotator, 10, 10], np.r_[votes.answer, YES, YES]
    )
    result = dawid_skene(newcomer)
    crowd_sens = np.mean(result.sensitivity[:10])
    assert 0.5 < result.sensitivity[10] < 1.0 and abs(result.sensitivity[10] - crowd_sens) < 0.15
    assert result.specificity[10] > 0.5  # never saw a negative, still not treated as useless


def test_dawid_skene_estimates_a_separate_prior_per_group_and_keeps_unasked_questions_at_it():
    n = 6000
    groups = np.r_[np.arange(n) % 2, 0, 1]  # two extra questions nobody answered
    votes, truth, _, _ = simulate(n_items=n, prior=np.where(groups[:n] == 0, 0.7, 0.1), seed=4)
    votes = VoteArrays.from_columns(votes.item, votes.annotator, votes.answer, n_items=n + 2)
    result = dawid_skene(votes, groups=groups)
    assert result.group_prior[0] == pytest.approx(truth[groups[:n] == 0].mean(), abs=0.02)
    assert result.group_prior[1] == pytest.approx(truth[groups[:n] == 1].mean(), abs=0.02)
    np.testing.assert_allclose(result.posterior[n:], result.group_prior)


def test_dawid_skene_maybe_modes_agree_when_nobody_says_maybe():
    votes, _, _, _ = simulate(n_items=1000, seed=5)
    posteriors = [dawid_skene(votes, maybe=mode, tol=1e-10).posterior for mode in ("no", "yes", "half")]
    for other in posteriors[1:]:
        np.testing.assert_allclose(other, posteriors[0], atol=1e-6)


def test_dawid_skene_half_mode_scores_a_maybe_as_half_a_no_plus_half_a_yes():
    votes, _, _, _ = simulate(n_items=300, n_annotators=5, seed=8)
    answer = np.where(np.arange(votes.n_votes) % 5 == 0, MAYBE, votes.answer)
    votes = VoteArrays.from_columns(votes.item, votes.annotator, answer)
    result = dawid_skene(votes, maybe="half", tol=1e-12, max_iter=500)
    assert result.responses == ("no", "yes") and result.confusion.shape == (5, 2, 2)
    like = np.ones((votes.n_items, 2))
    for q, a, ans in zip(votes.item, votes.annotator, votes.answer, strict=True):
        conf = result.confusion[a]
        like[q] *= np.sqrt(conf[:, NO] * conf[:, YES]) if ans == MAYBE else conf[:, ans]
    bayes = like[:, 1] * result.prior / (like[:, 1] * result.prior + like[:, 0] * (1 - result.prior))
    np.testing.assert_allclose(result.posterior, bayes, atol=1e-8)


def test_dawid_skene_stops_at_max_iter_and_says_it_did_not_converge():
    votes, _, _, _ = simulate(n_items=2000, seed=6)
    result = dawid_skene(votes, max_iter=2, tol=0.0)
    assert (result.iterations, result.converged) == (2, False)
    assert np.isfinite(result.log_likelihood)
    converged = dawid_skene(votes)
    assert converged.converged and converged.log_likelihood >= result.log_likelihood


def test_dawid_skene_runs_20_iterations_on_750k_votes_in_well_under_two_seconds():
    # 50k images × 3 candidate classes × 5 annotators out of 200; measured ~0.16 s on 2 cores
    votes, truth, _, _ = simulate(n_items=150_000, n_annotators=200, per_item=5, seed=7)
    assert votes.n_votes == 750_000
    start = time.perf_counter()
    result = dawid_skene(votes, max_iter=20, tol=0.0)
    elapsed = time.perf_counter() - start
    assert result.iterations == 20
    assert np.mean((result.posterior > 0.5) == truth) > 0.95
    assert elapsed < 2.0, f"{elapsed:.2f} s"
