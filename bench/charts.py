"""The report as a chart: each figure beside its floor and its target, one panel per unit (SVG, no library).

Every figure that has a floor gets a row: a dark bar for the figure, a light bar for the floor measured in
the same run and, when its target names a limit in the same unit, a red tick at that limit (for "≤ 25 ms
and ≤ 3× floor", the tighter of the two). Scales are logarithmic, since one panel holds 4 ms and 110 ms.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape

from bench.report import Figure

ROW, BAR, LABEL_WIDTH, PLOT_WIDTH, VALUE_WIDTH = 34, 11, 430, 380, 150
PANEL_HEADER, MARGIN = 40, 12
WIDTH = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH + 2 * MARGIN
COLOURS = {"value": "#1f4e79", "floor": "#9dc3e6", "target": "#c00000", "miss": "#c55a11", "grid": "#d9d9d9"}


def target_limit(figure: Figure) -> float | None:
    """The limit the target sets in the figure's own unit, if it names one: the tighter of an absolute
    bound (`≤ 25 ms`) and a multiple of the floor (`≤ 3× floor`)."""
    limits = [
        float(number.replace(",", ""))
        for number, unit in re.findall(r"[≤≥]\s*([\d.,]+)\s*([A-Za-z/]+)", figure.target)
        if unit == figure.unit
    ]
    if figure.floor is not None:
        limits += [float(k) * figure.floor for k in re.findall(r"≤\s*([\d.]+)×\s*floor", figure.target)]
    return min(limits) if limits else None


def report_svg(figures: Sequence[Figure], title: str) -> str:
    panels: dict[str, list[Figure]] = {}
    for figure in figures:
        if figure.floor is not None and figure.value > 0 and figure.floor > 0:
            panels.setdefault(figure.unit, []).append(figure)
    parts: list[str] = []
    y: float = 34
    for unit, rows in panels.items():
        svg, height = _panel(unit, rows, y)
        parts.append(svg)
        y += height
    legend = _legend(WIDTH - MARGIN - 420, 12)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y + MARGIN}" '
        f'viewBox="0 0 {WIDTH} {y + MARGIN}" font-family="sans-serif" font-size="12">\n'
        f'<rect width="100%" height="100%" fill="white"/>\n'
        f'<text x="{MARGIN}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>\n'
        f"{legend}{''.join(parts)}</svg>\n"
    )


def _panel(unit: str, rows: list[Figure], top: float) -> tuple[str, float]:
    limits = [target_limit(f) for f in rows]
    values = [v for f, limit in zip(rows, limits, strict=True) for v in (f.value, f.floor, limit) if v]
    low = 10 ** math.floor(math.log10(min(values)))
    high = 10 ** math.ceil(math.log10(max(values) * 1.05))
    x0 = MARGIN + LABEL_WIDTH

    def x(value: float) -> float:
        return round(x0 + PLOT_WIDTH * math.log10(value / low) / math.log10(high / low), 1)

    height = PANEL_HEADER + ROW * len(rows)
    out = [f'<text x="{MARGIN}" y="{top + 22}" font-weight="bold">{escape(unit)} (log scale)</text>\n']
    decade = low
    while decade <= high * 1.0001:
        gx = x(decade)
        out.append(
            f'<line x1="{gx}" y1="{top + 30}" x2="{gx}" y2="{top + height}" stroke="{COLOURS["grid"]}"/>'
            f'<text x="{gx}" y="{top + 26}" text-anchor="middle" fill="#595959">{_number(decade)}</text>\n'
        )
        decade *= 10
    for i, (figure, limit) in enumerate(zip(rows, limits, strict=True)):
        floor = figure.floor
        assert floor is not None, "only figures with a floor are charted"
        y = top + PANEL_HEADER + i * ROW
        colour = COLOURS["miss"] if figure.passed is False else COLOURS["value"]
        verdict = "" if figure.passed is None else (" ✓" if figure.passed else " ✗ miss")
        tip = (
            f"{figure.section}: {figure.name} — {figure.value:.4g} {figure.unit}; floor {figure.floor:.4g} "
            f"{figure.unit} ({figure.floor_note}); target {figure.target or 'none'}"
        )
        out.append(
            f"<g><title>{escape(tip)}</title>"
            f'<text x="{MARGIN}" y="{y + 10}">{escape(_short(figure))}</text>'
            f'<rect x="{x0}" y="{y}" width="{max(x(figure.value) - x0, 1)}" height="{BAR}" fill="{colour}"/>'
            f'<rect x="{x0}" y="{y + BAR + 1}" width="{max(x(floor) - x0, 1)}" height="{BAR - 4}" '
            f'fill="{COLOURS["floor"]}"/>'
            f'<text x="{x0 + PLOT_WIDTH + 8}" y="{y + 10}">'
            f"{_number(figure.value)} {escape(figure.unit)}{verdict}</text>"
            f'<text x="{x0 + PLOT_WIDTH + 8}" y="{y + 23}" fill="#595959" font-size="11">'
            f"floor {_number(floor)}</text>"
            + (
                f'<line x1="{x(limit)}" y1="{y - 3}" x2="{x(limit)}" y2="{y + 2 * BAR}" stroke="{COLOURS["target"]}" '
                f'stroke-width="2"/>'
                if limit
                else ""
            )
            + "</g>\n"
        )
    return "".join(out), height


def _legend(left: float, top: float) -> str:
    items = [("value", "figure"), ("floor", "floor, same run"), ("target", "target limit"), ("miss", "missed")]
    out, x = [], left
    for key, text in items:
        shape = (
            f'<line x1="{x}" y1="{top}" x2="{x}" y2="{top + 12}" stroke="{COLOURS[key]}" stroke-width="2"/>'
            if key == "target"
            else f'<rect x="{x - 5}" y="{top + 1}" width="10" height="10" fill="{COLOURS[key]}"/>'
        )
        out.append(f'{shape}<text x="{x + 9}" y="{top + 10}">{text}</text>')
        x += 25 + 7 * len(text)
    return "".join(out) + "\n"


def _short(figure: Figure) -> str:
    name = figure.name if len(figure.name) <= 62 else figure.name[:60] + "…"
    return f"{figure.section}: {name}" if len(figure.section) + len(name) < 64 else name


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def growth_svg(rows: Sequence[dict], title: str, columns: int = 3) -> str:
    """Small multiples of `bench.growth.growth_rows`: each figure against the images, with its least-squares
    line (linear axes from zero, so a straight line through the origin is proportional growth)."""
    cell_w, cell_h, pad = 300, 190, 44
    n_rows = math.ceil(len(rows) / columns)
    width, height = columns * cell_w + 2 * MARGIN, n_rows * cell_h + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n'
        f'<text x="{MARGIN}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>\n'
    ]
    for k, row in enumerate(rows):
        left = MARGIN + (k % columns) * cell_w + pad
        top = 40 + (k // columns) * cell_h + 30
        plot_w, plot_h = cell_w - pad - 16, cell_h - 30 - 36
        sizes, values = row["sizes"], row["values"]
        x_max, y_max = max(sizes) * 1.05, max(values) * 1.15 or 1.0

        def px(size: float, left: float = left, plot_w: float = plot_w, x_max: float = x_max) -> float:
            return round(left + plot_w * size / x_max, 1)

        def py(value: float, top: float = top, plot_h: float = plot_h, y_max: float = y_max) -> float:
            return round(top + plot_h * (1 - value / y_max), 1)

        name = row["name"] if len(row["name"]) <= 44 else row["name"][:42] + "…"
        out.append(
            f"<g><title>{escape(row['section'] + ': ' + row['name'] + ' — ' + row['shape'])}</title>"
            f'<text x="{left - pad + 4}" y="{top - 12}" font-weight="bold">{escape(name)}</text>'
            f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#595959"/>'
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#595959"/>'
            f'<text x="{left - 4}" y="{py(y_max / 1.15) + 4}" text-anchor="end">{_number(y_max / 1.15)}</text>'
            f'<text x="{left - 4}" y="{top + plot_h + 4}" text-anchor="end">0</text>'
        )
        fit = [(s, row["intercept"] + row["slope_per_10k"] * s / 10_000) for s in (0, max(sizes))]
        out.append(
            f'<line x1="{px(fit[0][0])}" y1="{py(max(fit[0][1], 0))}" x2="{px(fit[1][0])}" y2="{py(fit[1][1])}" '
            f'stroke="{COLOURS["floor"]}" stroke-width="2" stroke-dasharray="5 3"/>'
        )
        for size, value in zip(sizes, values, strict=True):
            out.append(
                f'<circle cx="{px(size)}" cy="{py(value)}" r="4" fill="{COLOURS["value"]}"/>'
                f'<text x="{px(size)}" y="{top + plot_h + 14}" text-anchor="middle">{size // 1000}k</text>'
                f'<text x="{px(size) - 6}" y="{py(value) - 7}" text-anchor="end" fill="#1f4e79">'
                f"{_number(value)}</text>"
            )
        out.append(
            f'<text x="{left + plot_w}" y="{top + plot_h + 28}" text-anchor="end" fill="#595959">'
            f"{escape(row['unit'])} · slope {_number(row['slope_per_10k'])} {escape(row['unit'])} per 10k images"
            "</text></g>\n"
        )
    return "".join(out) + "</svg>\n"
