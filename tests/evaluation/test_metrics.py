"""Metrics on hand-worked examples, and against sklearn / statsmodels as references."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    hamming_loss,
    label_ranking_average_precision_score,
)
from statsmodels.stats.proportion import proportion_confint

from evaluation.core.metrics import (
    average_precision_per_class,
    compute_all,
    label_matrix,
    label_ranking_average_precision,
    set_metrics,
    topk_from_scores,
    wilson_interval,
)

# Five images, six classes. Image 2 has an empty label set (excluded from multi-label metrics),
# image 4 has no prediction at all (padding only).
HAND_LABELS = label_matrix([[1, 2], [3], [], [0, 5], [2]], num_classes=6)
HAND_ORIGINAL = np.array([1, 3, 4, 5, 2])
HAND_TOPK = np.array([[2, 0], [4, 3], [4, 1], [5, 0], [-1, -1]])


@pytest.fixture(scope="module")
def hand_result() -> dict:
    return compute_all(HAND_TOPK, HAND_ORIGINAL, HAND_LABELS, ks=(1, 2))


def test_top_k_accuracy_counts_only_the_original_label(hand_result: dict) -> None:
    # top-1 right on images 2 and 3; top-2 also on image 1.
    assert hand_result["top1"] == pytest.approx(2 / 5)
    assert hand_result["top2"] == pytest.approx(3 / 5)
    assert hand_result["n_with_original_label"] == 5


def test_real_at_1_counts_a_prediction_in_any_valid_label_as_correct(hand_result: dict) -> None:
    # Image 0 predicts 2, which is valid though not its original label 1; image 3 predicts 5.
    assert hand_result["real_at_1"] == pytest.approx(2 / 4)
    assert hand_result["real_at_2"] == pytest.approx(3 / 4)


def test_images_with_an_empty_label_set_are_excluded_and_counted(hand_result: dict) -> None:
    assert hand_result["n_images"] == 5
    assert hand_result["n_evaluated_multilabel"] == 4
    assert hand_result["n_empty_label_sets"] == 1
    # Image 2 is right under top-1 but must not lift ReaL@1: 2 of the 4 evaluated images, not 3 of 5.
    assert hand_result["real_at_1"] == pytest.approx(0.5)


def test_precision_and_recall_at_k_divide_by_k_and_by_the_label_set_size(hand_result: dict) -> None:
    # Evaluated images 0, 1, 3, 4: hits@1 = 1, 0, 1, 0; hits@2 = 1, 1, 2, 0; |Y| = 2, 1, 2, 1.
    assert hand_result["precision_at_1"] == pytest.approx((1 + 0 + 1 + 0) / 4)
    assert hand_result["recall_at_1"] == pytest.approx((1 / 2 + 0 + 1 / 2 + 0) / 4)
    assert hand_result["precision_at_2"] == pytest.approx((1 / 2 + 1 / 2 + 2 / 2 + 0) / 4)
    assert hand_result["recall_at_2"] == pytest.approx((1 / 2 + 1 + 1 + 0) / 4)


def test_an_image_without_prediction_counts_as_wrong_not_as_excluded(hand_result: dict) -> None:
    assert hand_result["n_without_prediction"] == 1
    without_image_4 = compute_all(HAND_TOPK[:4], HAND_ORIGINAL[:4], HAND_LABELS[:4], ks=(1, 2))
    assert without_image_4["real_at_1"] == pytest.approx(2 / 3)
    assert hand_result["real_at_1"] == pytest.approx(2 / 4)


def test_padding_in_later_slots_is_a_miss_that_still_counts_in_precision() -> None:
    result = compute_all(np.array([[3, -1]]), np.array([3]), label_matrix([[3]], 4), ks=(2,))
    assert result["real_at_2"] == 1.0
    assert result["precision_at_2"] == 0.5
    assert result["recall_at_2"] == 1.0
    assert result["n_without_prediction"] == 0


def test_padding_never_matches_a_class() -> None:
    # -1 must not alias class 0 (a masked index) nor the last class (numpy's negative indexing).
    labels = label_matrix([[0, 3], [1]], 4)
    result = compute_all(np.array([[-1, -1], [-1, -1]]), np.array([0, -1]), labels, ks=(1, 2))
    assert result["top1"] == 0.0
    assert result["real_at_2"] == 0.0
    assert result["precision_at_2"] == 0.0
    assert result["n_without_prediction"] == 2


def test_share_of_top1_errors_that_name_a_valid_label(hand_result: dict) -> None:
    # Errors among evaluated images: 0 (predicts 2 for 1), 1 (4 for 3), 4 (nothing for 2); only image 0's is valid.
    assert hand_result["n_top1_errors"] == 3
    assert hand_result["n_top1_errors_in_label_set"] == 1
    assert hand_result["top1_error_in_label_set_share"] == pytest.approx(1 / 3)
    assert hand_result["valid_error_pairs"] == [{"original": 1, "predicted": 2, "count": 1}]


def test_valid_error_pairs_are_ordered_by_count_then_by_class() -> None:
    labels = label_matrix([[0, 1], [0, 1], [2, 3], [0, 1], [2, 3], [4, 5]], 6)
    original = np.array([0, 0, 2, 0, 2, 4])
    topk = np.array([[1], [1], [3], [1], [3], [5]])
    pairs = compute_all(topk, original, labels, ks=(1,), n_pairs=2)["valid_error_pairs"]
    assert pairs == [{"original": 0, "predicted": 1, "count": 3}, {"original": 2, "predicted": 3, "count": 2}]


def test_equally_frequent_pairs_keep_class_order_even_when_many_tie() -> None:
    # 70 distinct valid "errors", listed in descending class order, each seen once.
    original = np.arange(140, 0, -2)
    topk = (original + 1)[:, None]
    labels = label_matrix([[o, o + 1] for o in original.tolist()], 142)
    pairs = compute_all(topk, original, labels, ks=(1,), n_pairs=100)["valid_error_pairs"]
    assert [pair["original"] for pair in pairs] == sorted(original.tolist())


def test_top1_errors_on_images_without_a_label_set_are_not_analysed() -> None:
    labels = label_matrix([[], [1]], 3)
    result = compute_all(np.array([[2], [1]]), np.array([0, 0]), labels, ks=(1,))
    assert result["n_top1_errors"] == 1
    assert result["n_top1_errors_in_label_set"] == 1


def test_per_class_values_group_images_by_their_original_label(hand_result: dict) -> None:
    per_class = hand_result["per_class"]
    assert per_class["n_images"] == [0, 1, 1, 1, 1, 1]
    assert per_class["top1"] == [None, 0.0, 0.0, 0.0, 1.0, 1.0]
    assert per_class["n_evaluated"] == [0, 1, 1, 1, 0, 1]
    assert per_class["real_at_1"] == [None, 1.0, 0.0, 0.0, None, 1.0]


def test_multilabel_share_and_mean_set_size_use_evaluated_images(hand_result: dict) -> None:
    assert hand_result["multilabel_share"] == pytest.approx(2 / 4)
    assert hand_result["mean_labels_per_image"] == pytest.approx((2 + 1 + 2 + 1) / 4)


def test_images_without_original_label_are_left_out_of_top_k_only() -> None:
    result = compute_all(np.array([[0], [1]]), np.array([0, -1]), label_matrix([[0], [1]], 2), ks=(1,))
    assert result["n_with_original_label"] == 1
    assert result["top1"] == 1.0
    assert result["real_at_1"] == 1.0
    assert result["n_evaluated_multilabel"] == 2


def test_metrics_at_k_wider_than_the_predictions_are_not_reported() -> None:
    result = compute_all(np.array([[0]]), np.array([0]), label_matrix([[0]], 3), ks=(1, 5))
    assert "top1" in result
    assert "top5" not in result
    assert "real_at_5" not in result


def test_result_is_json_serialisable_without_nan(hand_result: dict) -> None:
    json.dumps(hand_result, allow_nan=False)


def test_wilson_interval_matches_statsmodels() -> None:
    for successes, total in [(0, 10), (3, 10), (10, 10), (7613, 10000), (38065, 50000), (1, 1)]:
        for confidence in (0.9, 0.95, 0.99):
            low, high = proportion_confint(successes, total, alpha=1 - confidence, method="wilson")
            assert wilson_interval(successes, total, confidence) == pytest.approx((low, high), abs=1e-12)


def test_proportions_carry_wilson_intervals(hand_result: dict) -> None:
    assert hand_result["top1_ci"] == pytest.approx(list(proportion_confint(2, 5, method="wilson")))
    assert hand_result["real_at_2_ci"] == pytest.approx(list(proportion_confint(3, 4, method="wilson")))


def test_label_matrix_accepts_lists_and_csr_alike() -> None:
    from_lists = label_matrix([[2], [], [0, 3]], 4)
    from_csr = label_matrix((np.array([0, 1, 1, 3]), np.array([2, 0, 3])), 4)
    expected = np.array([[0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 1]], dtype=bool)
    np.testing.assert_array_equal(from_lists, expected)
    np.testing.assert_array_equal(from_csr, expected)


def test_label_matrix_rejects_out_of_range_classes() -> None:
    with pytest.raises(ValueError, match="0..3"):
        label_matrix([[4]], 4)


def test_a_topk_row_repeating_a_class_is_rejected() -> None:
    with pytest.raises(ValueError, match="repeats"):
        compute_all(np.array([[1, 1]]), np.array([1]), label_matrix([[1]], 3))


def test_topk_from_scores_ranks_best_first_and_breaks_ties_by_class_index() -> None:
    scores = np.array([[0.1, 0.5, 0.5, 0.2], [3.0, -1.0, 2.0, 2.5]], dtype=np.float32)
    np.testing.assert_array_equal(topk_from_scores(scores, 3), [[1, 2, 3], [0, 3, 2]])
    np.testing.assert_array_equal(topk_from_scores(scores, 9), [[1, 2, 3, 0], [0, 3, 2, 1]])


def test_average_precision_on_a_hand_worked_column() -> None:
    # Positives ranked 1st and 3rd: (1/1 + 2/3) / 2. Second class: a tie at the top counts both tied items.
    scores = np.array([[0.9, 0.9], [0.8, 0.9], [0.7, 0.5], [0.6, 0.1]], dtype=np.float32)
    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=bool)
    np.testing.assert_allclose(average_precision_per_class(scores, labels), [(1 + 2 / 3) / 2, (1 / 2 + 2 / 3) / 2])


def test_average_precision_is_nan_for_classes_without_positives() -> None:
    labels = np.array([[1, 0, 0], [0, 0, 0], [1, 0, 0]], dtype=bool)
    ap = average_precision_per_class(np.eye(3, dtype=np.float32), labels)
    # Class 0: positives score 1 (alone at the top) and 0 (tied with one negative): (1 + 2/3) / 2.
    assert ap[0] == pytest.approx((1 + 2 / 3) / 2)
    assert np.isnan(ap[1]) and np.isnan(ap[2])


def test_label_ranking_average_precision_on_a_hand_worked_row() -> None:
    # Valid classes 3 (ranked 2nd) and 2 (ranked 3rd): (1/2 + 2/3) / 2.
    scores = np.array([[0.1, 0.9, 0.5, 0.7]], dtype=np.float32)
    labels = np.array([[0, 0, 1, 1]], dtype=bool)
    assert label_ranking_average_precision(scores, labels) == pytest.approx((1 / 2 + 2 / 3) / 2)


def _random_sample(seed: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_images, num_classes = int(rng.integers(5, 200)), int(rng.integers(2, 30))
    if ties:
        scores = rng.integers(-2, 3, size=(n_images, num_classes)).astype(np.float32)
    else:
        scores = rng.standard_normal((n_images, num_classes)).astype(np.float32)
    labels = rng.random((n_images, num_classes)) < rng.uniform(0.02, 0.6)
    return scores, labels


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("ties", [False, True])
def test_average_precision_matches_sklearn_on_random_samples(seed: int, ties: bool) -> None:
    scores, labels = _random_sample(seed, ties)
    ours = average_precision_per_class(scores, labels)
    for c in range(labels.shape[1]):
        if labels[:, c].any():
            assert ours[c] == pytest.approx(average_precision_score(labels[:, c], scores[:, c]), abs=1e-12)
        else:
            assert np.isnan(ours[c])


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("ties", [False, True])
def test_label_ranking_average_precision_matches_sklearn_on_random_samples(seed: int, ties: bool) -> None:
    scores, labels = _random_sample(seed, ties)
    has_labels = labels.any(axis=1)
    expected = label_ranking_average_precision_score(labels[has_labels], scores[has_labels])
    assert label_ranking_average_precision(scores, labels) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=80, deadline=None, database=None)
@given(
    st.integers(1, 12).flatmap(
        lambda n_classes: st.lists(
            st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=n_classes, max_size=n_classes),
            min_size=1,
            max_size=15,
        )
    )
)
def test_ranking_metrics_match_sklearn_on_small_tied_cases(rows: list[list[tuple[int, bool]]]) -> None:
    scores = np.array([[score for score, _ in row] for row in rows], dtype=np.float32)
    labels = np.array([[label for _, label in row] for row in rows], dtype=bool)
    ours = average_precision_per_class(scores, labels)
    for c in np.flatnonzero(labels.any(axis=0)):
        assert ours[c] == pytest.approx(average_precision_score(labels[:, c], scores[:, c]), abs=1e-12)
    has_labels = labels.any(axis=1)
    if has_labels.any():
        expected = label_ranking_average_precision_score(labels[has_labels], scores[has_labels])
        assert label_ranking_average_precision(scores, labels) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_set_metrics_match_sklearn_on_random_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.random((80, 12)) < 0.2
    predicted = rng.random((80, 12)) < 0.25
    labels[:, 3] = False  # a class nobody has: left out of macro-F1
    classes_with_positives = np.flatnonzero(labels.any(axis=0))
    ours = set_metrics(predicted, labels)
    assert ours["subset_accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert ours["hamming_loss"] == pytest.approx(hamming_loss(labels, predicted))
    assert ours["micro_f1"] == pytest.approx(f1_score(labels, predicted, average="micro", zero_division=0))
    expected_macro = f1_score(labels, predicted, average="macro", labels=classes_with_positives, zero_division=0)
    assert ours["macro_f1"] == pytest.approx(expected_macro)


def test_set_metrics_on_a_hand_worked_example() -> None:
    labels = np.array([[1, 1, 0], [1, 0, 0]], dtype=bool)
    predicted = np.array([[1, 1, 0], [0, 1, 0]], dtype=bool)
    # Class 0: tp 1, fn 1 -> F1 2/3; class 1: tp 1, fp 1 -> 2/3; class 2 has no positive.
    assert set_metrics(predicted, labels) == pytest.approx(
        {"subset_accuracy": 0.5, "hamming_loss": 2 / 6, "micro_f1": 4 / 6, "macro_f1": 2 / 3}
    )


def test_score_metrics_exclude_empty_label_sets_and_softmax_logits() -> None:
    labels = label_matrix([[0], [1, 2], []], 3)
    logits = np.array([[4.0, 0.0, 0.0], [0.0, 3.0, 3.0], [9.0, -9.0, 0.0]], dtype=np.float32)
    topk = topk_from_scores(logits, 2)
    result = compute_all(topk, np.array([0, 1, 2]), labels, logits, threshold=0.4)
    assert result["score_transform"] == "softmax"
    # softmax rows: [0.96, 0.02, 0.02] and [0.02, 0.49, 0.49]: predicted sets {0} and {1, 2} — both exact.
    assert result["subset_accuracy"] == 1.0
    assert result["mean_predicted_set_size"] == pytest.approx(1.5)
    assert result["mean_average_precision"] == 1.0
    assert result["lrap"] == 1.0
    assert result["n_classes_with_positives"] == 3
    assert result["per_class"]["average_precision"] == [1.0, 1.0, 1.0]


def test_probabilities_are_thresholded_as_given() -> None:
    labels = label_matrix([[0], [1]], 2)
    probabilities = np.array([[0.7, 0.6], [0.2, 0.4]], dtype=np.float32)
    result = compute_all(topk_from_scores(probabilities, 1), np.array([0, 1]), labels, probabilities)
    assert result["score_transform"] == "none"
    # Predicted sets at 0.5: {0, 1} and {}: one false positive, one false negative out of 4 cells.
    assert result["hamming_loss"] == 0.5
    assert result["subset_accuracy"] == 0.0
    assert result["mean_average_precision"] == pytest.approx((1 + 1 / 2) / 2)


def test_sigmoid_scores_each_class_on_its_own() -> None:
    labels = label_matrix([[0, 1], [2]], 3)
    logits = np.array([[3.0, 1.0, -200.0], [-1.0, 0.5, 2.0]], dtype=np.float32)
    result = compute_all(topk_from_scores(logits, 1), np.array([0, 2]), labels, logits, score_transform="sigmoid")
    # sigmoid: [0.95, 0.73, 0.0] and [0.27, 0.62, 0.88] -> sets {0, 1} (exact) and {1, 2} (one false positive).
    assert result["score_transform"] == "sigmoid"
    assert result["subset_accuracy"] == 0.5
    assert result["hamming_loss"] == pytest.approx(1 / 6)
    assert result["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 0))
