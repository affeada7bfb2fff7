"""The maths of the dataset comparison (evaluation.core.dataset_compare and its table), against reference libraries
(scipy, statsmodels, numpy) and values worked out by hand; the decomposition identity over random inputs."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from evaluation.core.charts import scatter_chart
from evaluation.core.dataset_compare import (
    average_ranks,
    decompose,
    decompose_subgroups,
    difference_interval,
    kendall_tau_b,
    label_count_shares,
    linear_fit,
    spearman,
)
from evaluation.core.dataset_compare_table import (
    CsvContext,
    PairingError,
    compare_pairs,
    comparison_csv,
    pair_sets,
    rank_correlations,
)


def _wilson(successes: int, total: int) -> list[float]:
    return list(proportion_confint(successes, total, alpha=0.05, method="wilson"))


def test_the_gap_interval_is_newcombes_hybrid_score_interval():
    a, b = (7613, 10_000), (6333, 10_000)
    low, high = difference_interval(a[0] / a[1], _wilson(*a), b[0] / b[1], _wilson(*b))
    # statsmodels' "newcomb" is the same method (10 of Newcombe 1998) for p1 − p2, here B − A.
    ref_low, ref_high = confint_proportions_2indep(b[0], b[1], a[0], a[1], method="newcomb", compare="diff")
    assert (low, high) == pytest.approx((ref_low, ref_high), abs=1e-9)
    assert low < b[0] / b[1] - a[0] / a[1] < high < 0


def test_no_gap_interval_without_both_intervals():
    assert difference_interval(0.5, None, 0.4, [0.3, 0.5]) is None


@pytest.mark.parametrize(
    ("xs", "ys"),
    [
        ([0.76, 0.70, 0.72], [0.63, 0.57, 0.59]),  # the demo's three models: same order, ρ = τ = 1
        ([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]),  # a tie in y
        ([1, 1, 2, 3], [4, 3, 2, 1]),  # a tie in x, reversed
        ([0.3, 0.1, 0.4, 0.15, 0.9, 0.26], [0.2, 0.5, 0.1, 0.3, 0.8, 0.4]),
    ],
)
def test_rank_correlations_match_scipy(xs, ys):
    assert spearman(xs, ys) == pytest.approx(stats.spearmanr(xs, ys).statistic, abs=1e-12)
    assert kendall_tau_b(xs, ys) == pytest.approx(stats.kendalltau(xs, ys).statistic, abs=1e-12)


def test_rank_correlations_by_hand():
    # x ranks 1 2 3 4, y ranks 2 1 4 3: Σd² = 4, ρ = 1 − 6·4 / (4·15) = 0.6; pairs: 4 concordant, 2 discordant.
    assert average_ranks([10, 20, 30, 40]).tolist() == [1, 2, 3, 4]
    assert average_ranks([5, 1, 5, 3]).tolist() == [3.5, 1, 3.5, 2]
    assert spearman([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(0.6)
    assert kendall_tau_b([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx((4 - 2) / 6)
    assert spearman([1], [2]) is None and kendall_tau_b([1, 2], [3, 3]) is None


def test_the_linear_fit_is_least_squares():
    points = [(0.76, 0.63), (0.70, 0.57), (0.72, 0.59), (0.80, 0.69)]
    slope, intercept = linear_fit(points)
    assert (slope, intercept) == pytest.approx(tuple(np.polyfit(*zip(*points, strict=True), 1)), abs=1e-12)
    assert linear_fit([(0.5, 0.4)]) is None and linear_fit([(0.5, 0.4), (0.5, 0.6)]) is None


def test_the_scatter_draws_the_fit_inside_the_plot():
    points = [("a", 0.76, 0.63), ("b", 0.70, 0.57), ("c", 0.72, 0.59)]
    chart = scatter_chart("A against B", points, x_label="A", y_label="B", fit=linear_fit([p[1:] for p in points]))
    left, top, right, bottom = chart.plot
    x1, y1, x2, y2 = chart.fit
    assert left <= x1 < x2 <= right and top <= min(y1, y2) and max(y1, y2) <= bottom
    # The three points lie on y = x − 0.13 exactly: the fit passes through each dot.
    for dot in chart.dots:
        on_line = y1 + (dot.x - x1) * (y2 - y1) / (x2 - x1)
        assert on_line == pytest.approx(dot.y, abs=0.2)
    assert chart.fit_label == "y = 1.000x − 13.00 pts"


# --- the decomposition -----------------------------------------------------------------------------------


def test_the_decomposition_by_hand():
    # A: 80 images with |Y| = 1 at 90 %, 20 with |Y| = 2 at 50 % → 82 %. B: 50 / 50 at 80 % and 40 % → 60 %.
    d = decompose(["1", "2+"], [80, 20], [0.9, 0.5], [50, 50], [0.8, 0.4])
    assert d.acc_a == pytest.approx(0.82) and d.acc_b == pytest.approx(0.60)
    # label mix: (0.5 − 0.8)·0.9 + (0.5 − 0.2)·0.5 = −0.12; within: 0.5·(−0.1) + 0.5·(−0.1) = −0.10.
    assert d.label_mix == pytest.approx(-0.12) and d.within_bin == pytest.approx(-0.10)
    assert d.predicted_b == pytest.approx(0.70)  # 0.5·0.9 + 0.5·0.5
    assert d.label_mix + d.within_bin == pytest.approx(d.gap, abs=1e-15)


def test_a_bin_only_b_has_takes_as_nearest_non_empty_bin_and_the_identity_holds():
    d = decompose(["1", "2", "3", "4+"], [60, 40, 0, 0], [0.9, 0.6, None, None], [40, 30, 20, 10],
                  [0.8, 0.5, 0.3, 0.2])  # fmt: skip
    assert [p.imputed for p in d.bins] == [False, False, True, True]
    assert [p.acc_a for p in d.bins] == [0.9, 0.6, 0.6, 0.6]
    expected_mix = (0.4 - 0.6) * 0.9 + (0.3 - 0.4) * 0.6 + 0.2 * 0.6 + 0.1 * 0.6
    assert d.label_mix == pytest.approx(expected_mix)
    assert math.isclose(d.label_mix + d.within_bin, d.gap, abs_tol=1e-15)


def test_a_bin_only_a_has_counts_in_the_label_mix_alone():
    d = decompose(["1", "2"], [50, 50], [0.8, 0.4], [100, 0], [0.7, None])
    assert d.bins[1].within_bin == 0 and d.bins[1].label_mix == pytest.approx(-0.5 * 0.4)
    assert d.acc_b == pytest.approx(0.7) and d.predicted_b == pytest.approx(0.8)
    assert d.label_mix + d.within_bin == pytest.approx(d.gap, abs=1e-15)


def test_nothing_to_decompose_without_images_on_a_side():
    assert decompose(["1"], [0], [None], [5], [0.4]) is None
    assert decompose_subgroups([{"bin": "1"}], [{"bin": "2"}], "top1") is None  # other bin edges


def _per_image_world(draw_sizes, draw_correct, n_bins):
    sizes = np.asarray(draw_sizes)
    correct = np.asarray(draw_correct[: sizes.size])
    counts = [int(np.sum(sizes == g)) for g in range(n_bins)]
    acc = [float(np.mean(correct[sizes == g])) if counts[g] else None for g in range(n_bins)]
    return sizes, correct, counts, acc


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=5),
    st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=60),
    st.lists(st.booleans(), min_size=60, max_size=60),
    st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=60),
    st.lists(st.booleans(), min_size=60, max_size=60),
)
def test_the_parts_add_up_to_the_gap_and_each_side_to_its_pooled_accuracy(n_bins, sizes_a, ok_a, sizes_b, ok_b):
    sizes_a = [s % n_bins for s in sizes_a]
    sizes_b = [s % n_bins for s in sizes_b]
    a, ok_a_, counts_a, acc_a = _per_image_world(sizes_a, ok_a, n_bins)
    b, ok_b_, counts_b, acc_b = _per_image_world(sizes_b, ok_b, n_bins)
    d = decompose([str(g + 1) for g in range(n_bins)], counts_a, acc_a, counts_b, acc_b)
    assert math.isclose(d.label_mix + d.within_bin, d.gap, rel_tol=0, abs_tol=1e-12)
    # Each side's binned accuracy is the plain share of correct images (direct computation), and the prediction
    # is A's accuracy plus the label-mix part.
    assert d.acc_a == pytest.approx(ok_a_.mean(), abs=1e-12)
    assert d.acc_b == pytest.approx(ok_b_.mean(), abs=1e-12)
    assert d.predicted_b == pytest.approx(d.acc_a + d.label_mix, abs=1e-12)


def test_label_count_shares_with_wilson_intervals():
    shares = label_count_shares([3, 70, 20, 6, 3, 1, 0, 0], widest=4)
    assert [s["bin"] for s in shares] == ["1", "2", "3", "4+"]
    assert [s["images"] for s in shares] == [70, 20, 6, 4]
    assert shares[1]["share"] == 0.2
    assert shares[1]["share_ci"] == pytest.approx(_wilson(20, 100), abs=1e-12)
    # A shorter histogram gets the same bins.
    assert [s["images"] for s in label_count_shares([0, 5], widest=4)] == [5, 0, 0, 0]


# --- the table -------------------------------------------------------------------------------------------


def test_pairing_by_name_then_as_asked():
    a, b = [(1, "resnet50"), (2, "vgg16"), (3, "mine")], [(11, "vgg16"), (12, "resnet50"), (13, "my-model")]
    pairs, alone_a, alone_b = pair_sets(a, b, [])
    assert [(p.id_a, p.id_b) for p in pairs] == [(1, 12), (2, 11)] and alone_a == [(3, "mine")]
    pairs, alone_a, alone_b = pair_sets(a, b, [(3, 13), (2, None)])
    assert [(p.id_a, p.id_b) for p in pairs] == [(3, 13), (1, 12)] and alone_b == [(11, "vgg16")]
    for wrong in ([(9, 11)], [(1, 99)], [(1, 11), (1, 12)], [(1, 11), (2, 11)]):
        with pytest.raises(PairingError):
            pair_sets(a, b, wrong)


def _summary(top1, n, *, real1=None, subgroups=None):
    summary = {"top1": top1 / n, "top1_ci": _wilson(top1, n), "top5": 0.9, "top5_ci": [0.88, 0.92]}
    if real1 is not None:
        summary |= {"real_at_1": real1 / n, "real_at_1_ci": _wilson(real1, n), "subgroups": subgroups or []}
    return summary


def test_multilabel_cells_stay_empty_when_a_side_has_no_label_sets():
    pairs, _, _ = pair_sets([(1, "m")], [(2, "m")], [])
    rows = compare_pairs(pairs, {1: _summary(76, 100, real1=83)}, {2: _summary(63, 100, real1=0)},
                         labelled_a=True, labelled_b=False)  # fmt: skip
    cell = rows[0].cells["top1"]
    assert (cell.a, cell.b, cell.gap) == (0.76, 0.63, pytest.approx(-0.13))
    assert rows[0].cells["real_at_1"] is None and rows[0].decomposition is None
    text = comparison_csv(CsvContext("A", "B", "ReaL", "Live consensus", "top1"), rows)
    line = next(csv.DictReader(io.StringIO(text)))
    assert line["top1_gap"] == str(0.63 - 0.76) and line["real_at_1_a"] == "" and line["label_mix_part"] == ""


def test_rank_correlations_over_the_pairs_that_have_the_metric():
    pairs, _, _ = pair_sets([(1, "x"), (2, "y"), (3, "z")], [(4, "x"), (5, "y"), (6, "z")], [])
    a = {1: _summary(76, 100), 2: _summary(70, 100), 3: _summary(72, 100)}
    b = {4: _summary(63, 100), 5: _summary(57, 100)}  # z not evaluated on B yet
    rows = compare_pairs(pairs, a, b, labelled_a=False, labelled_b=False)
    top1 = next(r for r in rank_correlations(rows) if r.metric.key == "top1")
    assert (top1.n, top1.spearman, top1.kendall) == (2, pytest.approx(1.0), pytest.approx(1.0))
