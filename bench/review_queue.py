"""The review queue at scale: its API (`?limit=100`) and its page, with each filter, as p95 of many requests.

Through Django's test Client like the other pages (the whole middleware stack, no socket), by a signed-in staff
user; SAMPLES requests of each URL after one warm-up, in turn (URL 1, 2, …, 1, 2, …) so a slow moment of the
machine lands on every URL alike. The floor is the p95 of the trivial view `/ping` asked in the same turns.
Deep pages are reached as a client reaches them, by cursor (the API's `last` and `next` links, the page's "Last
page" link), and by offset (`offset=`, `?page=N`) for the clients that still use it.

`python -m bench --sections pages [--images 50000]` measures it with the other pages (on the computation workload;
`--growth N --sections pages` on the growth run's).
"""

from __future__ import annotations

import statistics
import time
from urllib.parse import quote

from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.models import Annotation, Consensus, Dataset
from annotator.selectors.queue_cursor import QueueCursor, cursor_dumps
from annotator.selectors.review_queue import PAGE_SIZE, QueueFilter, queue_counts, queue_page_at
from bench.report import Figure, Report

SAMPLES = 40
TARGET_MS = 30.0


def queue_urls(dataset: Dataset) -> list[tuple[str, str]]:
    """(name, URL) of every queue view measured: the API's default tab and each filter, and the page."""
    api = reverse("review:api-queue", args=[dataset.slug]) + "?limit=100"
    page = reverse("review:queue", args=[dataset.slug])
    class_id = _busiest_class(dataset)
    annotator_id = _busiest_annotator(dataset)
    n_open = queue_counts(dataset, QueueFilter())["open"]
    last_page = max(1, -(-n_open // PAGE_SIZE))
    middle = queue_page_at(dataset, QueueFilter(), offset=n_open // 2, limit=1).next
    return [
        ("API, open (default)", api),
        ("API, all statuses", f"{api}&status=all"),
        ("API, open, last 100 rows by cursor (`last` link)", f"{api}&cursor={_cursor(dataset, QueueCursor('end'))}"),
        ("API, open, 100 rows from the middle by cursor", f"{api}&cursor={_cursor(dataset, middle)}"),
        ("API, open, last 100 rows by offset", f"{api}&offset={max(0, n_open - 100)}"),
        ("API, open, one class", f"{api}&class={class_id}"),
        ("API, open, one annotator", f"{api}&annotator={annotator_id}"),
        ("API, pending", f"{api}&status=pending"),
        ("page, open (default)", page),
        ("page, open, last page by cursor (its link)", f"{page}?cursor={_cursor(dataset, QueueCursor('end'))}"),
        ("page, open, last page by number (`?page=N`)", f"{page}?page={last_page}"),
        ("page, all, one class and one annotator", f"{page}?status=all&class={class_id}&annotator={annotator_id}"),
    ]


def _cursor(dataset: Dataset, cursor: QueueCursor | None) -> str:
    return quote(cursor_dumps(cursor or QueueCursor("end"), dataset_id=dataset.pk))


def _busiest_class(dataset: Dataset) -> int:
    """The class that the most images in review hold as a label (a filter with many rows)."""
    labels = Consensus.objects.filter(dataset=dataset, status=Consensus.Status.DISPUTED).values_list(
        "labels", flat=True
    )
    tally: dict[int, int] = {}
    for row in labels[:5000]:
        for class_id in row:
            tally[class_id] = tally.get(class_id, 0) + 1
    return max(tally, key=lambda c: (tally[c], -c)) if tally else 0


def _busiest_annotator(dataset: Dataset) -> int:
    row = (
        Annotation.objects.filter(dataset=dataset)
        .values("annotator_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "annotator_id")
        .first()
    )
    return row["annotator_id"] if row else 0


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def bench_review_queue(report: Report, dataset: Dataset, client: Client) -> None:
    urls = [("ping", reverse("ping")), *queue_urls(dataset)]
    samples: dict[str, list[float]] = {url: [] for _, url in urls}
    queries: dict[str, int] = {}
    for _, url in urls:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    for _ in range(SAMPLES):
        for _, url in urls:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                client.get(url)
                samples[url].append((time.perf_counter() - started) * 1000)
            queries[url] = len(captured)
    floor = p95(samples[urls[0][1]])
    at_50k = dataset.images.count() == 50_000
    in_review = queue_counts(dataset, QueueFilter())["all"]
    for name, url in urls[1:]:
        value, median = p95(samples[url]), statistics.median(samples[url])
        report.add(Figure(
            "pages", f"review queue {name}: p95 of {SAMPLES}", value, "ms", floor=floor,
            floor_note="p95 of the trivial view /ping through the same client, in the same turns",
            target=f"≤ {TARGET_MS:.0f} ms at 50,000 images", passed=(value <= TARGET_MS) if at_50k else None,
            note=f"median {median:.1f} ms; {queries[url]} queries; {in_review:,} images in review",
        ))  # fmt: skip
