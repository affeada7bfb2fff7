"""What the leaderboard and model pages show, assembled from selectors in a fixed, small number of queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from annotator.core.agreement_charts import BarChart, bar_chart
from annotator.models import Dataset
from evaluation.core.charts import (
    IntervalChart,
    LineChart,
    ScatterChart,
    Series,
    interval_chart,
    line_chart,
    rank_changes,
    ranks,
    scatter_chart,
)
from evaluation.core.leaderboard_table import Column, CsvRow, SortLink, leaderboard_csv, sort_links, sorted_none_last
from evaluation.core.variable_topk import DEFAULT_VARIANT, VARIANTS, Variant
from evaluation.models import MetricSnapshot, PredictionSet
from evaluation.selectors.label_pools import LabelSourceChoice
from evaluation.selectors.prediction_sets import (
    class_names,
    images_by_id,
    latest_snapshot,
    latest_snapshot_summaries,
    metric_history,
    prediction_sets_of,
    widest_summary,
)

CHARTED = (
    ("top1", "Top-1 (original labels)"),
    ("real_at_1", "ReaL@1"),
    ("asma_strict", "ASMA (strict)"),
    ("top5", "Top-5 (original labels)"),
    ("real_at_5", "ReaL@5"),
    ("precision_at_5", "Precision@5"),
    ("recall_at_5", "Recall@5"),
    ("mean_average_precision", "Mean AP"),
)
VTK = "variable top-k: each image gets as many guesses as it has valid labels"
# Headings use a non-breaking hyphen (U+2011): "Top-1" must not wrap after its hyphen in a narrow column.
LEADERBOARD_COLUMNS = (
    Column("name", "Model", numeric=False, descending_first=False),
    Column("k", "k", title="ranked classes stored per image"),
    Column("top1", "Top‑1", "top1", "the original single label is the first prediction"),
    Column("top5", "Top‑5", "top5", "the original single label is among the first five predictions"),
    Column("real1", "ReaL@1", "real_at_1", "the first prediction is any valid label"),
    Column("real5", "ReaL@5", "real_at_5", "one of the first five predictions is a valid label"),
    Column("vtk_strict", "VTK strict", "vtk_strict", f"{VTK}; right when all of them are valid labels"),
    Column("vtk_frac", "VTK frac", "vtk_frac", f"{VTK}; the share of them that are valid labels"),
    Column("asma_strict", "ASMA strict", "asma_strict", "unweighted mean of strict variable top-k over the |Y| bins"),
    Column("asma_frac", "ASMA frac", "asma_frac", "unweighted mean of fractional variable top-k over the |Y| bins"),
    Column("p5", "P@5", "precision_at_5"),
    Column("r5", "R@5", "recall_at_5"),
    Column("map", "mAP", "mean_average_precision", "mean average precision (full scores only)"),
    Column("lrap", "LRAP", "lrap", "label-ranking average precision (full scores only)"),
    Column("valid_errors", "Valid “errors” %", "top1_error_in_label_set_share",
           "share of top-1 errors whose prediction is a valid label"),
    Column("evaluated", "Evaluated", "n_evaluated_multilabel", "images with a non-empty label set"),
)  # fmt: skip
LEADERBOARD_SORTS = {column.field: column for column in LEADERBOARD_COLUMNS}
DEFAULT_LEADERBOARD_SORT = "-real1"
SHARE_FIGURES = ("multilabel_share", "multilabel_share_ci", "n_multilabel", "n_evaluated_multilabel")


@dataclass
class LeaderboardRow:
    prediction_set: PredictionSet
    metrics: dict | None  # None: not evaluated against this source yet
    rank_top1: int | None = None
    rank_real: int | None = None
    rank_asma: int | None = None
    rank_change: int | None = None  # places gained from the top-1 ranking to the ReaL@1 ranking
    asma_change: int | None = None  # … to the ASMA ranking

    def value(self, column: Column) -> object:
        if column.field == "name":
            return self.prediction_set.name.lower()
        if column.field == "k":
            return self.prediction_set.k
        return self.metrics.get(column.key) if self.metrics and column.key else None

    def metric(self, key: str) -> float | None:
        return self.metrics.get(key) if self.metrics else None


@dataclass
class Leaderboard:
    rows: list[LeaderboardRow]  # sorted as `sort` asks
    by_top1: list[LeaderboardRow]
    by_real: list[LeaderboardRow]
    by_asma: list[LeaderboardRow]
    variant: Variant
    sort: str
    sort_links: list[SortLink]
    pool_size: int | None
    share: dict | None = None  # the label source's multi-label share, from its widest snapshot
    share_chart: BarChart | None = None
    bin_names: list[str] = field(default_factory=list)  # the |Y| bins ASMA averages over
    growing: bool = False  # some set was evaluated at several states of the pool: history charts
    charts: list[LineChart] = field(default_factory=list)
    scatters: list[ScatterChart] = field(default_factory=list)


def leaderboard_for(
    dataset: Dataset,
    source: LabelSourceChoice,
    *,
    sort: str = DEFAULT_LEADERBOARD_SORT,
    variant: str = DEFAULT_VARIANT,
    with_charts: bool = True,
) -> Leaderboard:
    """Rankings by top-1, ReaL@1 and ASMA (`variant`), the table sorted by `sort`, and the charts: the history
    of each metric when the source grows, else one dot per model for two metrics against each other."""
    variant = variant if variant in VARIANTS else DEFAULT_VARIANT
    sets = list(prediction_sets_of(dataset))
    summaries = latest_snapshot_summaries(dataset, source)
    rows = [LeaderboardRow(s, summaries.get(s.pk)) for s in sets]
    top1 = ranks([r.metric("top1") for r in rows])
    real = ranks([r.metric("real_at_1") for r in rows])
    asma = ranks([r.metric(f"asma_{variant}") for r in rows])
    for row, *places in zip(rows, top1, real, asma, rank_changes(top1, real), rank_changes(top1, asma), strict=True):
        row.rank_top1, row.rank_real, row.rank_asma, row.rank_change, row.asma_change = places
    unranked = len(rows) + 1
    column = LEADERBOARD_SORTS.get(sort.removeprefix("-"))
    if column is None:
        sort, column = DEFAULT_LEADERBOARD_SORT, LEADERBOARD_SORTS[DEFAULT_LEADERBOARD_SORT[1:]]
    board = Leaderboard(
        rows=sorted_none_last(rows, lambda r: r.value(column), descending=sort.startswith("-")),
        by_top1=sorted(rows, key=lambda r: (r.rank_top1 or unranked, r.prediction_set.name)),
        by_real=sorted(rows, key=lambda r: (r.rank_real or unranked, r.prediction_set.name)),
        by_asma=sorted(rows, key=lambda r: (r.rank_asma or unranked, r.prediction_set.name)),
        variant=variant,
        sort=sort,
        sort_links=sort_links(LEADERBOARD_COLUMNS, sort),
        pool_size=max((m["pool_size"] for m in summaries.values()), default=None),
    )
    widest = widest_summary(summaries)
    if widest and widest.get("label_count_histogram") is not None:
        board.share = {key: widest.get(key) for key in SHARE_FIGURES}
        board.share_chart = _label_count_chart(widest["label_count_histogram"])
        board.bin_names = [s["bin"] for s in widest.get("subgroups") or []]
    if with_charts:
        _add_charts(board, dataset, source, sets)
    return board


def _label_count_chart(histogram: list[int], widest: int = 10) -> BarChart:
    """Images per |Y| ≥ 1: an image without a label set is empty or, in the live consensus, not settled yet,
    and either way outside the multi-label share."""
    sizes = histogram[1:]
    counts = [*sizes[: widest - 1], sum(sizes[widest - 1 :])] if len(sizes) > widest else sizes
    labels = [str(i + 1) if i + 1 < widest else f"{widest}+" for i in range(len(counts))]
    return bar_chart("Valid labels per image, |Y|", labels, counts, x_label="|Y| of the images with a label set",
                     highlight_from=1)  # fmt: skip


def _add_charts(board: Leaderboard, dataset: Dataset, source: LabelSourceChoice, sets: list[PredictionSet]) -> None:
    history = metric_history(dataset, source)
    states: dict[int, set[int]] = {}
    for snapshot in history:
        states.setdefault(snapshot["prediction_set_id"], set()).add(snapshot["pool_size"])
    board.growing = any(len(sizes) > 1 for sizes in states.values())
    if board.growing:
        board.charts = _history_charts(history, sets)
        return
    evaluated = [r for r in board.by_real if r.metrics]
    for y_key, y_label in (("real_at_1", "ReaL@1"), (f"asma_{board.variant}", f"ASMA ({board.variant})")):
        points = [(r.prediction_set.name, x, y) for r in evaluated
                  if (x := r.metric("top1")) is not None and (y := r.metric(y_key)) is not None]  # fmt: skip
        chart = scatter_chart(f"Top-1 against {y_label}", points, x_label="top-1 (original label)", y_label=y_label)
        board.scatters.append(chart)


def _history_charts(history: list[dict], sets: list[PredictionSet]) -> list[LineChart]:
    names = {s.pk: s.name for s in sets}
    charts = []
    for key, title in CHARTED:
        points: dict[int, list[tuple[float, float]]] = {}
        for snapshot in history:
            if snapshot.get(key) is not None:
                points.setdefault(snapshot["prediction_set_id"], []).append((snapshot["pool_size"], snapshot[key]))
        series = [Series(names[pk], pts) for pk, pts in points.items() if pk in names]
        if series or key in ("top1", "real_at_1"):
            charts.append(line_chart(title, series))
    return charts


def leaderboard_csv_for(dataset: Dataset, source: LabelSourceChoice) -> str:
    """The leaderboard as CSV: one line per model in ReaL@1 order, with its ranks under both ASMA variants."""
    board = leaderboard_for(dataset, source, with_charts=False)
    rows = board.by_real
    asma_ranks = {v: ranks([r.metric(f"asma_{v}") for r in rows]) for v in VARIANTS}
    return leaderboard_csv(
        source.name,
        [
            CsvRow(
                model=r.prediction_set.name,
                k=r.prediction_set.k,
                ranks={"rank_top1": r.rank_top1, "rank_real1": r.rank_real}
                | {f"rank_asma_{v}": asma_ranks[v][i] for v in VARIANTS},
                metrics=r.metrics,
                pool_size=r.metrics["pool_size"] if r.metrics else None,
            )
            for i, r in enumerate(rows)
        ],
    )


@dataclass
class ClassRow:
    index: int
    key: str
    name: str
    n_images: int
    top1: float | None
    real_at_1: float | None
    average_precision: float | None

    @property
    def gain(self) -> float | None:
        return None if self.top1 is None or self.real_at_1 is None else self.real_at_1 - self.top1


@dataclass
class ValidError:
    original: tuple[int, str, str]
    predicted: tuple[int, str, str]
    count: int
    images: list


@dataclass
class ModelPage:
    snapshot: MetricSnapshot | None
    classes: list[ClassRow]
    valid_errors: list[ValidError]
    subgroups: list[dict] = field(default_factory=list)  # per |Y| bin, see evaluation.core.variable_topk
    subgroup_chart: IntervalChart | None = None


def model_page_for(prediction_set: PredictionSet, source: LabelSourceChoice, sort: str) -> ModelPage:
    snapshot = latest_snapshot(prediction_set, source)
    if snapshot is None:
        return ModelPage(None, [], [])
    names = class_names(prediction_set.dataset)
    per_class = snapshot.values["per_class"]
    ap = per_class.get("average_precision") or [None] * len(per_class["n_images"])
    classes = [
        ClassRow(i, *names.get(i, (str(i), str(i))), n, t, r, a)
        for i, (n, t, r, a) in enumerate(
            zip(per_class["n_images"], per_class["top1"], per_class["real_at_1"], ap, strict=True)
        )
        if n
    ]
    column = CLASS_SORTS.get(sort.removeprefix("-"), CLASS_SORTS["real"])
    classes = sorted_none_last(classes, column.value, descending=sort.startswith("-"))
    examples = snapshot.valid_error_examples
    images = images_by_id([i for ids in examples.values() for i in ids])
    valid_errors = [
        ValidError(
            original=(pair["original"], *names.get(pair["original"], ("", ""))),
            predicted=(pair["predicted"], *names.get(pair["predicted"], ("", ""))),
            count=pair["count"],
            images=[images[i] for i in examples.get(f"{pair['original']},{pair['predicted']}", []) if i in images],
        )
        for pair in snapshot.values["valid_error_pairs"]
    ]
    subgroups = snapshot.values.get("subgroups") or []
    return ModelPage(snapshot, classes, valid_errors, subgroups, _subgroup_chart(subgroups))


SUBGROUP_SERIES = (
    ("top1", "Top-1 (original label)"),
    ("real1", "ReaL@1"),
    ("vtk_strict", "Variable top-k, strict"),
    ("vtk_frac", "Variable top-k, fractional"),
)


def _subgroup_chart(subgroups: list[dict]) -> IntervalChart | None:
    if not subgroups:
        return None
    series = [
        (title, [None if s[key] is None else (s[key], s.get(f"{key}_ci")) for s in subgroups])
        for key, title in SUBGROUP_SERIES
    ]
    groups = [f"|Y| {s['bin']} ({s['images']:,})" for s in subgroups]
    return interval_chart("Accuracy per |Y| bin", groups, series, x_label="valid labels per image (images scored)")


@dataclass(frozen=True)
class ClassColumn(Column):
    value: Callable[[ClassRow], object] = lambda row: None


CLASS_COLUMNS = (
    ClassColumn("index", "#", descending_first=False, value=lambda r: r.index),
    ClassColumn("name", "Class", numeric=False, descending_first=False, value=lambda r: r.name.lower()),
    ClassColumn("images", "Images", value=lambda r: r.n_images),
    ClassColumn("top1", "Top-1 %", descending_first=False, value=lambda r: r.top1),
    ClassColumn("real", "ReaL@1 %", descending_first=False, value=lambda r: r.real_at_1),
    ClassColumn("gain", "Gain (pts)", value=lambda r: r.gain),
    ClassColumn("ap", "AP %", descending_first=False, value=lambda r: r.average_precision),
)
CLASS_SORTS = {column.field: column for column in CLASS_COLUMNS}


def class_sort_links(sort: str, *, with_ap: bool) -> list[SortLink]:
    return sort_links([c for c in CLASS_COLUMNS if with_ap or c.field != "ap"], sort)
