"""The replay's curve as a standalone SVG: answers used (x) against agreement with the full-answer result (y),
one dot per policy for questions and one for images, the adaptive policies joined by a line, and the issue's
target region shaded. Pure Python, no library."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT = 720, 440
LEFT, TOP, RIGHT, BOTTOM = 64, 40, 540, 392
Y_LOW = 0.80
SERIES = (("questions_equal_share", "questions equal", "#2457c5"), ("images_equal_share", "images equal", "#c0392b"))


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
        # the target: ≤ 60 % of the answers with ≥ 97 % of images (and ≥ 99 % of questions) equal
        f'<rect x="{LEFT}" y="{TOP}" width="{px(target_answers) - LEFT}" height="{py(0.97) - TOP}" fill="#e8f5e9"/>',
        f'<text x="{LEFT + 4}" y="{TOP + 12}" fill="#1d7a46">target: ≤ {target_answers:.0%} of answers, '
        "≥ 97 % images / ≥ 99 % questions equal</text>",
    ]
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        parts.append(f'<line x1="{px(tick)}" y1="{TOP}" x2="{px(tick)}" y2="{BOTTOM}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{px(tick)}" y="{BOTTOM + 14}" text-anchor="middle">{tick:.0%}</text>')
    for tick in (0.80, 0.85, 0.90, 0.95, 0.97, 0.99, 1.0):
        parts.append(f'<line x1="{LEFT}" y1="{py(tick)}" x2="{RIGHT}" y2="{py(tick)}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{py(tick) + 4}" text-anchor="end">{tick:.0%}</text>')
    parts.append(
        f'<text x="{(LEFT + RIGHT) / 2}" y="{BOTTOM + 32}" text-anchor="middle">answers used (share of all)</text>'
    )
    parts.append(
        f'<text x="16" y="{(TOP + BOTTOM) / 2}" transform="rotate(-90 16 {(TOP + BOTTOM) / 2})" '
        'text-anchor="middle">equal to the full-answer result</text>'
    )
    for key, label, colour in SERIES:
        adaptive = sorted(
            (r for r in rows if r["policy"].startswith("adaptive") and r.get("question_level")),
            key=lambda r: r["answers_used_share"],
        )
        if len(adaptive) > 1:
            points = " ".join(f"{px(r['answers_used_share'])},{py(r[key])}" for r in adaptive)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        for r in rows:
            x, y = px(r["answers_used_share"]), py(r[key])
            tip = f"{r['policy']}: {r['answers_used_share']:.1%} of answers, {r[key]:.2%} {label}"
            parts.append(f'<circle cx="{x}" cy="{y}" r="3.5" fill="{colour}"><title>{escape(tip)}</title></circle>')
    images = {r["policy"]: r for r in rows}
    for name, r in images.items():
        parts.append(
            f'<text x="{px(r["answers_used_share"]) + 5}" y="{py(r["images_equal_share"]) + 12}" '
            f'font-size="9" fill="#555">{escape(name)}</text>'
        )
    legend_y = TOP + 30
    for i, (_, label, colour) in enumerate(SERIES):
        y = legend_y + 16 * i
        parts.append(f'<circle cx="{RIGHT + 20}" cy="{y}" r="4" fill="{colour}"/>')
        parts.append(f'<text x="{RIGHT + 30}" y="{y + 4}">{label}</text>')
    parts.append(f'<text x="{RIGHT + 14}" y="{legend_y + 40}" font-size="10">line: adaptive,</text>')
    parts.append(f'<text x="{RIGHT + 14}" y="{legend_y + 53}" font-size="10">question-level, by c</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
