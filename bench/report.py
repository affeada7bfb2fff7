"""Collect figures with their floors and targets; write JSON and Markdown reports."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Figure:
    section: str
    name: str
    value: float
    unit: str
    floor: float | None = None
    floor_note: str = ""
    target: str = ""
    passed: bool | None = None
    note: str = ""


@dataclass
class Report:
    scale: int
    figures: list[Figure] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        floor = f" (floor {figure.floor:.4g} {figure.unit}: {figure.floor_note})" if figure.floor is not None else ""
        verdict = "" if figure.passed is None else (" PASS" if figure.passed else " MISS")
        print(
            f"[{figure.section}] {figure.name}: {figure.value:.4g} {figure.unit}{floor} {figure.target}{verdict}",
            flush=True,
        )
        return figure

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        from bench.charts import report_svg

        out_dir.mkdir(parents=True, exist_ok=True)
        meta = _machine()
        data = {"scale": self.scale, "machine": meta, "figures": [asdict(f) for f in self.figures]}
        json_path = out_dir / f"bench-{self.scale}.json"
        json_path.write_text(json.dumps(data, indent=2))
        md_path = out_dir / f"bench-{self.scale}.md"
        md_path.write_text(self._markdown(meta))
        title = f"ReLabel benchmark, {self.scale:,} images — {meta['cpu']}, {meta['cores']} cores, {meta['when']}"
        (out_dir / f"bench-{self.scale}.svg").write_text(report_svg(self.figures, title))
        return json_path, md_path

    def _markdown(self, meta: dict) -> str:
        lines = [
            f"# ReLabel benchmark — {self.scale:,} images",
            "",
            f"{meta['when']} · {meta['cpu']} · {meta['cores']} cores · {meta['memory_gb']} GB · "
            f"Python {meta['python']} · commit {meta['commit']}",
            "",
            f"![Each figure beside its floor and target](bench-{self.scale}.svg)",
            "",
            "| section | figure | value | floor (same run) | target | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for f in self.figures:
            floor = f"{f.floor:.4g} {f.unit} — {f.floor_note}" if f.floor is not None else "—"
            verdict = "—" if f.passed is None else ("pass" if f.passed else "**miss**")
            note = f" ({f.note})" if f.note else ""
            lines.append(
                f"| {f.section} | {f.name}{note} | {f.value:.4g} {f.unit} | {floor} | {f.target or '—'} | {verdict} |"
            )
        return "\n".join(lines) + "\n"


def _machine() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        memory_kb = 0
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "commit": commit or "?",
    }
