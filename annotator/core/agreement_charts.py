"""Server-rendered SVG bar charts for the agreement dashboard (pure Python geometry, no Django)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    cx: float  # centre, for the labels
    label: str  # under the bar
    value: str  # above the bar
    tip: str


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    baseline: float
    left: float
    right: float
    bars: list[Bar]
    x_label: str
    y_ticks: list[tuple[float, str]]
    empty: bool = False


def bar_chart(
    title: str,
    labels: Sequence[str],
    counts: Sequence[int],
    *,
    x_label: str = "",
    unit: str = "images",
    highlight_from: int | None = None,
    width: int = 460,
    height: int = 220,
) -> BarChart:
    """Bars of counts, each labelled with its share of the total; `highlight_from` marks bars from that index on."""
    left, top, right, bottom = 44.0, 22.0, width - 10.0, height - 22.0  # the axis caption is HTML under the SVG
    total = sum(counts)
    peak = max(counts, default=0)
    if not counts or total == 0:
        return BarChart(title, width, height, bottom, left, right, [], x_label, [], empty=True)
    slot = (right - left) / len(counts)
    bars = []
    for i, (label, count) in enumerate(zip(labels, counts, strict=True)):
        h = (bottom - top) * count / peak
        share = count / total
        bars.append(
            Bar(
                x=round(left + i * slot + slot * 0.12, 1),
                y=round(bottom - h, 1),
                width=round(slot * 0.76, 1),
                height=round(h, 1),
                cx=round(left + (i + 0.5) * slot, 1),
                label=label,
                value=f"{share:.0%}" if share >= 0.005 or count == 0 else "<1%",
                tip=f"{label}: {count:,} {unit} ({share:.1%})"
                + (" ★" if highlight_from is not None and i >= highlight_from else ""),
            )
        )
    # Counts are whole numbers: the middle tick only where half the peak is one (no "0, 0, 1" axes).
    values = [0, peak // 2, peak] if peak % 2 == 0 and peak >= 2 else [0, peak]
    ticks = [(round(bottom - (bottom - top) * v / peak, 1), f"{v:,}") for v in values]
    return BarChart(title, width, height, bottom, left, right, bars, x_label, ticks)


def capped_bins(histogram: Mapping[str, int], *, last: int) -> tuple[list[str], list[int]]:
    """Bars for the counts below `last`, then one "last+" bar holding the rest (only when some item has that many):
    imported answer sets (ReaL's raters answered per question) spread a few images over dozens of counts, each
    too small to read."""
    counts = {int(k): n for k, n in histogram.items()}
    shown = sorted(k for k in counts if k < last)
    labels, values = [str(k) for k in shown], [counts[k] for k in shown]
    tail = sum(n for k, n in counts.items() if k >= last)
    if tail:
        labels.append(f"{last}+")
        values.append(tail)
    return labels, values
