"""Draw the demo's four drawings (maze.png, crossword.png, traffic_light.png, digital_clock.png) with Pillow.

Made for ReLabel and released under CC0. Deterministic: running it again gives the same pixels, so the files
in this folder can be checked against it (python data/demo/draw.py [folder])."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent


def maze(cols: int = 24, rows: int = 18, cell: int = 26) -> Image.Image:
    """A perfect maze (depth-first backtracking), entrance top left, exit bottom right."""
    rng = random.Random(7)
    walls = {(x, y): {"N", "S", "E", "W"} for x in range(cols) for y in range(rows)}
    steps = {"N": (0, -1, "S"), "S": (0, 1, "N"), "E": (1, 0, "W"), "W": (-1, 0, "E")}
    stack, seen = [(0, 0)], {(0, 0)}
    while stack:
        x, y = stack[-1]
        options = [(d, x + dx, y + dy, back) for d, (dx, dy, back) in steps.items() if (x + dx, y + dy) in walls]
        options = [o for o in options if (o[1], o[2]) not in seen]
        if not options:
            stack.pop()
            continue
        d, nx, ny, back = rng.choice(options)
        walls[(x, y)].discard(d)
        walls[(nx, ny)].discard(back)
        seen.add((nx, ny))
        stack.append((nx, ny))
    walls[(0, 0)].discard("W")
    walls[(cols - 1, rows - 1)].discard("E")
    margin = 20
    image = Image.new("RGB", (cols * cell + 2 * margin, rows * cell + 2 * margin), "#fbfaf5")
    draw = ImageDraw.Draw(image)
    for (x, y), sides in walls.items():
        left, top = margin + x * cell, margin + y * cell
        lines = {"N": (left, top, left + cell, top), "S": (left, top + cell, left + cell, top + cell),
                 "W": (left, top, left, top + cell), "E": (left + cell, top, left + cell, top + cell)}  # fmt: skip
        for side in sides:
            draw.line(lines[side], fill="#1d2430", width=3)
    return image


def crossword(size: int = 15, cell: int = 34) -> Image.Image:
    """An empty 15 × 15 crossword grid with rotationally symmetric black squares and clue numbers."""
    rng = random.Random(11)
    black = set()
    while len(black) < 36:
        x, y = rng.randrange(size), rng.randrange(size)
        black |= {(x, y), (size - 1 - x, size - 1 - y)}
    margin = 16
    image = Image.new("RGB", (size * cell + 2 * margin, size * cell + 2 * margin), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=10)
    number = 0
    for y in range(size):
        for x in range(size):
            box = (margin + x * cell, margin + y * cell, margin + (x + 1) * cell, margin + (y + 1) * cell)
            if (x, y) in black:
                draw.rectangle(box, fill="black")
                continue
            draw.rectangle(box, outline="black", width=1)
            across = (x == 0 or (x - 1, y) in black) and x + 1 < size and (x + 1, y) not in black
            down = (y == 0 or (x, y - 1) in black) and y + 1 < size and (x, y + 1) not in black
            if across or down:
                number += 1
                draw.text((box[0] + 2, box[1] + 1), str(number), fill="black", font=font)
    draw.rectangle((margin, margin, margin + size * cell, margin + size * cell), outline="black", width=3)
    return image


def traffic_light(width: int = 480, height: int = 640) -> Image.Image:
    """A three-lamp traffic light on a pole against the sky, red lit."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):  # sky, lighter towards the horizon
        shade = int(150 + 80 * y / height)
        draw.line((0, y, width, y), fill=(shade - 60, shade - 20, 255))
    draw.rectangle((width // 2 - 12, 420, width // 2 + 12, height), fill="#55595f")
    housing = (width // 2 - 70, 60, width // 2 + 70, 430)
    draw.rounded_rectangle(housing, radius=26, fill="#23262b", outline="#111", width=4)
    lamps = [("#ff2a1a", True), ("#ffb000", False), ("#18c060", False)]
    for i, (colour, lit) in enumerate(lamps):
        cy = 120 + i * 115
        draw.pieslice((width // 2 - 62, cy - 62, width // 2 + 62, cy + 40), 180, 360, fill="#16181b")  # visor
        fill = colour if lit else tuple(int(colour[k : k + 2], 16) // 4 for k in (1, 3, 5))
        draw.ellipse((width // 2 - 44, cy - 44, width // 2 + 44, cy + 44), fill=fill, outline="#0c0d0f", width=3)
    return image


SEGMENTS = {  # seven segments a–g of each digit
    "0": "abcdef", "1": "bc", "2": "abdeg", "3": "abcdg", "4": "bcfg", "5": "acdfg", "6": "acdefg", "7": "abc",
    "8": "abcdefg", "9": "abcdfg",
}  # fmt: skip


def digital_clock(text: str = "12:34", width: int = 720, height: int = 360) -> Image.Image:
    """A bedside digital clock with red seven-segment digits on a wooden table."""
    image = Image.new("RGB", (width, height), "#6b4a2f")
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 6):  # wood grain
        draw.line((0, y, width, y + 3), fill="#5e3f27" if (y // 6) % 3 else "#7a5637", width=2)
    body = (60, 70, width - 60, height - 60)
    draw.rounded_rectangle(body, radius=28, fill="#141414", outline="#2b2b2b", width=6)
    draw.rounded_rectangle((90, 95, width - 90, height - 90), radius=12, fill="#1c0505")
    x, top, w, h, t = 120, 120, 80, 150, 14
    for char in text:
        if char == ":":
            for cy in (top + h // 3, top + 2 * h // 3):
                draw.ellipse((x + 4, cy - 9, x + 22, cy + 9), fill="#ff3322")
            x += 40
            continue
        half = top + h // 2
        boxes = {
            "a": (x + t, top, x + w - t, top + t), "d": (x + t, top + h - t, x + w - t, top + h),
            "g": (x + t, half - t // 2, x + w - t, half + t // 2), "f": (x, top + t, x + t, half - t // 2),
            "b": (x + w - t, top + t, x + w, half - t // 2), "e": (x, half + t // 2, x + t, top + h - t),
            "c": (x + w - t, half + t // 2, x + w, top + h - t),
        }  # fmt: skip
        for segment, box in boxes.items():
            draw.rectangle(box, fill="#ff3322" if segment in SEGMENTS[char] else "#3a0c08")
        x += w + 28
    return image


DRAWINGS = {
    "maze.png": maze,
    "crossword.png": crossword,
    "traffic_light.png": traffic_light,
    "digital_clock.png": digital_clock,
}


def main(folder: Path) -> None:
    for name, draw in DRAWINGS.items():
        draw().save(folder / name, optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
