"""Two datasets side by side (page, API and CSV): the request's parameters checked, both sides' label sources
and snapshots read, the pairs compared. A fixed, small number of queries whatever the number of models.

The definitions are in `evaluation.core.dataset_compare`; this module only reads the latest snapshot of each
prediction set against its side's label source and hands the summaries to the pure code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from annotator.models import Dataset, LabelClass
from evaluation.core.charts import IntervalChart, ScatterChart, interval_chart, scatter_chart
from evaluation.core.dataset_compare import label_count_shares, linear_fit
from evaluation.core.dataset_compare_table import (
    COMPARED_BY_KEY,
    DECOMPOSABLE,
    DEFAULT_DECOMPOSED,
    DEFAULT_MULTILABEL_METRIC,
    MULTILABEL_METRICS,
    ComparedMetric,
    CsvContext,
    PairingError,
    PairRow,
    RankCorrelation,
    compare_pairs,
    comparison_csv,
    pair_sets,
    rank_correlations,
)
from evaluation.models import PredictionSet
from evaluation.selectors.label_pools import LabelSourceChoice, label_source_choices, label_source_pick
from evaluation.selectors.prediction_sets import latest_snapshot_summaries, widest_summary

LABEL_MIX_BINS = 6  # |Y| = 1 … 5 and 6+


class ComparisonInputError(ValueError):
    """A parameter of the comparison is refused; `field` names it (for the API's `fields`)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ComparisonQuery:
    labels_a: str | None = None  # a label source slug of A (`LabelSourceChoice.slug`); None: the default pick
    labels_b: str | None = None
    metric: str = DEFAULT_MULTILABEL_METRIC  # the multi-label metric of the second A-against-B chart
    decompose: str = DEFAULT_DECOMPOSED  # the metric whose gap is decomposed by |Y| bin
    pairs: tuple[tuple[int, int | None], ...] = ()  # (A set id, B set id or None: leave unpaired)


def comparison_query(params: Mapping[str, Any]) -> ComparisonQuery:
    """The query string's parameters, each checked: `labels_a`, `labels_b`, `metric`, `decompose` and `pair`
    (repeatable, `A_ID:B_ID`, or `A_ID:` to leave that A set unpaired)."""
    metric = params.get("metric") or DEFAULT_MULTILABEL_METRIC
    if metric not in MULTILABEL_METRICS:
        raise ComparisonInputError(f"metric must be one of {', '.join(MULTILABEL_METRICS)}", "metric")
    decompose = params.get("decompose") or DEFAULT_DECOMPOSED
    if decompose not in DECOMPOSABLE:
        raise ComparisonInputError(f"decompose must be one of {', '.join(DECOMPOSABLE)}", "decompose")
    raw_pairs = params.getlist("pair") if hasattr(params, "getlist") else params.get("pair") or []
    pairs = []
    for raw in raw_pairs:
        first, colon, second = str(raw).partition(":")
        if not colon or not first.isdigit() or not (second.isdigit() or second == "") or len(raw) > 40:
            raise ComparisonInputError(f"pair {raw[:40]!r}: expected A_ID:B_ID (or A_ID: for none)", "pair")
        pairs.append((int(first), int(second) if second else None))
    return ComparisonQuery(
        labels_a=params.get("labels_a") or None,
        labels_b=params.get("labels_b") or None,
        metric=metric,
        decompose=decompose,
        pairs=tuple(pairs),
    )


@dataclass
class ComparisonSide:
    dataset: Dataset
    choices: list[LabelSourceChoice]
    source: LabelSourceChoice
    sets: list[tuple[int, str]]  # (id, name) by name
    share: dict | None  # the source's multi-label share figures, from its widest snapshot
    label_mix: list[dict] = field(default_factory=list)  # per |Y| bin: images, share, share_ci

    @property
    def labelled(self) -> bool:
        """The source holds label sets (multi-label metrics are defined): at least one image has one."""
        return bool(self.share and self.share.get("n_evaluated_multilabel"))


@dataclass
class DatasetComparison:
    a: ComparisonSide
    b: ComparisonSide
    query: ComparisonQuery
    rows: list[PairRow]
    unpaired_a: list[tuple[int, str]]
    unpaired_b: list[tuple[int, str]]
    correlations: list[RankCorrelation]
    scatters: list[ScatterChart] = field(default_factory=list)
    label_mix_chart: IntervalChart | None = None

    @property
    def metric(self) -> ComparedMetric:
        return COMPARED_BY_KEY[self.query.metric]

    @property
    def decomposed(self) -> ComparedMetric:
        return COMPARED_BY_KEY[self.query.decompose]

    @property
    def sides(self) -> tuple[ComparisonSide, ComparisonSide]:
        return self.a, self.b

    @property
    def both_labelled(self) -> bool:
        return self.a.labelled and self.b.labelled

    @property
    def label_mix_rows(self) -> list[tuple[str, list[dict | None]]]:
        """Per |Y| bin: its name and each side's share (None for a side without label sets)."""
        names = [m["bin"] for m in (self.a.label_mix or self.b.label_mix)]
        return [(name, [s.label_mix[i] if s.label_mix else None for s in self.sides]) for i, name in enumerate(names)]

    @property
    def pairing(self) -> list[tuple[int, str, int | None]]:
        """Every set of A with the id of the B set it is paired with (None: unpaired), by name."""
        paired = {row.pair.id_a: row.pair.id_b for row in self.rows}
        return [(pk, name, paired.get(pk)) for pk, name in self.a.sets]


def _vocabulary(dataset: Dataset) -> list[tuple[int, str]]:
    return list(LabelClass.objects.filter(dataset=dataset).order_by("index").values_list("index", "key"))


def _side(dataset: Dataset, slug: str | None, field_name: str) -> tuple[ComparisonSide, dict[int, dict]]:
    choices = label_source_choices(dataset)
    if slug is not None and slug not in {c.slug for c in choices}:
        raise ComparisonInputError(f"{dataset.name} has no label source {slug[:60]!r}", field_name)
    source = label_source_pick(dataset, choices, slug)
    sets = list(PredictionSet.objects.filter(dataset=dataset).order_by("name", "pk").values_list("pk", "name"))
    summaries = latest_snapshot_summaries(dataset, source)
    widest = widest_summary(summaries)
    histogram = widest.get("label_count_histogram") if widest else None
    share = None
    if widest and histogram is not None:
        share = {key: widest.get(key) for key in ("multilabel_share", "multilabel_share_ci", "n_multilabel",
                                                  "n_evaluated_multilabel", "label_count_histogram")}  # fmt: skip
    side = ComparisonSide(dataset, choices, source, sets, share)
    if side.labelled and histogram is not None:
        side.label_mix = label_count_shares(histogram, LABEL_MIX_BINS)
    return side, summaries


def dataset_comparison(
    dataset_a: Dataset, dataset_b: Dataset, query: ComparisonQuery, *, with_charts: bool = True
) -> DatasetComparison:
    """Everything the page, the API and the CSV show; refuses datasets without the same class keys in the same
    order, an unknown label source and an impossible pairing (ComparisonInputError)."""
    if _vocabulary(dataset_a) != _vocabulary(dataset_b):
        raise ComparisonInputError(
            f"{dataset_a.name} and {dataset_b.name} do not share a vocabulary (the same class keys at the same "
            "indices), so their models' predictions cannot be compared",
            "dataset",
        )
    a, summaries_a = _side(dataset_a, query.labels_a, "labels_a")
    b, summaries_b = _side(dataset_b, query.labels_b, "labels_b")
    try:
        pairs, unpaired_a, unpaired_b = pair_sets(a.sets, b.sets, query.pairs)
    except PairingError as error:
        raise ComparisonInputError(str(error), "pair") from error
    rows = compare_pairs(pairs, summaries_a, summaries_b, labelled_a=a.labelled, labelled_b=b.labelled,
                         decomposed=query.decompose)  # fmt: skip
    comparison = DatasetComparison(a, b, query, rows, unpaired_a, unpaired_b, rank_correlations(rows))
    if with_charts:
        comparison.scatters = [_scatter(comparison, COMPARED_BY_KEY["top1"]), _scatter(comparison, comparison.metric)]
        comparison.label_mix_chart = _label_mix_chart(a, b)
    return comparison


def _scatter(comparison: DatasetComparison, metric: ComparedMetric) -> ScatterChart:
    points = [(r.pair.name_a, c.a, c.b) for r in comparison.rows if (c := r.cells[metric.key]) is not None]
    return scatter_chart(
        f"{metric.heading}: {comparison.a.dataset.name} against {comparison.b.dataset.name}",
        points,
        x_label=f"{metric.heading} on {comparison.a.dataset.name}",
        y_label=f"on {comparison.b.dataset.name}",
        fit=linear_fit([(x, y) for _, x, y in points]),
    )


def _label_mix_chart(a: ComparisonSide, b: ComparisonSide) -> IntervalChart | None:
    sides = [s for s in (a, b) if s.labelled]
    if not sides:
        return None
    groups = [f"|Y| {m['bin']}" for m in sides[0].label_mix]
    series = [
        (f"{s.dataset.name} · {s.source.name}", [None if m["share"] is None else (m["share"], m["share_ci"])
                                                 for m in s.label_mix])
        for s in sides
    ]  # fmt: skip
    return interval_chart("Share of images per number of valid labels |Y|", groups, series,
                          x_label="valid labels per image (images with a label set)")  # fmt: skip


def dataset_comparison_csv(comparison: DatasetComparison) -> str:
    a, b = comparison.a, comparison.b
    context = CsvContext(a.dataset.name, b.dataset.name, a.source.name, b.source.name, comparison.query.decompose)
    return comparison_csv(context, comparison.rows)
