"""`relabel compare`'s output: the dataset comparison API's JSON as readable tables or as CSV.

Figures in the tables are percentages with two decimals and gaps B − A in points, as on the server's page;
the CSV keeps the API's proportions at full precision, in the columns of the page's *Download CSV*.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from typing import Any, TextIO

DESCRIPTION = """\
Compare two datasets that share a vocabulary (the same class keys in the same order), model by model, as the
server's comparison page does (GET /api/datasets/A/compare/B/). A prediction set of A pairs with B's set of
the same name unless --pair says otherwise. Each side is read against its label source.

The tables show, per model: top-1 on A → B and the gap B − A with its 95 % interval; the chosen multi-label
metric likewise, where both sides have label sets; the decomposition of one metric's gap by |Y| bin into a
label-mix part and a within-bin part, and B's predicted accuracy had only the label mix changed. Then each
side's label mix (share of images per |Y|, and the multi-label share) and the rank correlations of the paired
models. Figures are in %, gaps in points; --csv and --json give the API's proportions at full precision.
A bad parameter, a missing dataset or two datasets with different vocabularies print the server's message
and exit 1."""

# The compared metrics in the API's order, with the table's headings.
HEADINGS = {
    "top1": "top-1",
    "top5": "top-5",
    "real_at_1": "ReaL@1",
    "vtk_strict": "VTK strict",
    "vtk_frac": "VTK frac",
    "asma_strict": "ASMA strict",
    "asma_frac": "ASMA frac",
}
MULTILABEL = ("real_at_1", "vtk_strict", "vtk_frac", "asma_strict", "asma_frac")
DECOMPOSABLE = ("top1", "real_at_1", "vtk_strict", "vtk_frac")
NONE = "—"

Table = Callable[[Sequence[Sequence[Any]], Sequence[str], TextIO], None]


def percent(value: float | None) -> str:
    return NONE if value is None else f"{100 * value:.2f}"


def points(value: float | None) -> str:
    return NONE if value is None else f"{100 * value:+.2f}"


def interval(ci: Sequence[float] | None, signed: bool = False) -> str:
    if not ci:
        return ""
    show = points if signed else percent
    return f"[{show(ci[0])}, {show(ci[1])}]"


def _model(row: dict) -> str:
    a, b = row["model_a"]["name"], row["model_b"]["name"]
    return a if a == b else f"{a} → {b}"


def _side_line(name: str, side: dict) -> str:
    return f"{name}: {side['slug']} ({side['name']}) against {side['label_source_name']} ({side['label_source']})"


def _metric_cells(cell: dict | None) -> list[str]:
    if cell is None:
        return [NONE, NONE]
    gap = points(cell["gap"])
    return [f"{percent(cell['a'])} → {percent(cell['b'])}", f"{gap} {interval(cell['gap_ci'], True)}".rstrip()]


def _without_label_sets(body: dict) -> str:
    lacking = [n for n, key in (("A", "dataset_a"), ("B", "dataset_b")) if not body[key]["has_label_sets"]]
    return " and ".join(lacking) + ("'s label source has" if len(lacking) == 1 else "'s label sources have")


def write_tables(body: dict, out: TextIO, table: Table) -> None:
    """Per model: top-1 A → B with the gap and its 95 % interval, the chosen multi-label metric (where both
    sides have label sets), the decomposition of the chosen metric's gap by |Y| bin, then each side's label mix,
    the rank correlations and the sets left unpaired."""
    a, b, metric, decomposed = body["dataset_a"], body["dataset_b"], body["metric"], body["decomposed"]
    both_labelled = a["has_label_sets"] and b["has_label_sets"]
    out.write(f"{_side_line('A', a)}\n{_side_line('B', b)}\n")
    out.write("figures in %; gaps B − A in points, with their 95 % intervals (Newcombe)\n")
    if not both_labelled:
        out.write(f"{HEADINGS[metric]}: {_without_label_sets(body)} no label sets, so it is not shown (—)\n")
    out.write("\n")
    rows = body["rows"]
    if not rows:
        out.write("no pair of prediction sets (sets pair by name; see --pair)\n")
    else:
        header = ["model", "top-1 A → B", "gap [95% CI]", f"{HEADINGS[metric]} A → B", "gap [95% CI]"]
        table([[_model(r), *_metric_cells(r["metrics"]["top1"]), *_metric_cells(r["metrics"][metric])]
               for r in rows], header, out)  # fmt: skip
        out.write(f"\ndecomposition of the {HEADINGS[decomposed]} gap by |Y| bin (binned accuracy, points):\n")
        decompositions = [(r, r["decomposition"]) for r in rows]
        if not any(d for _, d in decompositions):
            out.write(f"not available: {_without_label_sets(body)} no label sets\n" if not both_labelled
                      else "not available: no model has figures per |Y| bin on both sides\n")  # fmt: skip
        else:
            table(
                [[_model(r), NONE, NONE, NONE, NONE, NONE] if d is None else
                 [_model(r), f"{percent(d['acc_a'])} → {percent(d['acc_b'])}", points(d["gap"]),
                  points(d["label_mix"]), points(d["within_bin"]), percent(d["predicted_b"])]
                 for r, d in decompositions],
                ["model", "binned A → B", "gap", "label-mix part", "within-bin part", "predicted B"],
                out,
            )  # fmt: skip
    _write_label_mix(a, b, out, table)
    if correlations := [c for c in body["rank_correlations"] if c["metric"] in ("top1", metric)]:
        out.write("\nrank correlation of the paired models, A against B:\n")
        table([[HEADINGS[c["metric"]], c["n"], _fixed(c["spearman"]), _fixed(c["kendall_tau_b"])]
               for c in correlations], ["metric", "models", "Spearman ρ", "Kendall τ-b"], out)  # fmt: skip
    if body["unpaired_a"] or body["unpaired_b"]:
        out.write("\n")
    for name, key in (("A", "unpaired_a"), ("B", "unpaired_b")):
        if body[key]:
            out.write(f"unpaired in {name}: " + ", ".join(f"{s['name']} (id {s['id']})" for s in body[key]) + "\n")


def _fixed(value: float | None) -> str:
    return NONE if value is None else f"{value:.3f}"


def _share(entry: dict | None) -> str:
    if entry is None or entry["share"] is None:
        return NONE
    return f"{percent(entry['share'])} {interval(entry['share_ci'])} ({entry['images']})"


def _write_label_mix(a: dict, b: dict, out: TextIO, table: Table) -> None:
    out.write("\nlabel mix: share of the images with a label set, % [95 % interval] (images):\n")
    if not a["label_mix"] and not b["label_mix"]:
        out.write("not available: neither label source has label sets\n")
        return
    bins = [entry["bin"] for entry in (a["label_mix"] or b["label_mix"])]
    rows: list[list[Any]] = [
        [f"|Y| = {name}", *(_share(side["label_mix"][i]) if side["label_mix"] else NONE for side in (a, b))]
        for i, name in enumerate(bins)
    ]
    shares = []
    for side in (a, b):
        share = side["multilabel_share"]
        shares.append(
            NONE
            if share is None
            else f"{percent(share['multilabel_share'])} {interval(share['multilabel_share_ci'])} "
            f"({share['n_multilabel']} of {share['n_evaluated_multilabel']})"
        )
    rows.append(["multi-label (|Y| ≥ 2)", *shares])
    table(rows, ["", *(n if s["has_label_sets"] else f"{n}: no label sets" for n, s in (("A", a), ("B", b)))], out)


# --- CSV ----------------------------------------------------------------------------------------------------

DECOMPOSITION_COLUMNS = ("binned_a", "binned_b", "binned_gap", "label_mix_part", "within_bin_part", "predicted_b")


def _text(value: str) -> str:
    """A spreadsheet would run a cell starting with = + - @ (or a tab or CR) as a formula: quote it (OWASP)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _metric_columns(cell: dict | None) -> list[Any]:
    if cell is None:
        return [None] * 9
    return [value for side in ("a", "b", "gap") for value in (cell[side], *(cell[f"{side}_ci"] or (None, None)))]


