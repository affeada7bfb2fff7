"""The benchmark report's chart: target limits read from the target text, and the SVG drawn from figures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bench.charts import COLOURS, report_svg, target_limit
from bench.report import Figure, Report

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("value", "unit", "floor", "target", "limit"),
    [
        (11.0, "ms", 4.0, "≤ 25 ms and ≤ 3× floor", 12.0),  # the floor multiple is tighter
        (11.0, "ms", 10.0, "≤ 25 ms and ≤ 3× floor", 25.0),
        (2.4, "s", 0.4, "≤ 3 s at 750,000 votes", 3.0),
        (89.0, "ms", 0.2, "≤ 300 ms at 50,000 images", 300.0),
        (107.0, "MB", 77.0, "≤ 200 MB at 50,000 images", 200.0),
        (227.0, "annotations/s", None, "≥ 70/s (10× Label Studio)", None),  # no unit match: no tick
        (2.0, "s", 0.9, "", None),
    ],
)
def test_target_limit(value, unit, floor, target, limit):
    figure = Figure("s", "f", value, unit, floor=floor, target=target)
    assert target_limit(figure) == (pytest.approx(limit) if limit is not None else None)


def _figures() -> list[Figure]:
    return [
        Figure("api", "submit p95", 11.0, "ms", floor=4.0, target="≤ 25 ms and ≤ 3× floor", passed=True),
        Figure("api", "next p95", 30.0, "ms", floor=4.0, target="≤ 25 ms and ≤ 3× floor", passed=False),
        Figure("ds", "Dawid–Skene <run>", 2.4, "s", floor=0.36, target="≤ 3 s", passed=True),
        Figure("api", "annotations/s", 227.0, "annotations/s"),  # no floor: not drawn
    ]


def test_svg_has_a_panel_per_unit_and_a_row_per_figure_with_a_floor():
    root = ET.fromstring(report_svg(_figures(), "title & more"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "ms (log scale)" in texts and "s (log scale)" in texts
    assert not any("annotations/s" in (t or "") for t in texts)
    assert "ds: Dawid–Skene <run>" in texts  # escaped in the file, intact once parsed
    rows = [g for g in root.iter(f"{SVG}g")]
    assert len(rows) == 3
    fills = [r.findall(f"{SVG}rect")[0].get("fill") for r in rows]
    assert fills == [COLOURS["value"], COLOURS["miss"], COLOURS["value"]]


def test_bars_and_ticks_follow_the_values():
    root = ET.fromstring(report_svg(_figures(), "t"))
    submit, next_, _ = list(root.iter(f"{SVG}g"))
    width = lambda row, i: float(row.findall(f"{SVG}rect")[i].get("width"))  # noqa: E731
    assert width(next_, 0) > width(submit, 0) > width(submit, 1)  # 30 > 11 > floor 4
    assert width(next_, 1) == width(submit, 1)  # the same floor
    tick = float(submit.find(f"{SVG}line").get("x1"))
    bar_end = float(submit.findall(f"{SVG}rect")[0].get("x")) + width(submit, 0)
    assert tick > bar_end  # the limit, 12 ms, lies right of the 11 ms bar


def test_report_writes_the_chart_beside_json_and_markdown(tmp_path):
    report = Report(scale=10)
    for figure in _figures():
        report.figures.append(figure)
    json_path, md_path = report.write(tmp_path)
    assert (tmp_path / "bench-10.svg").exists() and json_path.exists()
    assert "![Each figure beside its floor and target](bench-10.svg)" in md_path.read_text()
    ET.parse(tmp_path / "bench-10.svg")


def test_growth_svg_draws_a_panel_per_figure_with_a_point_per_size():
    from bench.charts import growth_svg
    from bench.growth import growth_rows

    reports = []
    for size, seconds in ((10_000, 0.5), (50_000, 2.3), (200_000, 10.1)):
        report = Report(scale=size)
        report.figures.append(Figure("ds", f"run over {size * 15:,} votes", seconds, "s"))
        report.figures.append(Figure("pages", "leaderboard", 20.0, "ms"))
        reports.append(report)
    root = ET.fromstring(growth_svg(growth_rows(reports), "growth"))
    panels = list(root.iter(f"{SVG}g"))
    assert len(panels) == 2  # "run over N votes" is matched across sizes
    assert [len(p.findall(f"{SVG}circle")) for p in panels] == [3, 3]
    heights = [float(c.get("cy")) for c in panels[0].findall(f"{SVG}circle")]
    assert heights[0] > heights[1] > heights[2]  # SVG y grows downwards: larger values sit higher
