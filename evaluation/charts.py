"""Leaderboard ranking and server-rendered SVG line charts (pure Python, no Django).

The charts are plain geometry handed to a template (`evaluation/_chart.html`), so the page needs no
JavaScript and no chart library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

PALETTE = ("#2457c5", "#c0392b", "#1d7a46", "#a66300", "#7b3fb5", "#0f7c8c", "#b5367a", "#5c6675", "#8a6d00", "#3a3a9e")


def ranks(values: Sequence[float | None]) -> list[int | None]:
    """Competition ranks (1 = best, ties share the better rank); None values get no rank."""
    present = sorted((v for v in values if v is not None), reverse=True)
    return [None if v is None else 1 + present.index(v) for v in values]


def rank_changes(first: Sequence[int | None], second: Sequence[int | None]) -> list[int | None]:
    """Places gained (positive) or lost (negative) going from ranking `first` to ranking `second`."""
    return [None if a is None or b is None else a - b for a, b in zip(first, second, strict=True)]


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[float, float]]  # (x, y) in data units, in drawing order


@dataclass(frozen=True)
class DrawnSeries:
    name: str
    colour: str
    polyline: str
    dots: list[tuple[float, float, str]]  # (x, y, tooltip) in pixels


@dataclass(frozen=True)
class LineChart:
    title: str
    width: int
    height: int
    plot: tuple[float, float, float, float]  # left, top, right, bottom in pixels
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    series: list[DrawnSeries] = field(default_factory=list)
    x_label: str = ""
    empty: bool = False


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str = "labelled images",
    width: int = 420,
    height: int = 240,
    percent: bool = True,
) -> LineChart:
    """Geometry of a line chart with y as a proportion (shown in %) and x as a count."""
    left, top, right, bottom = 48.0, 12.0, width - 12.0, height - 36.0
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    if not xs:
        return LineChart(title, width, height, (left, top, right, bottom), [], [], [], x_label, empty=True)
    x_low, x_high = _padded(min(xs), max(xs), floor_zero=True)
    y_low, y_high = _padded(min(ys), max(ys))
    if percent:
        y_low, y_high = max(0.0, y_low), min(1.0, y_high)

    def px(x: float) -> float:
        return round(left + (x - x_low) / (x_high - x_low) * (right - left), 1)

    def py(y: float) -> float:
        return round(bottom - (y - y_low) / (y_high - y_low) * (bottom - top), 1)

    drawn = []
    for number, s in enumerate(series):
        points = [(px(x), py(y)) for x, y in s.points]
        tips = [f"{s.name}: {_format(y, percent)} at {int(x):,} images" for x, y in s.points]
        drawn.append(
            DrawnSeries(
                name=s.name,
                colour=PALETTE[number % len(PALETTE)],
                polyline=" ".join(f"{x},{y}" for x, y in points),
                dots=[(x, y, tip) for (x, y), tip in zip(points, tips, strict=True)],
            )
        )
    x_ticks = [(px(v), f"{int(v):,}") for v in _ticks(x_low, x_high, integer=True)]
    y_ticks = [(py(v), _format(v, percent)) for v in _ticks(y_low, y_high)]
    return LineChart(title, width, height, (left, top, right, bottom), x_ticks, y_ticks, drawn, x_label)


def _padded(low: float, high: float, *, floor_zero: bool = False) -> tuple[float, float]:
    if high - low < 1e-9:
        pad = abs(high) * 0.05 or 1.0
        return (0.0 if floor_zero else low - pad), high + pad
    pad = (high - low) * 0.08
    return (max(0.0, low - pad) if floor_zero else low - pad), high + pad


def _ticks(low: float, high: float, count: int = 5, *, integer: bool = False) -> list[float]:
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:  # counts of images: no fractional ticks
        step = max(1, round(step))
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(count + 2) if first + i * step <= high + 1e-12]


def _format(value: float, percent: bool) -> str:
    return f"{value * 100:.1f}%" if percent else f"{value:,.3g}"
