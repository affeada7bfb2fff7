"""Leaderboard ranking and server-rendered SVG charts: lines, scatters, intervals (pure Python, no Django).

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


# --- one state per model: a scatter of two metrics; per |Y| bin: values with their intervals -----------------


@dataclass(frozen=True)
class ScatterDot:
    name: str
    colour: str
    x: float  # pixels
    y: float
    tip: str


@dataclass(frozen=True)
class ScatterChart:
    title: str
    width: int
    height: int
    plot: tuple[float, float, float, float]  # left, top, right, bottom in pixels
    ticks: list[tuple[float, float, str]]  # (x pixel, y pixel, label): both axes share the scale
    diagonal: tuple[float, float, float, float]  # the y = x line, x1 y1 x2 y2 in pixels
    dots: list[ScatterDot]
    x_label: str
    y_label: str
    empty: bool = False
    fit: tuple[float, float, float, float] | None = None  # the least-squares line, clipped to the plot, pixels
    fit_label: str = ""  # "y = 1.02x − 0.14"


def scatter_chart(
    title: str,
    points: Sequence[tuple[str, float, float]],
    *,
    x_label: str,
    y_label: str,
    size: int = 300,
    fit: tuple[float, float] | None = None,
) -> ScatterChart:
    """One dot per (name, x, y) proportion on equal axes, with the y = x line: above it, y is the larger; and
    the line `fit` = (slope, intercept) when given."""
    left, top, right, bottom = 48.0, 12.0, size - 12.0, size - 36.0
    values = [v for _, x, y in points for v in (x, y)]
    if not values:
        return ScatterChart(title, size, size, (left, top, right, bottom), [], (0, 0, 0, 0), [], x_label, y_label, True)
    low, high = _padded(min(values), max(values))
    low, high = max(0.0, low), min(1.0, high)

    def px(v: float) -> float:
        return round(left + (v - low) / (high - low) * (right - left), 1)

    def py(v: float) -> float:
        return round(bottom - (v - low) / (high - low) * (bottom - top), 1)

    dots = [
        ScatterDot(name, PALETTE[i % len(PALETTE)], px(x), py(y), f"{name}: {_format(x, True)} → {_format(y, True)}")
        for i, (name, x, y) in enumerate(points)
    ]
    ticks = [(px(v), py(v), _format(v, True)) for v in _ticks(low, high)]
    diagonal = (px(low), py(low), px(high), py(high))
    fitted = _clipped_line(fit, low, high) if fit else None
    return ScatterChart(
        title, size, size, (left, top, right, bottom), ticks, diagonal, dots, x_label, y_label,
        fit=(px(fitted[0]), py(fitted[1]), px(fitted[2]), py(fitted[3])) if fitted else None,
        fit_label=_line_label(*fit) if fit else "",
    )  # fmt: skip


def _clipped_line(fit: tuple[float, float], low: float, high: float) -> tuple[float, float, float, float] | None:
    """The part of y = slope·x + intercept inside the square [low, high]², as x1 y1 x2 y2; None if it misses."""
    slope, intercept = fit
    if abs(slope) < 1e-12:
        return (low, intercept, high, intercept) if low <= intercept <= high else None
    ends = sorted(((low - intercept) / slope, (high - intercept) / slope))
    x1, x2 = max(low, ends[0]), min(high, ends[1])
    if x1 >= x2:
        return None
    return x1, slope * x1 + intercept, x2, slope * x2 + intercept


def _line_label(slope: float, intercept: float) -> str:
    sign = "−" if intercept < 0 else "+"
    return f"y = {slope:.3f}x {sign} {abs(intercept) * 100:.2f} pts"


@dataclass(frozen=True)
class IntervalMark:
    x: float  # pixels
    y: float
    low: float  # whisker ends, pixels
    high: float
    tip: str

    @property
    def caps(self) -> tuple[float, float]:
        """Left and right ends of the whiskers' caps, pixels."""
        return round(self.x - 3, 1), round(self.x + 3, 1)


@dataclass(frozen=True)
class IntervalSeries:
    name: str
    colour: str
    marks: list[IntervalMark]


@dataclass(frozen=True)
class IntervalChart:
    title: str
    width: int
    height: int
    plot: tuple[float, float, float, float]
    groups: list[tuple[float, str]]  # (x pixel of the group's centre, label)
    y_ticks: list[tuple[float, str]]
    series: list[IntervalSeries]
    x_label: str
    empty: bool = False


Estimate = tuple[float, list[float] | None]  # a proportion and its interval, if any


def interval_chart(
    title: str,
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[Estimate | None]]],
    *,
    x_label: str = "",
    width: int = 560,
    height: int = 260,
) -> IntervalChart:
    """Proportions (0–100 %) per group, the series side by side in each group, with interval whiskers."""
    left, top, right, bottom = 48.0, 12.0, width - 12.0, height - 36.0
    marks_given = any(e is not None for _, estimates in series for e in estimates)
    if not groups or not marks_given:
        return IntervalChart(title, width, height, (left, top, right, bottom), [], [], [], x_label, empty=True)
    slot = (right - left) / len(groups)
    step = slot * 0.7 / max(1, len(series))

    def py(v: float) -> float:
        return round(bottom - v * (bottom - top), 1)

    drawn = []
    for number, (name, estimates) in enumerate(series):
        offset = -slot * 0.35 + step * (number + 0.5)
        marks = []
        for g, (group, estimate) in enumerate(zip(groups, estimates, strict=True)):
            if estimate is None:
                continue
            value, bounds = estimate
            low, high = bounds or (value, value)
            tip = f"{name}, {group}: {_format(value, True)}" + (f" [{_format(low, True)}, {_format(high, True)}]"
                                                                if bounds else "")  # fmt: skip
            x = round(left + slot * (g + 0.5) + offset, 1)
            marks.append(IntervalMark(x, py(value), py(low), py(high), tip))
        drawn.append(IntervalSeries(name, PALETTE[number % len(PALETTE)], marks))
    centres = [(round(left + slot * (g + 0.5), 1), label) for g, label in enumerate(groups)]
    y_ticks = [(py(v), _format(v, True)) for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    return IntervalChart(title, width, height, (left, top, right, bottom), centres, y_ticks, drawn, x_label)
