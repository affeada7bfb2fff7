"""The dataset comparison's table: pairing prediction sets by model, one row per pair with each metric on A and
B, its gap and the decomposition, rank correlations, and the CSV (pure Python, no Django).

See `evaluation.core.dataset_compare` for the definitions. A summary is the dict of a prediction set's latest
snapshot against its side's label source (`evaluation.selectors.prediction_sets.SUMMARY_KEYS`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evaluation.core.dataset_compare import (
    Decomposition,
    decompose_subgroups,
    difference_interval,
    kendall_tau_b,
    spearman,
)
from evaluation.core.leaderboard_table import _cell, _value


@dataclass(frozen=True)
class ComparedMetric:
    key: str  # the summary's key
    heading: str
    multilabel: bool  # needs a label source with label sets on the side
    per_bin: str | None  # its figure in `subgroups`, when it has one (decomposable)
    title: str = ""


COMPARED = (
    ComparedMetric("top1", "Top‑1", False, "top1", "the original single label is the first prediction"),
    ComparedMetric("top5", "Top‑5", False, None, "the original single label is among the first five"),
    ComparedMetric("real_at_1", "ReaL@1", True, "real1", "the first prediction is any valid label"),
    ComparedMetric("vtk_strict", "VTK strict", True, "vtk_strict", "variable top-k: all |Y| labels in |Y| guesses"),
    ComparedMetric("vtk_frac", "VTK frac", True, "vtk_frac", "variable top-k: share of the |Y| labels found"),
    ComparedMetric("asma_strict", "ASMA strict", True, None, "unweighted mean of strict variable top-k over |Y| bins"),
    ComparedMetric("asma_frac", "ASMA frac", True, None, "unweighted mean of fractional variable top-k over |Y| bins"),
)
COMPARED_BY_KEY = {m.key: m for m in COMPARED}
MULTILABEL_METRICS = tuple(m.key for m in COMPARED if m.multilabel)
DECOMPOSABLE = tuple(m.key for m in COMPARED if m.per_bin)
DEFAULT_MULTILABEL_METRIC = "real_at_1"
DEFAULT_DECOMPOSED = "top1"


class PairingError(ValueError):
    """A requested pairing names a set twice or a set of neither dataset."""


@dataclass(frozen=True)
class Pair:
    id_a: int
    name_a: str
    id_b: int
    name_b: str


def pair_sets(
    sets_a: Sequence[tuple[int, str]], sets_b: Sequence[tuple[int, str]], requested: Sequence[tuple[int, int | None]]
) -> tuple[list[Pair], list[tuple[int, str]], list[tuple[int, str]]]:
    """Pairs, then A's and B's unpaired sets. `requested` (A id, B id or None for "leave unpaired") comes first;
    every other A set pairs with the B set of exactly its name. Pairs in A's name order."""
    names_a, names_b = dict(sets_a), dict(sets_b)
    chosen: dict[int, int | None] = {}
    taken_b: set[int] = set()
    for id_a, id_b in requested:
        if id_a not in names_a:
            raise PairingError(f"prediction set {id_a} is not one of dataset A's")
        if id_b is not None and id_b not in names_b:
            raise PairingError(f"prediction set {id_b} is not one of dataset B's")
        if id_a in chosen:
            raise PairingError(f"prediction set {id_a} of dataset A is paired twice")
        if id_b is not None and id_b in taken_b:
            raise PairingError(f"prediction set {id_b} of dataset B is paired twice")
        chosen[id_a] = id_b
        if id_b is not None:
            taken_b.add(id_b)
    by_name_b = {name: pk for pk, name in sets_b if pk not in taken_b}
    pairs = []
    for id_a, name_a in sorted(sets_a, key=lambda s: (s[1].lower(), s[0])):
        id_b = chosen[id_a] if id_a in chosen else by_name_b.pop(name_a, None)
        if id_b is not None:
            pairs.append(Pair(id_a, name_a, id_b, names_b[id_b]))
    paired_b = {p.id_b for p in pairs}
    paired_a = {p.id_a for p in pairs}
    return pairs, [s for s in sets_a if s[0] not in paired_a], [s for s in sets_b if s[0] not in paired_b]


@dataclass(frozen=True)
class Cell:
    a: float
    a_ci: list[float] | None
    b: float
    b_ci: list[float] | None
    gap: float  # b − a
    gap_ci: list[float] | None


