"""Agreement statistics (annotator.core.agreement) against hand-worked values and reference libraries."""

from __future__ import annotations

import time

import krippendorff
import numpy as np
import pytest
from nltk.metrics.agreement import AnnotationTask
from nltk.metrics.distance import jaccard_distance, masi_distance
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from annotator.core.aggregation import MAYBE, NO, YES, VoteArrays
from annotator.core.agreement import (
    LabelSets,
    agreement_histogram,
    binary_alpha,
    consensus_set_sizes,
    cooccurring_pairs,
    krippendorff_alpha_nominal,
    pairwise_cohen_kappa,
    per_annotator_agreement,
    per_class_agreement,
    per_image_agreement,
    set_alpha,
)


def votes_from_matrix(matrix: np.ndarray, image_of_item=None) -> VoteArrays:
    """matrix: annotators × questions of answers, NaN = not asked."""
    annotator, item = np.nonzero(~np.isnan(matrix))
    return VoteArrays.from_columns(
        item,
        annotator,
        matrix[annotator, item].astype(int),
        n_items=matrix.shape[1],
        n_annotators=matrix.shape[0],
        image_of_item=image_of_item,
    )


def random_matrix(n_annotators=6, n_items=80, missing=0.3, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = rng.choice([NO, YES, MAYBE], size=(n_annotators, n_items), p=[0.5, 0.35, 0.15]).astype(float)
    matrix[rng.random(matrix.shape) < missing] = np.nan
    return matrix


def random_label_sets(seed: int, n_units=12, n_classes=5, empty=False):
    rng = np.random.default_rng(seed)
    unit, coder, sets = [], [], []
    for u in range(n_units):
        for c in rng.choice(6, rng.integers(1, 5), replace=False):
            size = rng.integers(0 if empty else 1, 4)
            unit.append(u), coder.append(int(c)), sets.append(set(rng.choice(n_classes, size).tolist()))
    return unit, coder, sets


def nltk_alpha(unit, coder, sets, distance) -> float:
    data = [(str(c), str(u), frozenset(s)) for u, c, s in zip(unit, coder, sets, strict=True)]
    return AnnotationTask(data=data, distance=distance).alpha()


# --------------------------------------------------------------------------- Krippendorff α


def test_binary_alpha_matches_a_hand_worked_value():
    # (yes, yes), (no, no), (yes, no): o_yn = o_ny = 1, n_y = n_n = 3 → α = 1 − 5·2 / (36 − 18) = 4/9
    votes = votes_from_matrix(np.array([[YES, NO, YES], [YES, NO, NO]], float))
    assert binary_alpha(votes) == pytest.approx(4 / 9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_alpha_matches_the_krippendorff_package_with_missing_answers(seed):
    matrix = random_matrix(seed=seed)
    votes = votes_from_matrix(matrix)
    assert binary_alpha(votes, maybe="category") == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    )
    dropped = np.where(matrix == MAYBE, np.nan, matrix)
    assert binary_alpha(votes) == pytest.approx(
        krippendorff.alpha(reliability_data=dropped, level_of_measurement="nominal")
    )
    folded = np.where(matrix == MAYBE, YES, matrix)
    assert binary_alpha(votes, maybe="yes") == pytest.approx(
        krippendorff.alpha(reliability_data=folded, level_of_measurement="nominal")
    )


def test_alpha_is_nan_without_variation_and_ignores_single_answers():
    assert np.isnan(krippendorff_alpha_nominal([0, 0, 1, 1], [1, 1, 1, 1]))
    # the lone answer on item 2 is not pairable and must not change α
    assert krippendorff_alpha_nominal([0, 0, 1, 1, 2], [0, 0, 0, 1, 1]) == pytest.approx(
        krippendorff_alpha_nominal([0, 0, 1, 1], [0, 0, 0, 1])
    )


def test_masi_set_alpha_matches_a_hand_worked_value():
    # one image: {1,2} vs {1,2,3,4}: MASI = 1 − ½·⅔ = ⅔ (nltk's doctest value);
    # second image agrees on {3}. n = 4 values, D_o·n = 2·⅔, expected over all ordered pairs.
    sets = LabelSets.from_lists([0, 0, 1, 1], [0, 1, 0, 1], [{1, 2}, {1, 2, 3, 4}, {3}, {3}])
    d = {"ab": 2 / 3, "ac": 1.0, "bc": 1 - 0.25 * 2 / 3}  # a={1,2}, b={1,2,3,4}, c={3}
    expected = 2 * (d["ab"] + 2 * d["ac"] + 2 * d["bc"])  # c occurs twice
    assert set_alpha(sets) == pytest.approx(1 - 3 * (2 * 2 / 3) / expected)


@pytest.mark.parametrize("seed", range(8))
def test_set_alpha_matches_nltk_annotation_task_with_masi_and_jaccard(seed):
    unit, coder, sets = random_label_sets(seed)
    label_sets = LabelSets.from_lists(unit, coder, sets)
    assert set_alpha(label_sets) == pytest.approx(nltk_alpha(unit, coder, sets, masi_distance))
    assert set_alpha(label_sets, distance="jaccard") == pytest.approx(nltk_alpha(unit, coder, sets, jaccard_distance))


def test_set_alpha_treats_two_empty_sets_as_identical_where_nltk_divides_by_zero():
    unit, coder, sets = random_label_sets(3, empty=True)
    assert any(not s for s in sets)
    with pytest.raises(ZeroDivisionError):
        nltk_alpha(unit, coder, sets, masi_distance)

    def masi_with_empty(a, b):
        return 0.0 if not a and not b else masi_distance(a, b)

    assert set_alpha(LabelSets.from_lists(unit, coder, sets)) == pytest.approx(
        nltk_alpha(unit, coder, sets, masi_with_empty)
    )


def test_label_sets_from_votes_keep_an_annotator_who_chose_nothing_as_an_empty_set():
    # image 0 has questions 0 (class 5) and 1 (class 7); image 1 has question 2 (class 5)
    votes = VoteArrays.from_columns(
        [0, 1, 0, 1, 2], [0, 0, 1, 1, 0], [YES, YES, NO, MAYBE, YES], image_of_item=[0, 0, 1]
    )
    sets = LabelSets.from_votes(votes, np.array([5, 7, 5]))
    rows = [
        (u, c, sets.indices[sets.indptr[r] : sets.indptr[r + 1]].tolist())
        for r, (u, c) in enumerate(zip(sets.unit, sets.coder, strict=True))
    ]
    assert rows == [(0, 0, [5, 7]), (0, 1, []), (1, 0, [5])]
    with_maybe = LabelSets.from_votes(votes, np.array([5, 7, 5]), maybe="yes")
    assert with_maybe.indices[with_maybe.indptr[1] : with_maybe.indptr[2]].tolist() == [7]
    dense = LabelSets.from_dense(sets.unit, sets.coder, np.array([[0, 1, 1], [0, 0, 0], [0, 1, 0]], bool))
    assert dense.sizes.tolist() == [2, 0, 1]


def test_set_alpha_handles_50k_images_by_5_annotators_in_seconds():
    rng = np.random.default_rng(0)
    n_images, per_image = 50_000, 5
    base = rng.integers(0, 1000, (n_images, 3))  # each image: three plausible classes
    keep = rng.random((n_images, per_image, 3)) < np.array([0.9, 0.25, 0.1])
    matrix_rows = np.repeat(base, per_image, axis=0)
    row, col = np.nonzero(keep.reshape(-1, 3))
    unit = np.repeat(np.arange(n_images), per_image)
    sets = LabelSets.from_entries(unit, np.tile(np.arange(per_image), n_images), row, matrix_rows[row, col])
    start = time.perf_counter()
    alpha = set_alpha(sets)
    elapsed = time.perf_counter() - start
    assert 0.0 < alpha < 1.0
    assert elapsed < 5.0, f"{elapsed:.2f} s"  # measured ~0.3 s on 2 cores


# --------------------------------------------------------------------------- per class


def test_positive_agreement_matches_the_two_rater_formula():
    # two raters: a = 3 both yes, b = c = 1 one yes, d = 2 both no → PA = 2a/(2a+b+c) = 0.75, NA = 4/6
    matrix = np.array([[1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 1, 0, 0]], float)
    result = per_class_agreement(votes_from_matrix(matrix), np.zeros(7, int))
    assert result.positive_agreement[0] == pytest.approx(0.75)
    assert result.negative_agreement[0] == pytest.approx(4 / 6)
    assert (result.n_questions[0], result.n_votes[0]) == (7, 14)
    assert result.yes_share[0] == pytest.approx(8 / 14)


def test_per_class_fleiss_kappa_matches_statsmodels():
    rng = np.random.default_rng(1)
    answers = rng.choice(3, size=(5, 60), p=[0.5, 0.3, 0.2]).astype(float)
    answers[:, 30:] = np.where(rng.random((5, 30)) < 0.8, answers[0, 30:], answers[:, 30:])  # class 1 agrees more
    class_of_item = np.repeat([0, 1], 30)
    result = per_class_agreement(votes_from_matrix(answers), class_of_item, maybe="category")
    for c in (0, 1):
        table = np.stack([np.bincount(col, minlength=3) for col in answers[:, class_of_item == c].T.astype(int)])
        assert result.fleiss_kappa[c] == pytest.approx(fleiss_kappa(table, method="fleiss"))
    assert result.fleiss_kappa[1] > result.fleiss_kappa[0]


def test_per_class_counts_how_often_the_original_label_was_rejected():
    matrix = np.array([[1, 0, 0, 1], [1, 0, 1, 1], [0, 0, 0, 1]], float)
    valid = np.array([True, False, False, True])
    result = per_class_agreement(
        votes_from_matrix(matrix),
        np.array([0, 0, 1, 1]),
        n_classes=3,
        valid=valid,
        is_original=np.array([True, True, True, False]),
    )
    assert result.n_original.tolist() == [2, 1, 0]
    assert result.original_rejected.tolist() == [1, 1, 0]
    assert np.isnan(result.fleiss_kappa[2]) and result.n_questions[2] == 0


# --------------------------------------------------------------------------- per annotator


def test_leave_one_out_sensitivity_and_specificity_are_hand_worked():
    # annotator 2 always says yes; 0 and 1 agree with each other
    matrix = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]], float)
    result = per_annotator_agreement(votes_from_matrix(matrix))
    # for annotator 2 the others are unanimous: 2 yes-questions, 2 no-questions
    assert (result.sensitivity[2], result.specificity[2]) == (1.0, 0.0)
    # for annotator 0 the others split 1–1 on questions 2 and 3: ties are not counted
    assert result.n_compared.tolist() == [2, 2, 4]
    assert result.sensitivity[0] == 1.0 and np.isnan(result.specificity[0])
    assert result.kappa[2] == pytest.approx(0.0)