def write_csv(body: dict, out: TextIO) -> None:
    """One line per pair, in the columns of the server's comparison CSV: proportions in [0, 1] at full
    precision, blank where undefined."""
    header = ["dataset_a", "label_source_a", "model_a", "dataset_b", "label_source_b", "model_b"]
    for key in HEADINGS:
        header += [f"{key}_{part}" for part in ("a", "a_low", "a_high", "b", "b_low", "b_high", "gap", "gap_low",
                                                "gap_high")]  # fmt: skip
    header += ["decomposed_metric", *DECOMPOSITION_COLUMNS]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    a, b = body["dataset_a"], body["dataset_b"]
    for row in body["rows"]:
        line: list[Any] = [_text(a["name"]), _text(a["label_source_name"]), _text(row["model_a"]["name"]),
                           _text(b["name"]), _text(b["label_source_name"]), _text(row["model_b"]["name"])]  # fmt: skip
        for key in HEADINGS:
            line += _metric_columns(row["metrics"].get(key))
        d = row["decomposition"]
        line.append(body["decomposed"])
        line += [None] * 6 if d is None else [d["acc_a"], d["acc_b"], d["gap"], d["label_mix"], d["within_bin"],
                                              d["predicted_b"]]  # fmt: skip
        writer.writerow(["" if value is None else value for value in line])
