"""What the leaderboard and model pages show, assembled from selectors in a fixed, small number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from annotator.models import Dataset
from evaluation.charts import LineChart, Series, line_chart, rank_changes, ranks
from evaluation.models import MetricSnapshot, PredictionSet
from evaluation.selectors import (
    LabelSourceChoice,
    class_names,
    images_by_id,
    latest_snapshot,
    latest_snapshot_summaries,
    metric_history,
    prediction_sets_of,
)

CHARTED = (
    ("top1", "Top-1 (original labels)"),
    ("real_at_1", "ReaL@1"),
    ("top5", "Top-5 (original labels)"),
    ("real_at_5", "ReaL@5"),
    ("precision_at_5", "Precision@5"),
    ("recall_at_5", "Recall@5"),
    ("mean_average_precision", "Mean AP"),
)


@dataclass
class LeaderboardRow:
    prediction_set: PredictionSet
    metrics: dict | None  # None: not evaluated against this source yet
    rank_top1: int | None = None
    rank_real: int | None = None
    rank_change: int | None = None  # places gained from the top-1 ranking to the ReaL@1 ranking


@dataclass
class Leaderboard:
    rows: list[LeaderboardRow]
    by_top1: list[LeaderboardRow]
    by_real: list[LeaderboardRow]
    charts: list[LineChart]
    pool_size: int | None


def leaderboard_for(dataset: Dataset, source: LabelSourceChoice) -> Leaderboard:
    sets = list(prediction_sets_of(dataset))
    summaries = latest_snapshot_summaries(dataset, source)
    rows = [LeaderboardRow(s, summaries.get(s.pk)) for s in sets]
    top1 = ranks([r.metrics and r.metrics.get("top1") for r in rows])
    real = ranks([r.metrics and r.metrics.get("real_at_1") for r in rows])
    for row, rank_top1, rank_real, change in zip(rows, top1, real, rank_changes(top1, real), strict=True):
        row.rank_top1, row.rank_real, row.rank_change = rank_top1, rank_real, change
    unranked = len(rows) + 1
    by_top1 = sorted(rows, key=lambda r: (r.rank_top1 or unranked, r.prediction_set.name))
    by_real = sorted(rows, key=lambda r: (r.rank_real or unranked, r.prediction_set.name))
    pool_sizes = [m["pool_size"] for m in summaries.values()]
    return Leaderboard(rows, by_top1, by_real, _history_charts(dataset, source, sets), max(pool_sizes, default=None))


def _history_charts(dataset: Dataset, source: LabelSourceChoice, sets: list[PredictionSet]) -> list[LineChart]:
    history = metric_history(dataset, source)
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


CLASS_SORTS = {
    "index": lambda r: r.index,
    "name": lambda r: r.name.lower(),
    "images": lambda r: r.n_images,
    "top1": lambda r: r.top1,
    "real": lambda r: r.real_at_1,
    "gain": lambda r: r.gain,
    "ap": lambda r: r.average_precision,
}


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
    field, descending = sort.removeprefix("-"), sort.startswith("-")
    key = CLASS_SORTS.get(field, CLASS_SORTS["real"])
    # Undefined values go last whichever the direction.
    classes.sort(key=lambda r: (key(r) is None, key(r) if key(r) is not None else 0), reverse=descending)
    if descending:
        classes.sort(key=lambda r: key(r) is None)
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
    return ModelPage(snapshot, classes, valid_errors)


# (sort field, heading, numeric, first click sorts descending)
CLASS_COLUMNS = (
    ("index", "#", True, False),
    ("name", "Class", False, False),
    ("images", "Images", True, True),
    ("top1", "Top-1 %", True, False),
    ("real", "ReaL@1 %", True, False),
    ("gain", "Gain (pts)", True, True),
    ("ap", "AP %", True, False),
)


@dataclass(frozen=True)
class SortLink:
    heading: str
    numeric: bool
    sort: str  # the sort parameter a click on the heading requests
    current: str  # "asc", "desc" or "" when the table is not sorted by this column


def class_sort_links(sort: str, *, with_ap: bool) -> list[SortLink]:
    links = []
    for field, heading, numeric, descending_first in CLASS_COLUMNS:
        if field == "ap" and not with_ap:
            continue
        current = "asc" if sort == field else "desc" if sort == f"-{field}" else ""
        if current:
            target = field if current == "desc" else f"-{field}"
        else:
            target = f"-{field}" if descending_first else field
        links.append(SortLink(heading, numeric, target, current))
    return links