def test_gold_accuracy_counts_answers_on_gold_questions_only():
    matrix = np.array([[1, 0, 1, np.nan], [0, 0, 1, 1]], float)
    gold = np.array([1, 0, -1, 1], np.int8)
    result = per_annotator_agreement(votes_from_matrix(matrix), gold=gold)
    assert result.n_gold.tolist() == [2, 3]
    np.testing.assert_allclose(result.gold_accuracy, [1.0, 2 / 3])


def test_pairwise_cohen_kappa_matches_sklearn():
    matrix = random_matrix(n_annotators=5, n_items=120, seed=4)
    result = pairwise_cohen_kappa(votes_from_matrix(matrix), min_shared=10, maybe="category")
    assert len(result.kappa) == 10  # every pair of 5 shares ≥ 10 questions here
    for a, b, n, kappa in zip(result.annotator_a, result.annotator_b, result.n_shared, result.kappa, strict=True):
        both = ~np.isnan(matrix[a]) & ~np.isnan(matrix[b])
        assert a < b and n == both.sum()
        assert kappa == pytest.approx(cohen_kappa_score(matrix[a, both], matrix[b, both]))
    assert len(pairwise_cohen_kappa(votes_from_matrix(matrix), min_shared=1000).kappa) == 0


# --------------------------------------------------------------------------- per image


