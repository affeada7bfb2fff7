"""Variable top-k, subgroups by |Y|, ASMA and the multi-label share: against a plain per-image Python loop on
all 50,000 ImageNet val images with the ReaL labels and the three shipped models, and on worked edge cases."""

from __future__ import annotations

import csv
from functools import cache

import numpy as np
import pytest

from annotator.core.label_sets import label_count_summary
from evaluation.core.metrics import compute_all, label_matrix, topk_from_scores, wilson_interval
from evaluation.core.variable_topk import bin_name, checked_bins
from tests.evaluation.test_real_reference_values import EXPECTED, PREDICTIONS, metrics_for, reference


@cache
def plain_loop(model: str, bins: tuple[int, ...] = (1, 2, 3, 4)) -> dict:
    """The definitions of README's Metrics section, one image at a time, in plain Python."""
    keys, original, real = reference()
    with (PREDICTIONS / f"{model}_top5.csv").open(newline="") as handle:
        ranking = {row["image"]: [int(c) for c in row["top5"].split()] for row in csv.DictReader(handle)}
    groups = {edge: {"images": 0, "top1": 0, "real1": 0, "strict": 0, "frac": 0.0} for edge in bins}
    scored = left_out = strict_total = 0
    frac_total = 0.0
    for key, labels, first_label in zip(keys, real, original.tolist(), strict=True):
        predicted = ranking[key]
        if not labels:
            continue  # empty Y: left out, as for ReaL
        size = len(labels)
        if size > len(predicted):
            left_out += 1  # more valid labels than the top-5 file ranks
            continue
        found = len(set(predicted[:size]) & set(labels))
        scored += 1
        strict_total += found == size
        frac_total += found / size
        group = groups[max(edge for edge in bins if edge <= size)]
        group["images"] += 1
        group["top1"] += predicted[0] == first_label
        group["real1"] += predicted[0] in labels
        group["strict"] += found == size
        group["frac"] += found / size
    used = [g for g in groups.values() if g["images"]]
    return {
        "scored": scored,
        "left_out": left_out,
        "strict": strict_total / scored,
        "frac": frac_total / scored,
        "groups": groups,
        "asma_strict": sum(g["strict"] / g["images"] for g in used) / len(used),
        "asma_frac": sum(g["frac"] / g["images"] for g in used) / len(used),
    }


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_variable_topk_equals_a_plain_loop_over_every_val_image(model: str) -> None:
    result, expected = metrics_for(model), plain_loop(model)
    assert (result["vtk_scored"], result["vtk_left_out"]) == (expected["scored"], expected["left_out"])
    assert result["vtk_scored"] == 46_837 - 144  # 144 ReaL sets have six or more classes
    assert result["vtk_strict"] == pytest.approx(expected["strict"], abs=1e-12)
    assert result["vtk_frac"] == pytest.approx(expected["frac"], abs=1e-12)
    assert result["vtk_ranking_limit"] == 5


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_subgroups_and_asma_equal_a_plain_loop_over_every_val_image(model: str) -> None:
    result, expected = metrics_for(model), plain_loop(model)
    assert [s["bin"] for s in result["subgroups"]] == ["1", "2", "3", "4+"]
    for subgroup, group in zip(result["subgroups"], expected["groups"].values(), strict=True):
        n = group["images"]
        assert subgroup["images"] == subgroup["n_with_original"] == n
        assert subgroup["top1"] == pytest.approx(group["top1"] / n, abs=1e-12)
        assert subgroup["real1"] == pytest.approx(group["real1"] / n, abs=1e-12)
        assert subgroup["vtk_strict"] == pytest.approx(group["strict"] / n, abs=1e-12)
        assert subgroup["vtk_frac"] == pytest.approx(group["frac"] / n, abs=1e-12)
        assert subgroup["vtk_strict_ci"] == pytest.approx(wilson_interval(group["strict"], n), abs=1e-12)
    assert result["asma_strict"] == pytest.approx(expected["asma_strict"], abs=1e-12)
    assert result["asma_frac"] == pytest.approx(expected["asma_frac"], abs=1e-12)
    # With top-5 files the last bin holds the images with 4 or 5 labels only: 411 + 161.
    assert result["subgroups"][-1]["images"] == 572


