"""Growth: the workload sections at several sizes, each figure's slope and whether it grows linearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.charts import growth_svg
from bench.report import Figure, Report, _machine

PER = 10_000  # slopes are given per 10,000 images


def growth_rows(reports: list[Report]) -> list[dict]:
    """One row per figure measured at every size: values, least-squares slope per 10k images, R², shape."""
    sizes = [r.scale for r in reports]
    names: dict[tuple[str, str], list[float]] = {}
    units: dict[tuple[str, str], str] = {}
    for report in reports:
        for figure in report.figures:
            key = (figure.section, _sizeless(figure.name))
            names.setdefault(key, []).append(figure.value)
            units[key] = figure.unit
    rows = []
    for (section, name), values in names.items():
        if len(values) != len(sizes):
            continue
        x, y = np.asarray(sizes, float), np.asarray(values, float)
        slope, intercept = np.polyfit(x, y, 1) if len(x) > 1 else (0.0, y[0])
        fitted = slope * x + intercept
        spread = float(((y - y.mean()) ** 2).sum())
        r2 = 1 - float(((y - fitted) ** 2).sum()) / spread if spread > 0 else 1.0
        rows.append({
            "section": section, "name": name, "unit": units[(section, name)], "sizes": sizes, "values": values,
            "slope_per_10k": float(slope * PER), "intercept": float(intercept), "r2": r2,
            "shape": _shape(x, y),
        })  # fmt: skip
    return rows


def _sizeless(name: str) -> str:
    """Figure names that mention their own size ("over 750,000 votes") are matched across sizes; small counts
    that are part of the name ("16 annotators", "p95 of 40") stay."""
    return " ".join(word for word in name.split() if not (word.replace(",", "").isdigit() and len(word) >= 4))


def _shape(x: np.ndarray, y: np.ndarray) -> str:
    """Flat when the figure barely moves; else the marginal cost of the last size step against the first."""
    if len(x) < 2 or y.min() <= 0:
        return "—"
    if y[-1] < 1.5 * y[0]:  # the largest size costs less than 1.5× the smallest
        return "flat (does not grow with the images)"
    marginal = np.diff(y) / np.diff(x)
    if marginal[0] <= 0:
        return "—"
    ratio = marginal[-1] / marginal[0]
    if ratio < 0.67:
        return f"sub-linear (marginal cost ×{ratio:.2f})"
    if ratio <= 1.5:
        return f"linear (marginal cost ×{ratio:.2f})"
    return f"super-linear (marginal cost ×{ratio:.2f})"


HANDOUT_RATIO_TARGET = 1.5  # issue 23: p95 at 1.3 M within 1.5x of the 50k figure of the same run


def _handout_lines(rows: list[dict]) -> list[str]:
    """Each p95 of the annotation API at every size against its value at the smallest size of the run."""
    api = [row for row in rows if row["section"] == "annotation API" and " p95" in row["name"]]
    if not api or len(api[0]["sizes"]) < 2:
        return []
    sizes = api[0]["sizes"]
    base = sizes.index(50_000) if 50_000 in sizes else 0  # the reference size, when measured
    others = [i for i in range(len(sizes)) if i != base]
    lines = [
        "",
        f"Annotation API p95 at each size against {sizes[base]:,} images (target ≤ {HANDOUT_RATIO_TARGET}×):",
        "",
        "| figure | " + " | ".join(f"{sizes[i]:,}" for i in others) + " |",
        "|---|" + "---|" * len(others),
    ]
    for row in api:
        ratios = [row["values"][i] / row["values"][base] for i in others]
        cells = " | ".join(f"{r:.2f}× {'✓' if r <= HANDOUT_RATIO_TARGET else '✗'}" for r in ratios)
        lines.append(f"| {row['name']} | {cells} |")
    return lines


def write_growth(reports: list[Report], out_dir: Path, *, meta: dict | None = None) -> tuple[Path, Path]:
    """The growth report; `meta` (machine, time, commit) defaults to now's (`regrow` passes the run's)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = growth_rows(reports)
    meta = meta or _machine()
    json_path = out_dir / "bench-growth.json"
    json_path.write_text(json.dumps({"machine": meta, "figures": rows}, indent=2))
    sizes = [r.scale for r in reports]
    lines = [
        f"# ReLabel benchmark — growth over {', '.join(f'{s:,}' for s in sizes)} images",
        "",
        f"{meta['when']} · {meta['cpu']} · {meta['cores']} cores · commit {meta['commit']}",
        "",
        "| section | figure | " + " | ".join(f"{s:,}" for s in sizes) + " | slope per 10k images | R² | shape |",
        "|---|---|" + "---|" * len(sizes) + "---|---|---|",
    ]
    for row in rows:
        values = " | ".join(f"{v:.3g} {row['unit']}" for v in row["values"])
        lines.append(
            f"| {row['section']} | {row['name']} | {values} | {row['slope_per_10k']:.3g} {row['unit']} "
            f"| {row['r2']:.3f} | {row['shape']} |"
        )
    lines += _handout_lines(rows)
    lines[3:3] = ["", "![Each figure against the images, with its least-squares line](bench-growth.svg)"]
    md_path = out_dir / "bench-growth.md"
    md_path.write_text("\n".join(lines) + "\n")
    title = f"ReLabel benchmark, growth with the images — {meta['cpu']}, {meta['cores']} cores, {meta['when']}"
    (out_dir / "bench-growth.svg").write_text(growth_svg(rows, title))
    return json_path, md_path


def regrow(out_dir: Path, sizes: list[int]) -> tuple[Path, Path]:
    """Write the growth report again from the per-size reports of a run (`bench-<n>.json`), keeping the run's
    machine, time and commit: ``python -c "from bench.growth import regrow; …"`` after a change to this file."""
    reports, metas = [], []
    for n in sizes:
        data = json.loads((out_dir / f"bench-{n}.json").read_text())
        report = Report(scale=data["scale"])
        for figure in data["figures"]:
            report.figures.append(Figure(**figure))
        reports.append(report)
        metas.append(data["machine"])
    commits = ", ".join(dict.fromkeys(m["commit"] for m in metas))
    return write_growth(reports, out_dir, meta={**metas[-1], "commit": commits})