def metric_cell(
    metric: ComparedMetric, summary_a: Mapping[str, Any] | None, summary_b: Mapping[str, Any] | None, *,
    labelled_a: bool, labelled_b: bool,
) -> Cell | None:  # fmt: skip
    """The metric on both sides and its gap, or None when a side lacks it (a multi-label metric on a side whose
    source has no label sets is never shown, whatever a snapshot holds)."""
    if metric.multilabel and not (labelled_a and labelled_b):
        return None
    a = summary_a.get(metric.key) if summary_a else None
    b = summary_b.get(metric.key) if summary_b else None
    if a is None or b is None:
        return None
    a_ci, b_ci = summary_a.get(f"{metric.key}_ci"), summary_b.get(f"{metric.key}_ci")  # type: ignore[union-attr]
    return Cell(a, a_ci, b, b_ci, b - a, difference_interval(a, a_ci, b, b_ci))


@dataclass
class PairRow:
    pair: Pair
    cells: dict[str, Cell | None]
    decomposition: Decomposition | None = None


def compare_pairs(
    pairs: Sequence[Pair],
    summaries_a: Mapping[int, Mapping[str, Any]],
    summaries_b: Mapping[int, Mapping[str, Any]],
    *,
    labelled_a: bool,
    labelled_b: bool,
    decomposed: str = DEFAULT_DECOMPOSED,
) -> list[PairRow]:
    """One row per pair: every compared metric's cell and the decomposition of `decomposed`'s gap (when both
    sides have label sets, so |Y| bins)."""
    rows = []
    figure = COMPARED_BY_KEY[decomposed].per_bin if decomposed in DECOMPOSABLE else None
    for pair in pairs:
        a, b = summaries_a.get(pair.id_a), summaries_b.get(pair.id_b)
        cells = {m.key: metric_cell(m, a, b, labelled_a=labelled_a, labelled_b=labelled_b) for m in COMPARED}
        row = PairRow(pair, cells)
        if figure and labelled_a and labelled_b and a and b:
            row.decomposition = decompose_subgroups(a.get("subgroups") or [], b.get("subgroups") or [], figure)
        rows.append(row)
    return rows


@dataclass(frozen=True)
class RankCorrelation:
    metric: ComparedMetric
    n: int
    spearman: float | None
    kendall: float | None


def rank_correlations(rows: Sequence[PairRow]) -> list[RankCorrelation]:
    """Per metric, over the pairs that have it on both sides."""
    result = []
    for metric in COMPARED:
        cells = [c for r in rows if (c := r.cells[metric.key]) is not None]
        xs, ys = [c.a for c in cells], [c.b for c in cells]
        if cells:
            result.append(RankCorrelation(metric, len(cells), spearman(xs, ys), kendall_tau_b(xs, ys)))
    return result


@dataclass
class CsvContext:
    dataset_a: str
    dataset_b: str
    source_a: str
    source_b: str
    decomposed: str


DECOMPOSITION_COLUMNS = ("binned_a", "binned_b", "binned_gap", "label_mix_part", "within_bin_part", "predicted_b")


def comparison_csv(context: CsvContext, rows: Sequence[PairRow]) -> str:
    """One line per pair: both sets' names, each metric on A and B with intervals and the gap with its interval,
    then the decomposition of `decomposed`; proportions in [0, 1] at full precision, blank where undefined."""
    header = ["dataset_a", "label_source_a", "model_a", "dataset_b", "label_source_b", "model_b"]
    for m in COMPARED:
        header += [f"{m.key}_{part}" for part in ("a", "a_low", "a_high", "b", "b_low", "b_high", "gap", "gap_low",
                                                   "gap_high")]  # fmt: skip
    header += ["decomposed_metric", *DECOMPOSITION_COLUMNS]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        line: list[Any] = [_cell(context.dataset_a), _cell(context.source_a), _cell(row.pair.name_a),
                           _cell(context.dataset_b), _cell(context.source_b), _cell(row.pair.name_b)]  # fmt: skip
        for m in COMPARED:
            c = row.cells[m.key]
            if c is None:
                line += [None] * 9
            else:
                line += [c.a, *(c.a_ci or (None, None)), c.b, *(c.b_ci or (None, None)), c.gap,
                         *(c.gap_ci or (None, None))]  # fmt: skip
        d = row.decomposition
        line.append(context.decomposed)
        line += [None] * 6 if d is None else [d.acc_a, d.acc_b, d.gap, d.label_mix, d.within_bin, d.predicted_b]
        writer.writerow([_value(value) for value in line])
    return text.getvalue()