# README's figures (percent, two decimals): strict and fractional variable top-k, both ASMA, strict per bin.
README_FIGURES = {
    "resnet50": (76.62, 80.96, 35.29, 61.41, (85.15, 37.37, 14.10, 4.55)),
    "vgg16": (73.22, 77.39, 32.65, 57.38, (81.84, 32.77, 11.45, 4.55)),
    "resnet18": (71.41, 75.51, 31.01, 55.00, (79.97, 31.32, 9.93, 2.80)),
}


@pytest.mark.parametrize("model", sorted(README_FIGURES))
def test_the_figures_readme_gives_for_the_shipped_models(model: str) -> None:
    result = metrics_for(model)
    figures = (result["vtk_strict"], result["vtk_frac"], result["asma_strict"], result["asma_frac"])
    per_bin = tuple(round(s["vtk_strict"] * 100, 2) for s in result["subgroups"])
    assert (*(round(f * 100, 2) for f in figures), per_bin) == README_FIGURES[model]


def test_other_bins_give_the_plain_loop_with_those_bins() -> None:
    keys, original, real = reference()
    from evaluation.core.prediction_formats import parse_predictions

    parsed = parse_predictions(
        (PREDICTIONS / "vgg16_top5.csv").read_bytes(), "vgg16_top5.csv", image_keys=keys, num_classes=1000
    )
    result = compute_all(parsed.topk, original, label_matrix(real, 1000), bins=(1, 2, 4))
    expected = plain_loop("vgg16", (1, 2, 4))
    assert [s["bin"] for s in result["subgroups"]] == ["1", "2-3", "4+"]
    assert result["subgroup_bins"] == [1, 2, 4]
    assert result["asma_strict"] == pytest.approx(expected["asma_strict"], abs=1e-12)


def test_the_multilabel_share_of_real_on_imagenet_val_is_7443_of_46837() -> None:
    result = metrics_for("resnet50")
    assert (result["n_multilabel"], result["n_evaluated_multilabel"]) == (7_443, 46_837)
    assert round(result["multilabel_share"] * 100, 2) == 15.89
    assert result["multilabel_share_ci"] == pytest.approx(wilson_interval(7_443, 46_837), abs=1e-15)
    histogram = result["label_count_histogram"]
    assert histogram[:3] == [3_163, 39_394, 5_408] and sum(histogram) == 50_000 and len(histogram) == 10


# Edge cases on small hand-worked examples. Four classes unless said otherwise.


def _vtk(topk: list[list[int]], label_sets: list[list[int]], scores: np.ndarray | None = None, **kw) -> dict:
    labels = label_matrix(label_sets, scores.shape[1] if scores is not None else 6)
    original = np.array([s[0] if s else -1 for s in label_sets])
    return compute_all(np.array(topk), original, labels, scores, **kw)


def test_an_image_with_an_empty_label_set_is_neither_scored_nor_left_out() -> None:
    result = _vtk([[0, 1], [2, 3]], [[0], []])
    assert (result["vtk_scored"], result["vtk_left_out"], result["vtk_strict"]) == (1, 0, 1.0)
    assert [s["images"] for s in result["subgroups"]] == [1, 0, 0, 0]


def test_more_valid_labels_than_ranked_classes_are_left_out_and_counted() -> None:
    # Image 1 holds three labels but only two classes are ranked: it cannot be given three guesses.
    result = _vtk([[0, 1], [1, 2]], [[0], [1, 2, 3]])
    assert (result["vtk_scored"], result["vtk_left_out"], result["vtk_ranking_limit"]) == (1, 1, 2)
    assert result["subgroups"][2]["images"] == 0
    assert result["real_at_1"] == 1.0  # other metrics still use the image


def test_with_full_scores_the_ranking_goes_on_and_nothing_is_left_out() -> None:
    scores = np.array([[0.1, 0.5, 0.3, 0.05, 0.04, 0.01], [0.0, 0.6, 0.1, 0.2, 0.05, 0.05]])
    topk = topk_from_scores(scores, 2)  # [1, 2] and [1, 3]
    result = _vtk(topk.tolist(), [[1], [1, 2, 3]], scores)
    # Image 1's first three by score are 1, 3, 2: all of Y.
    assert (result["vtk_scored"], result["vtk_left_out"], result["vtk_ranking_limit"]) == (2, 0, None)
    assert result["vtk_strict"] == 1.0 and result["subgroups"][2]["vtk_strict"] == 1.0


