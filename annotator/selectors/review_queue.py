"""Reads of the review queue (pages, APIs, tests and the benchmark share them).

The queue holds the images a reviewer should look at: disputed ones, those an annotator flagged (bad image,
none fits, unsure), those already adjudicated and those waiting for annotations a reviewer asked for. It
is ordered most contested first: lowest agreement, then most flags, then dataset order; images without an
agreement figure (no class had two answers, e.g. everyone said bad image) come last.

Pages by keyset (queue_seek, cursors from annotator.selectors.queue_cursor) or by offset (queue_page).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db.models import BooleanField, Count, Exists, Expression, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from annotator.core.redundancy import open_reason
from annotator.models import (
    IN_REVIEW,
    QUEUE_KEYS,
    Annotation,
    Consensus,
    Dataset,
    LabelClass,
)
from annotator.selectors.queue_cursor import QueueCursor
from config.request_input import query_id

# Each status tab of the queue: what it holds (within the images in review).
QUEUE_STATUSES: dict[str, tuple[str, Q]] = {
    "open": ("To review", Q(adjudicated=False) & ~Q(status=Consensus.Status.PENDING)),
    "pending": ("Awaiting annotations", Q(adjudicated=False, status=Consensus.Status.PENDING)),
    "adjudicated": ("Adjudicated", Q(adjudicated=True, excluded=False)),
    "excluded": ("Excluded", Q(excluded=True)),
    "all": ("All", Q()),
}
PAGE_SIZE = 50


@dataclass(frozen=True)
class QueueFilter:
    status: str = "open"
    class_id: int | None = None
    annotator_id: int | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> QueueFilter:
        """From query parameters `status` (an unknown one is "open"), `class` and `annotator` (ids; anything
        else raises RequestInputError, a 400)."""
        status = params.get("status") or "open"
        status = status if status in QUEUE_STATUSES else "open"
        return cls(status, query_id(params, "class"), query_id(params, "annotator"))

    def query(self) -> dict[str, str]:
        """Query parameters that reproduce this filter (for links that keep it)."""
        pairs = {"status": self.status, "class": self.class_id, "annotator": self.annotator_id}
        return {key: str(value) for key, value in pairs.items() if value is not None}


def _in_review(dataset: Dataset, flt: QueueFilter, *, counting: bool = False) -> QuerySet[Consensus]:
    rows = Consensus.objects.filter(IN_REVIEW, dataset=dataset)
    if flt.class_id is not None:
        rows = rows.filter(Q(counts__has_key=str(flt.class_id)) | Q(labels__contains=[flt.class_id]))
    if flt.annotator_id is not None:
        annotated = Annotation.objects.filter(image_id=OuterRef("image_id"), annotator_id=flt.annotator_id)
        if counting:
            # The dataset too, though the image implies it: counting reads every row in review, and the planner
            # then joins the annotator's annotations of this dataset alone (`annotation_mine_idx`: annotator,
            # dataset), not theirs in every dataset (an annotator of 1.3 M training images made the counts of a
            # 50k queue 18 ms instead of 3). A page stops after its rows: one probe per row of the unique
            # (image, annotator) index, from the index alone, which a dataset condition would make a table read.
            annotated = annotated.filter(dataset=dataset)
        rows = rows.filter(Exists(annotated))
    return rows


def datasets_with_open_counts() -> QuerySet[Dataset]:
    """Every dataset with how many of its images wait for a reviewer (one query, a correlated count)."""
    open_rows = Consensus.objects.filter(IN_REVIEW, QUEUE_STATUSES["open"][1], dataset=OuterRef("pk"))
    counted = open_rows.order_by().values("dataset").annotate(n=Count("pk")).values("n")
    return Dataset.objects.annotate(open_count=Coalesce(Subquery(counted), 0)).order_by("name")


def queue_counts(dataset: Dataset, flt: QueueFilter) -> dict[str, int]:
    """Images per status tab under the class and annotator filters (one query)."""
    aggregates = {name: Count("pk", filter=condition) for name, (_label, condition) in QUEUE_STATUSES.items()}
    return _in_review(dataset, flt, counting=True).aggregate(**aggregates)


def queue_rows(dataset: Dataset, flt: QueueFilter) -> QuerySet[Consensus]:
    """The queue in review order, with each image and its original label (no per-row queries)."""
    return _in_queue_order(_in_review(dataset, flt).filter(QUEUE_STATUSES[flt.status][1]))


def _in_queue_order(rows: QuerySet[Consensus]) -> QuerySet[Consensus]:
    """Most contested first (lowest agreement, none last; most flags; dataset order): the unique key QUEUE_KEYS,
    the order of the partial index `consensus_review_order_idx`."""
    return rows.select_related("image", "image__original_label").order_by(*(key.asc() for key in QUEUE_KEYS))


class _RowCompare(Expression):
    """`(key, key, …) < (value, value, …)` (or `>`; the right side may be a one-row subquery of as many columns):
    PostgreSQL seeks a row comparison over an index's columns in that index, where the equivalent ORs of `=` and
    `<` would be filters over every row before the cursor."""

    output_field = BooleanField()

    def __init__(self, keys: Sequence[Any], operator: str, other: Sequence[Any] | Subquery) -> None:
        super().__init__()
        self.keys, self.operator = list(keys), operator
        self.other = other if isinstance(other, Subquery) else list(other)

    def get_source_expressions(self) -> list[Any]:
        return [*self.keys, self.other] if isinstance(self.other, Subquery) else self.keys

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.keys = list(exprs[: len(self.keys)])
        if isinstance(self.other, Subquery):
            self.other = exprs[len(self.keys)]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        compiled = [compiler.compile(key) for key in self.keys]
        params = [param for _sql, key_params in compiled for param in key_params]
        left = ", ".join(key_sql for key_sql, _params in compiled)
        if isinstance(self.other, Subquery):
            right, right_params = compiler.compile(self.other)
            return f"({left}) {self.operator} {right}", [*params, *right_params]
        return f"({left}) {self.operator} ({', '.join(['%s'] * len(self.other))})", [*params, *self.other]


def _seek(rows: QuerySet[Consensus], cursor: QueueCursor | None) -> QuerySet[Consensus]:
    """The rows a cursor points at, nearest first: after its key in queue order, or before it (or from the end)
    in reverse order."""
    if cursor is None:
        return rows
    if cursor.direction == "end":
        return rows.reverse()
    operator = ">" if cursor.direction == "after" else "<"
    seeking = rows.filter(_RowCompare(QUEUE_KEYS, operator, cursor.keys()))
    return seeking if cursor.direction == "after" else seeking.reverse()


def queue_neighbours(dataset: Dataset, flt: QueueFilter, image_id: int) -> tuple[int | None, int | None]:
    """The images before and after `image_id` in the queue; an image that left the queue (e.g. just adjudicated)
    has no previous one and the queue's first image as the next one. One query of four branches, each a seek in
    the order index: the neighbours on either side of the image's key, the queue's first other image, and whether
    the image is in the queue."""
    rows = queue_rows(dataset, flt)
    here = rows.filter(image_id=image_id)
    named = {f"k{i}": key for i, key in enumerate(QUEUE_KEYS)}
    keys = Subquery(here.annotate(**named).values(*named))
    before = rows.filter(_RowCompare(QUEUE_KEYS, "<", keys)).reverse()
    after = rows.filter(_RowCompare(QUEUE_KEYS, ">", keys))
    branches = [before, after, rows.exclude(image_id=image_id), here]
    pairs = [q.annotate(branch=Value(i)).values_list("branch", "image_id")[:1] for i, q in enumerate(branches)]
    found = dict(pairs[0].union(*pairs[1:], all=True))
    if 3 not in found:
        return None, found.get(2)
    return found.get(0), found.get(1)


# A queue row's columns: plain values, not model instances (a page of 100 built 300 instances and decoded
# three JSON columns per row that it never showed: most of the API's time once the query was fast).
_PAGE_COLUMNS = (
    "image_id", "image__key", "image__thumbnail", "image__original_label_id", "image__original_label__key",
    "image__original_label__name", "status", "dispute_reasons", "agreement", "annotation_count",
    "image__annotations_needed", "bad_image_count", "none_fits_count", "unsure_count", "labels", "adjudicated",
    "excluded", "image__more_requested_at", "redundancy_state", "open_classes", "position",
)  # fmt: skip


@dataclass(frozen=True)
class QueuePage:
    """A page of the queue: its rows, how many rows of the queue come before them (for numbering), and cursors to
    the pages before and after it (None at either end of the queue)."""

    rows: list[dict]
    first_row: int
    previous: QueueCursor | None
    next: QueueCursor | None


def queue_seek(dataset: Dataset, flt: QueueFilter, cursor: QueueCursor | None, *, total: int,
               limit: int = PAGE_SIZE) -> QueuePage:  # fmt: skip
    """The page a cursor points at (None: the first page), by keyset: the rows' query reads about `limit` entries
    of the order index from the cursor's key, however deep (two queries, as queue_page). `total` is the tab's
    count (queue_counts), for numbering the last page's rows.

    Going back, the page that reaches the queue's start may be short (it holds the rows before the cursor); one
    whose rows all left the queue meanwhile is the first page (one query more)."""
    rows = _page_rows(_seek(queue_rows(dataset, flt), cursor), limit + 1)
    if cursor is None or cursor.direction == "after":
        page, more = rows[:limit], len(rows) > limit
        first_row = cursor.rows_before if cursor else 0
        return _queue_page(page, first_row, has_previous=cursor is not None, has_next=more)
    if cursor.direction == "before" and not rows:
        return queue_seek(dataset, flt, None, total=total, limit=limit)
    page, more = rows[-limit:], len(rows) > limit
    first_row = (cursor.rows_before if cursor.direction == "before" else total) - len(page) if more else 0
    return _queue_page(page, max(first_row, 0), has_previous=more, has_next=cursor.direction == "before")


def queue_page(dataset: Dataset, flt: QueueFilter, *, offset: int = 0, limit: int = PAGE_SIZE) -> list[dict]:
    """The page `offset` rows into the queue as plain rows (two queries: the rows, then the names of their classes).

    The rows' query picks the page's images from the order index alone (an index-only scan: the index holds the
    keys' and the status tabs' columns), then reads only those images' wide rows; it still walks `offset` index
    entries, so deep pages cost more than by cursor (queue_seek): the last 100 rows of 221,400 in review at 1.3 M
    images in ~40 ms, against ~2 ms at 50,000."""
    return queue_page_at(dataset, flt, offset=offset, limit=limit).rows


def queue_page_at(dataset: Dataset, flt: QueueFilter, *, offset: int, limit: int = PAGE_SIZE) -> QueuePage:
    """queue_page, with the cursors of the pages around it (so an offset client can go on by cursor)."""
    rows = _page_rows(queue_rows(dataset, flt), limit + 1, offset=offset)
    return _queue_page(rows[:limit], offset, has_previous=offset > 0, has_next=len(rows) > limit)


def _page_rows(ordered: QuerySet[Consensus], limit: int, *, offset: int = 0) -> list[tuple]:
    """The wide rows of the first `limit` (after `offset`) of `ordered`, in queue order: the images are picked by
    their sort keys alone, then only their rows are read (sorting every wide row of the queue to skip rows
    spilled to disk: 90 ms for the last page of 8,437 at 50,000)."""
    window = ordered.values("image_id")[offset : offset + limit]
    return list(_in_queue_order(Consensus.objects.filter(image_id__in=window)).values_list(*_PAGE_COLUMNS))


def _queue_page(rows: list[tuple], first_row: int, *, has_previous: bool, has_next: bool) -> QueuePage:
    def key(row: tuple) -> tuple[float | None, int, int]:
        return row[8], row[11] + row[12] + row[13], row[20]

    previous = QueueCursor("before", *key(rows[0]), first_row) if rows and has_previous else None
    if has_previous and not rows:  # past the end (its rows left the queue): back to the last page
        previous = QueueCursor("end")
    following = QueueCursor("after", *key(rows[-1]), first_row + len(rows)) if rows and has_next else None
    return QueuePage(_as_dicts(rows), first_row, previous, following)


def _as_dicts(rows: list[tuple]) -> list[dict]:
    # As plain values too: a page of 100 rows names ~130 classes, and model instances cost a millisecond.
    classes = LabelClass.objects.filter(pk__in={c for row in rows for c in row[14]}).order_by()
    names = {pk: {"id": pk, "key": key, "name": name} for pk, key, name in classes.values_list("pk", "key", "name")}
    return [
        {
            "image_id": image_id,
            "file_name": key,
            "thumbnail_url": _url(thumbnail),
            "original_label": {"id": label_id, "key": label_key, "name": label_name} if label_id else None,
            "status": status,
            "dispute_reasons": reasons,
            "agreement": agreement,
            "annotation_count": annotation_count,
            "annotations_needed": annotations_needed,
            "open_reason": open_reason(state, annotation_count, len(open_classes)) if state else None,
            "flags": {"bad_image": bad_image, "none_fits": none_fits, "unsure": unsure},
            "labels": [names[c] for c in labels if c in names],
            "adjudicated": adjudicated,
            "excluded": excluded,
            "more_requested_at": more_requested_at,
        }
        for (image_id, key, thumbnail, label_id, label_key, label_name, status, reasons, agreement, annotation_count,
             annotations_needed, bad_image, none_fits, unsure, labels, adjudicated, excluded, more_requested_at, state,
             open_classes, _position) in rows
    ]  # fmt: skip


def queue_annotators(dataset: Dataset) -> list[tuple[int, str]]:
    """(id, username) of everyone who annotated the dataset, for the annotator filter (one query)."""
    annotated = Annotation.objects.filter(dataset=dataset, annotator_id=OuterRef("pk"))
    users = get_user_model().objects.filter(Exists(annotated)).order_by("username")
    return list(users.values_list("pk", "username"))


def _url(name: str | None) -> str | None:
    return default_storage.url(name) if name else None
