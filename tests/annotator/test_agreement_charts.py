"""Bar charts of the agreement dashboard: whole-number axis ticks."""

from __future__ import annotations

from annotator.core.agreement_charts import bar_chart, capped_bins


def test_ticks_are_whole_counts_with_a_middle_tick_only_where_half_the_peak_is_one():
    odd = bar_chart("t", ["a", "b"], [1, 3])
    assert [label for _, label in odd.y_ticks] == ["0", "3"]
    even = bar_chart("t", ["a", "b"], [4, 2])
    assert [label for _, label in even.y_ticks] == ["0", "2", "4"]
    single = bar_chart("t", ["a"], [1])
    assert [label for _, label in single.y_ticks] == ["0", "1"]
    assert [y for y, _ in even.y_ticks] == sorted((y for y, _ in even.y_ticks), reverse=True)  # 0 at the bottom


def test_capped_bins_keep_small_counts_and_gather_the_rest_in_one_last_bar():
    histogram = {"0": 4, "2": 7, "5": 3, "9": 1, "10": 2, "28": 1}
    assert capped_bins(histogram, last=10) == (["0", "2", "5", "9", "10+"], [4, 7, 3, 1, 3])
    assert capped_bins({"0": 4, "3": 1}, last=10) == (["0", "3"], [4, 1])
    assert sum(capped_bins(histogram, last=3)[1]) == sum(histogram.values())
