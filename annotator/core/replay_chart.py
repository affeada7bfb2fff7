"""The replay's curve as a standalone SVG: answers used (x) against agreement with the full-answer result (y).

Images equal (red) and questions equal (blue) per policy; the adaptive policies of one kind are joined by a line:
solid, the product's way (a warm-up run and a refit), labelled by their confidence c; dotted, the same with the band
around ½ (rows with `label_threshold` ½, when the product's cut is another); dashed, the full run's parameters (the
ceiling); dash-dotted, stopped with the full run's parameters but labelled by a refit. Every other
policy is a labelled dot. The issue's target region is shaded.
Pure Python, no library.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT = 860, 660
LEFT, TOP, RIGHT, BOTTOM = 64, 44, 580, 610
Y_LOW = 0.6
SERIES = (("images_equal_share", "images equal", "#c0392b"), ("questions_equal_share", "questions equal", "#2457c5"))


def replay_svg(rows: Sequence[dict[str, Any]], title: str, *, target_answers: float = 0.6) -> str:
    def px(share: float) -> float:
        return round(LEFT + share * (RIGHT - LEFT), 1)

    def py(share: float) -> float:
        return round(BOTTOM - (max(share, Y_LOW) - Y_LOW) / (1 - Y_LOW) * (BOTTOM - TOP), 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{px(target_answers) - LEFT}" height="{py(0.97) - TOP}" fill="#e8f5e9"/>',
        f'<text x="{LEFT + 4}" y="{py(0.97) + 12}" fill="#1d7a46" font-size="10">target: ≤ {target_answers:.0%} of the '
        "answers, ≥ 97 % of images and ≥ 99 % of questions equal</text>",
    ]
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        parts.append(f'<line x1="{px(tick)}" y1="{TOP}" x2="{px(tick)}" y2="{BOTTOM}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{px(tick)}" y="{BOTTOM + 14}" text-anchor="middle">{tick:.0%}</text>')
    for tick in (0.6, 0.7, 0.8, 0.9, 0.97, 1.0):
        parts.append(f'<line x1="{LEFT}" y1="{py(tick)}" x2="{RIGHT}" y2="{py(tick)}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{py(tick) + 4}" text-anchor="end">{tick:.0%}</text>')
    parts.append(
        f'<text x="{(LEFT + RIGHT) / 2}" y="{BOTTOM + 32}" text-anchor="middle">answers used (share of all)</text>'
    )
    middle = (TOP + BOTTOM) / 2
    parts.append(
        f'<text x="16" y="{middle}" transform="rotate(-90 16 {middle})" text-anchor="middle">'
        "equal to the label sets from all answers</text>"
    )
    adaptive = [r for r in rows if r["policy"].startswith("adaptive") and r.get("question_level")]
    cuts = {r.get("label_threshold") for r in adaptive if not r.get("known_run")}
    half_band = len(cuts) > 1  # the ½ band is there for comparison with the product's cut

    def family(known: bool, refit: bool, half: bool) -> list[dict[str, Any]]:
        return sorted(
            (r for r in adaptive if bool(r.get("known_run")) == known and bool(r.get("refit_labels")) == refit
             and (half_band and r.get("label_threshold") == 0.5) == half),
            key=lambda r: r["answers_used_share"],
        )  # fmt: skip

    families = [family(False, False, False), family(True, False, False), family(False, False, True),
                family(True, True, False)]  # fmt: skip
    dashes = ("", ' stroke-dasharray="5 3"', ' stroke-dasharray="1 3"', ' stroke-dasharray="8 3 2 3"')
    for key, label, colour in SERIES:
        for family_rows, dash in zip(families, dashes, strict=True):
            if len(family_rows) > 1:
                points = " ".join(f"{px(r['answers_used_share'])},{py(r[key])}" for r in family_rows)
                parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"{dash}/>')
        for r in rows:
            tip = f"{r['policy']}: {r['answers_used_share']:.1%} of answers, {r[key]:.2%} {label}"
            parts.append(
                f'<circle cx="{px(r["answers_used_share"])}" cy="{py(r[key])}" r="3.5" fill="{colour}">'
                f"<title>{escape(tip)}</title></circle>"
            )
    for r in families[0]:  # the product's curve only: the others sit too close to it to label
        parts.append(
            f'<text x="{px(r["answers_used_share"]) + 4}" y="{py(r["images_equal_share"]) - 5}" font-size="9" '
            f'fill="#7f1d1d">c={r["confidence"]:g}</text>'
        )
    for r in rows:
        if r in adaptive:
            continue
        parts.append(
            f'<text x="{px(r["answers_used_share"]) + 5}" y="{py(r["images_equal_share"]) + 12}" font-size="9" '
            f'fill="#444">{escape(r["policy"])}</text>'
        )
    legend = [
        ("circle", "#c0392b", "images equal"), ("circle", "#2457c5", "questions equal"),
        ("solid", "#555", "adaptive: warm-up run, refit"), ("dashed", "#555", "adaptive: the full run's weights"),
        *([("dotted", "#555", "adaptive, band around ½")] if half_band else []),
        ("dashdot", "#555", "full run's stop, refit labels"),
    ]  # fmt: skip
    for i, (kind, colour, text) in enumerate(legend):
        y = TOP + 30 + 18 * i
        if kind == "circle":
            parts.append(f'<circle cx="{RIGHT + 24}" cy="{y}" r="4" fill="{colour}"/>')
        else:
            dash = {"dashed": dashes[1], "dotted": dashes[2], "dashdot": dashes[3]}.get(kind, "")
            parts.append(f'<line x1="{RIGHT + 14}" y1="{y}" x2="{RIGHT + 34}" y2="{y}" stroke="{colour}"{dash}/>')
        parts.append(f'<text x="{RIGHT + 40}" y="{y + 4}" font-size="10">{text}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