def test_tied_scores_rank_the_lower_class_index_first() -> None:
    # Classes 1, 2 and 3 tie; |Y| = 2 guesses are 1 and 2, so Y = {1, 3} is half found, Y = {1, 2} fully.
    scores = np.array([[0.1, 0.3, 0.3, 0.3, 0.0, 0.0]] * 2)
    topk = topk_from_scores(scores, 2)
    assert topk.tolist() == [[1, 2], [1, 2]]
    result = _vtk(topk.tolist(), [[1, 3], [1, 2]], scores)
    assert [s["vtk_frac"] for s in result["subgroups"][:2]] == [None, 0.75]
    assert result["vtk_strict"] == 0.5


def test_ties_beyond_the_stored_ranking_follow_the_same_rule() -> None:
    # One class ranked; Y has two labels, found by continuing in score order: 2 before 3 on a tie.
    scores = np.array([[0.0, 0.6, 0.2, 0.2, 0.0, 0.0]] * 2)
    result = _vtk([[1], [1]], [[1, 2], [1, 3]], scores)
    assert result["vtk_scored"] == 2 and result["vtk_strict"] == 0.5 and result["vtk_frac"] == 0.75


def test_topk_from_scores_breaks_ties_at_the_cut_by_class_index_on_every_row() -> None:
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 3, size=(500, 40)).astype(np.float32)  # many ties everywhere
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    assert (topk_from_scores(scores, 5) == expected).all()


def test_missing_slots_are_misses_and_an_image_without_prediction_is_scored_wrong() -> None:
    result = _vtk([[0, -1], [-1, -1], [2, 3]], [[0, 1], [4], [3, 2]])
    assert result["vtk_scored"] == 3
    assert result["vtk_strict"] == pytest.approx(1 / 3)
    assert result["vtk_frac"] == pytest.approx((0.5 + 0 + 1) / 3)


def test_asma_averages_only_the_bins_that_hold_images() -> None:
    # Bin {1}: 1 of 2 right; bin {2}: 1 of 1; bins {3} and {4+} empty: ASMA = (0.5 + 1) / 2, not / 4.
    result = _vtk([[0, 1, 2], [3, 4, 5], [0, 1, 2]], [[0], [0], [1, 0]])
    assert [s["images"] for s in result["subgroups"]] == [2, 1, 0, 0]
    assert result["asma_strict"] == pytest.approx(0.75)
    assert result["asma_bins"] == ["1", "2"]
    assert result["vtk_strict"] == pytest.approx(2 / 3)  # the pooled figure weighs images, not bins


def test_asma_is_undefined_when_no_image_is_scored() -> None:
    result = _vtk([[0], [1]], [[], [0, 1]])
    assert result["asma_strict"] is None and result["asma_frac"] is None and result["vtk_strict"] is None


def test_fractional_intervals_are_wilson_intervals_of_the_mean_fraction() -> None:
    result = _vtk([[0, 2], [0, 1]], [[0, 1], [0, 1]])
    assert result["vtk_frac"] == 0.75
    assert result["vtk_frac_ci"] == pytest.approx(wilson_interval(1.5, 2))
    low, high = result["vtk_frac_ci"]
    assert low < 0.75 < high


def test_bins_must_start_at_one_and_increase() -> None:
    assert checked_bins([1, 2, 5]) == (1, 2, 5)
    for bad in ([], [0, 1], [2, 3], [1, 3, 3], [1, 4, 2]):
        with pytest.raises(ValueError, match="lower edges"):
            checked_bins(bad)
    assert [bin_name(1, 1), bin_name(2, 3), bin_name(4, None)] == ["1", "2-3", "4+"]


def test_the_label_count_summary_leaves_empty_sets_out_of_the_share() -> None:
    summary = label_count_summary([5, 6, 3, 1])
    assert (summary["n_labelled"], summary["n_multilabel"]) == (10, 4)
    assert summary["multilabel_share"] == 0.4
    assert summary["label_count_histogram"] == [5, 6, 3, 1]
    assert label_count_summary([3])["multilabel_share"] is None
