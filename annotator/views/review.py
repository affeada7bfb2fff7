"""Review pages: the queue, the review screen of one image (review.js drives it through the API) and an
image's full history. Reviewers and staff only (annotator.permissions.access_review)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from annotator.models import Dataset, Image, LabelClass
from annotator.permissions import access_review, require_dataset
from annotator.selectors.queue_cursor import QueueCursor, cursor_dumps, cursor_loads
from annotator.selectors.review import adjudication_history, annotation_history, review_detail
from annotator.selectors.review_queue import (
    PAGE_SIZE,
    QUEUE_STATUSES,
    QueueFilter,
    datasets_with_open_counts,
    queue_annotators,
    queue_counts,
    queue_neighbours,
    queue_page_at,
    queue_seek,
)
from config.request_input import MAX_SQL_INT, query_int


@login_required
def review_index(request: HttpRequest) -> HttpResponse:
    if not access_review(request.user):
        raise PermissionDenied
    return render(request, "review/index.html", {"datasets": datasets_with_open_counts()})


@require_dataset(access_review)
def review_queue(request: HttpRequest, dataset: Dataset) -> HttpResponse:
    flt = QueueFilter.parse(request.GET)
    cursor = cursor_loads(request.GET.get("cursor"), dataset_id=dataset.pk)
    # `page=N` (links of old): by offset, which walks the rows before it; the page's own links are cursors.
    number = query_int(request.GET, "page", default=1, minimum=1, maximum=MAX_SQL_INT // PAGE_SIZE)
    counts = queue_counts(dataset, flt)
    if number > 1 and cursor is None:
        page = queue_page_at(dataset, flt, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    else:
        page = queue_seek(dataset, flt, cursor, total=counts[flt.status], limit=PAGE_SIZE)
    query = urlencode(flt.query())

    def link(to: QueueCursor | None) -> str | None:
        return urlencode({**flt.query(), "cursor": cursor_dumps(to, dataset_id=dataset.pk)}) if to else None

    context = {
        "dataset": dataset,
        "filter": flt,
        "query": query,
        "tabs": [
            (name, label, counts[name], urlencode({**flt.query(), "status": name}))
            for name, (label, _q) in QUEUE_STATUSES.items()
        ],
        "rows": page.rows,
        "first_row": page.first_row,
        "previous": link(page.previous),
        "next": link(page.next),
        # The last page, read from the end, unless this is it.
        "last": link(QueueCursor("end")) if page.next else None,
        "classes": LabelClass.objects.filter(dataset=dataset).order_by("name").values_list("pk", "name"),
        "annotators": queue_annotators(dataset),
    }
    return render(request, "review/queue.html", context)


@require_dataset(access_review)
def review_image(request: HttpRequest, dataset: Dataset, image_id: int) -> HttpResponse:
    image = get_object_or_404(Image.objects.select_related("dataset"), pk=image_id, dataset=dataset)
    flt = QueueFilter.parse(request.GET)
    previous, following = queue_neighbours(dataset, flt, image.pk)
    context = {
        "dataset": dataset,
        "detail": review_detail(image),
        "query": urlencode(flt.query()),
        "previous": previous,
        "next": following,
    }
    return render(request, "review/image.html", context)


@login_required
def image_history(request: HttpRequest, image_id: int) -> HttpResponse:
    if not access_review(request.user):
        raise PermissionDenied
    image = get_object_or_404(Image.objects.select_related("dataset", "original_label", "consensus"), pk=image_id)
    context = {
        "image": image,
        "dataset": image.dataset,
        "consensus": getattr(image, "consensus", None),
        "revisions": annotation_history(image),
        "adjudications": adjudication_history(image),
    }
    return render(request, "review/history.html", context)
