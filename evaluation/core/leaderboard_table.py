"""Sortable tables of the evaluation pages and the leaderboard's CSV download (pure Python, no Django).

A table is a tuple of `Column`s; `sort` is a column's field, prefixed with "-" for descending. Undefined
values sort last whichever the direction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from evaluation.core.metrics import EXPORTED_PLAIN, EXPORTED_WITH_INTERVAL

Row = TypeVar("Row")


@dataclass(frozen=True)
class Column:
    field: str  # what `sort` names
    heading: str
    key: str | None = None  # the metric it shows (leaderboard), if any
    title: str = ""  # a heading's tooltip
    numeric: bool = True
    descending_first: bool = True  # a first click sorts descending


@dataclass(frozen=True)
class SortLink:
    heading: str
    title: str
    numeric: bool
    sort: str  # the sort parameter a click on the heading requests
    current: str  # "asc", "desc" or "" when the table is not sorted by this column


def sort_links(columns: Iterable[Column], sort: str) -> list[SortLink]:
    links = []
    for column in columns:
        field = column.field
        current = "asc" if sort == field else "desc" if sort == f"-{field}" else ""
        if current:
            target = field if current == "desc" else f"-{field}"
        else:
            target = f"-{field}" if column.descending_first else field
        links.append(SortLink(column.heading, column.title, column.numeric, target, current))
    return links


def sorted_none_last(rows: Iterable[Row], key: Callable[[Row], Any], *, descending: bool) -> list[Row]:
    """`rows` sorted by `key`, stable, with rows whose key is None last in either direction."""
    present = [row for row in rows if key(row) is not None]
    missing = [row for row in rows if key(row) is None]
    return sorted(present, key=key, reverse=descending) + missing


CSV_PER_BIN = ("images", "top1", "real1", "vtk_strict", "vtk_frac")


@dataclass(frozen=True)
class CsvRow:
    model: str
    k: int
    ranks: dict[str, int | None]  # CSV column → rank
    metrics: dict[str, Any] | None
    pool_size: int | None


def leaderboard_csv(label_source: str, rows: Sequence[CsvRow]) -> str:
    """One line per model: its ranks and every summary figure under the offline evaluator's names, proportions
    in [0, 1] at full precision, intervals as `_low`/`_high` columns, per |Y| bin `bin_<name>_<figure>`; blank
    where undefined."""
    bins = list(dict.fromkeys(s["bin"] for r in rows if r.metrics for s in r.metrics.get("subgroups") or []))
    rank_columns = list(dict.fromkeys(column for r in rows for column in r.ranks))
    header = ["model", "k", "label_source", "pool_size", *rank_columns]
    for _, stem in EXPORTED_WITH_INTERVAL:
        header += [stem, f"{stem}_low", f"{stem}_high"]
    header += [stem for _, stem in EXPORTED_PLAIN]
    header += [f"bin_{name}_{figure}" for name in bins for figure in CSV_PER_BIN]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        m = row.metrics or {}
        line: list[Any] = [_cell(row.model), row.k, _cell(label_source), row.pool_size]
        line += [row.ranks.get(column) for column in rank_columns]
        for key, _ in EXPORTED_WITH_INTERVAL:
            line += [m.get(key), *(m.get(f"{key}_ci") or (None, None))]
        line += [m.get(key) for key, _ in EXPORTED_PLAIN]
        by_bin = {s["bin"]: s for s in m.get("subgroups") or []}
        line += [by_bin.get(name, {}).get(figure) for name in bins for figure in CSV_PER_BIN]
        writer.writerow([_value(value) for value in line])
    return text.getvalue()


def _value(value: object) -> object:
    """Blank when undefined; a list (the |Y| histogram, the bins) as space-separated numbers."""
    if value is None:
        return ""
    return " ".join(map(str, value)) if isinstance(value, list) else value


def _cell(text: str) -> str:
    """A spreadsheet would run a cell starting with = + - @ (or a tab or CR) as a formula: quote it (OWASP)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