def test_multi_label_share_counts_images_with_two_or_more_valid_classes():
    image_of_item = np.array([0, 0, 0, 1, 1, 2, 4])  # image 3 was never asked about
    valid = np.array([True, True, False, True, False, False, True])
    summary = consensus_set_sizes(valid, image_of_item)
    assert summary.n_images == 4 and summary.size_counts.tolist() == [1, 2, 1]
    assert (summary.multi_label_share, summary.empty_share) == (0.25, 0.25)


def test_per_image_agreement_is_the_mean_pairwise_agreement_of_its_questions():
    # image 0: unanimous question (1.0) and a 3–2 split (0.4); image 1: one answer only
    matrix = np.array([[1, 1, 1], [1, 1, np.nan], [1, 1, np.nan], [1, 0, np.nan], [1, 0, np.nan]], float)
    agreement = per_image_agreement(votes_from_matrix(matrix, image_of_item=[0, 0, 1]))
    assert agreement[0] == pytest.approx(0.7) and np.isnan(agreement[1])
    counts, edges = agreement_histogram(np.r_[agreement, 1.0, 0.05], bins=4)
    assert counts.tolist() == [1, 0, 1, 1] and edges.tolist() == [0, 0.25, 0.5, 0.75, 1.0]


def test_cooccurring_pairs_match_a_dense_y_transpose_y_count():
    rng = np.random.default_rng(5)
    image_of_item = np.repeat(np.arange(400), 4)
    class_of_item = rng.integers(0, 12, len(image_of_item))
    valid = rng.random(len(image_of_item)) < 0.5
    a, b, count = cooccurring_pairs(valid, image_of_item, class_of_item, top=5)
    y = np.zeros((400, 12), int)
    y[image_of_item[valid], class_of_item[valid]] = 1
    gram = np.triu(y.T @ y, k=1)
    assert np.all(a < b) and count.tolist() == sorted(gram.ravel().tolist(), reverse=True)[:5]
    assert all(gram[i, j] == n for i, j, n in zip(a, b, count, strict=True))


def test_cooccurring_pairs_hand_worked():
    a, b, count = cooccurring_pairs(np.ones(7, bool), np.array([0, 0, 0, 1, 1, 2, 2]), np.array([3, 1, 2, 1, 3, 1, 3]))
    assert list(zip(a.tolist(), b.tolist(), count.tolist(), strict=True)) == [(1, 3, 3), (1, 2, 1), (2, 3, 1)]
