"""Leaderboard ranking and chart geometry (pure functions)."""

from __future__ import annotations

from evaluation.core.charts import Series, line_chart, rank_changes, ranks


def test_ranks_share_the_better_place_on_ties_and_skip_undefined_values():
    assert ranks([0.7, 0.9, 0.7, None, 0.5]) == [2, 1, 2, None, 4]


def test_rank_changes_count_places_gained_from_the_first_ranking_to_the_second():
    assert rank_changes([1, 2, 3, None], [2, 1, 3, 1]) == [-1, 1, 0, None]


def test_a_chart_maps_points_into_the_plot_area_with_integer_image_ticks():
    chart = line_chart("ReaL@1", [Series("a", [(0, 0.5), (1000, 0.8)]), Series("b", [(500, 0.6)])])
    left, top, right, bottom = chart.plot
    for series in chart.series:
        for x, y, _ in series.dots:
            assert left <= x <= right and top <= y <= bottom
    assert all(label.replace(",", "").isdigit() for _, label in chart.x_ticks)
    assert chart.series[0].dots[0][2] == "a: 50.0% at 0 images"
    assert chart.series[0].colour != chart.series[1].colour


def test_a_chart_without_points_is_marked_empty():
    assert line_chart("mAP", []).empty


def test_a_single_point_still_gets_a_visible_range():
    chart = line_chart("top-1", [Series("only", [(0, 0.76)])])
    assert not chart.empty and len(chart.x_ticks) >= 2 and chart.y_ticks
