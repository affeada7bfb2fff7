"""The review queue by cursor (keyset pagination, issue 23): cursor pages walk every tab and filter in the queue's
order (the definition worked out in Python, and the offset pages), ties included, forwards, backwards and from the
end; rows that change status between two pages are neither repeated nor skipped; the API's and the page's links
follow the cursors in a fixed number of queries; anything but a cursor the server gave out is a 400."""

from __future__ import annotations

import pytest
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F
from rest_framework.test import APIClient

from annotator.models import QUEUE_FLAGS, Candidate, Consensus, Dataset, Image, LabelClass
from annotator.selectors.queue_cursor import QueueCursor, cursor_dumps
from annotator.selectors.review_queue import QueueFilter, queue_counts, queue_neighbours, queue_page, queue_seek
from annotator.services.annotations import Answer
from annotator.services.consensus import consensus_recompute_dataset
from annotator.services.review import adjudication_set
from tests.builders.annotations import workbench_dataset
from tests.builders.review import answer_images
from tests.builders.review_queue import expected_queue, mixed_dataset

pytestmark = pytest.mark.django_db

N_TIED = 12


@pytest.fixture
def mixed(team, reviewer) -> Dataset:
    return mixed_dataset(team, reviewer)


@pytest.fixture
def tied(team) -> Dataset:
    """Twelve images whose positions run against their ids, answered alike, with an unsure answer or (every third)
    a bad-image flag: all of equal agreement and flags, so ordered by position alone (by id: reversed)."""
    dataset = workbench_dataset(slug="tied", images=N_TIED, classes=3, candidates_per_image=2, annotators=team)
    images = list(Image.objects.filter(dataset=dataset).order_by("pk"))
    Image.objects.filter(dataset=dataset).update(position=F("position") + N_TIED)  # out of the way, then reversed
    for number, image in enumerate(images):
        Image.objects.filter(pk=image.pk).update(position=N_TIED - 1 - number)
    shown = {i.pk: list(Candidate.objects.filter(image=i).values_list("label_class_id", flat=True)) for i in images}
    by_position = dict(Image.objects.filter(dataset=dataset).values_list("position", "pk"))
    for number, user in enumerate(team):
        answers = {}
        for position, pk in by_position.items():
            if number < 2:
                answers[position] = Answer(classes=shown[pk][: 1 + number])
            else:  # a flag puts each image in the queue
                answers[position] = Answer(bad_image=True) if position % 3 == 0 else Answer(unsure=True)
        answer_images(dataset, user, answers)
    return dataset


def walk(dataset: Dataset, flt: QueueFilter, limit: int) -> list[int]:
    """Every row by following `next` from the first page."""
    total = queue_counts(dataset, flt)[flt.status]
    seen, cursor = [], None
    for _ in range(total + 2):
        page = queue_seek(dataset, flt, cursor, total=total, limit=limit)
        assert len(page.rows) <= limit and page.first_row == len(seen)
        seen += [row["image_id"] for row in page.rows]
        if (cursor := page.next) is None:
            return seen
    raise AssertionError("the cursors did not reach the end")


def walk_back(dataset: Dataset, flt: QueueFilter, limit: int) -> list[int]:
    """Every row by following `previous` from the last page (read from the end), in queue order."""
    total = queue_counts(dataset, flt)[flt.status]
    pages, cursor = [], QueueCursor("end")
    for _ in range(total + 2):
        page = queue_seek(dataset, flt, cursor, total=total, limit=limit)
        pages.insert(0, [row["image_id"] for row in page.rows])
        assert page.first_row == total - sum(map(len, pages))
        if (cursor := page.previous) is None:
            return [image_id for rows in pages for image_id in rows]
    raise AssertionError("the cursors did not reach the start")


def test_ties_are_broken_by_position_not_by_id(tied):
    order = expected_queue(tied, "open", None, None)
    keys = Consensus.objects.filter(dataset=tied).annotate(flags=QUEUE_FLAGS).values_list("agreement", "flags")
    assert len(order) == N_TIED and len(set(keys)) == 1  # every row ties with every other but for its position
    assert order != sorted(order)  # by id the ties would come in another order
    for limit in (1, 2, 5, 50):
        assert walk(tied, QueueFilter(), limit) == order, limit
        assert walk_back(tied, QueueFilter(), limit) == order, limit


def test_cursor_pages_walk_every_tab_and_filter_in_the_order_of_the_offset_pages(mixed, team):
    some_classes = list(LabelClass.objects.filter(dataset=mixed).values_list("pk", flat=True)[:2])
    walked = 0
    for status in ("open", "pending", "adjudicated", "excluded", "all"):
        for class_id in (None, *some_classes):
            for annotator_id in (None, team[0].pk):
                flt = QueueFilter(status, class_id, annotator_id)
                expected = expected_queue(mixed, status, class_id, annotator_id)
                for limit in (1, 3):
                    by_offset = [
                        row["image_id"]
                        for offset in range(0, len(expected) + limit, limit)
                        for row in queue_page(mixed, flt, offset=offset, limit=limit)
                    ]
                    assert walk(mixed, flt, limit) == expected == by_offset, (flt, limit)
                    assert walk_back(mixed, flt, limit) == expected, (flt, limit)
                walked += len(expected) > 3
    assert walked >= 6


def test_rows_that_change_status_between_pages_are_neither_repeated_nor_skipped(mixed, reviewer):
    flt = QueueFilter("open")
    before = expected_queue(mixed, "open", None, None)
    total = len(before)
    first = queue_seek(mixed, flt, None, total=total, limit=3)
    seen = [row["image_id"] for row in first.rows]
    # A reviewer decides an image already read and one further on: both leave the open tab.
    for image_id in (seen[0], before[5]):
        labels = Consensus.objects.get(image_id=image_id).majority_labels
        adjudication_set(image_id=image_id, reviewer=reviewer, labels=labels)
    cursor = first.next
    while cursor is not None:
        page = queue_seek(mixed, flt, cursor, total=total, limit=3)
        seen += [row["image_id"] for row in page.rows]
        cursor = page.next
    after = expected_queue(mixed, "open", None, None)
    assert len(seen) == len(set(seen))  # none twice
    assert [i for i in before if i in seen] == seen  # in the queue's order
    assert set(after) <= set(seen) and before[5] not in seen  # every row that stayed; the decided one left
    # By offset, the row that slid back into the pages already read is skipped: what cursors are for.
    offset_seen = [r["image_id"] for r in queue_page(mixed, flt, offset=3, limit=total)]
    assert set(after) - set(offset_seen) - set(seen[:3])


def test_a_previous_page_whose_rows_left_the_queue_is_the_first_page(mixed, reviewer):
    flt = QueueFilter("open")
    order = expected_queue(mixed, "open", None, None)
    second = queue_seek(mixed, flt, None, total=len(order), limit=2)
    third = queue_seek(mixed, flt, second.next, total=len(order), limit=2)
    for image_id in order[:3]:
        labels = Consensus.objects.get(image_id=image_id).majority_labels
        adjudication_set(image_id=image_id, reviewer=reviewer, labels=labels)
    back = queue_seek(mixed, flt, third.previous, total=len(order) - 3, limit=2)
    assert [row["image_id"] for row in back.rows] == order[3:5]
    assert back.first_row == 0 and back.previous is None


def test_the_api_links_walk_the_queue_by_cursor_in_a_fixed_number_of_queries(
    mixed, team, reviewer, django_assert_max_num_queries
):
    api = APIClient()
    api.force_login(reviewer)
    for query, status, annotator_id in (
        ("?limit=2", "all", None),
        (f"?limit=3&annotator={team[1].pk}", "open", team[1].pk),
    ):
        expected = expected_queue(mixed, status, None, annotator_id)
        url = f"/api/datasets/mixed/review-queue/{query}&status={status}"
        seen, pages = [], []
        while url:
            with django_assert_max_num_queries(7):  # session, user, dataset, counts, rows, names (+ groups)
                body = api.get(url).json()
            pages.append(body)
            seen += [row["image_id"] for row in body["results"]]
            url = body["next"]
        assert seen == expected
        assert pages[0]["previous"] is None and all(p["previous"] for p in pages[1:])
        limit = int(query.split("limit=")[1].split("&")[0])
        last = api.get(pages[0]["last"]).json()
        assert [r["image_id"] for r in last["results"]] == expected[-limit:] and last["next"] is None
        before_last = api.get(last["previous"]).json()["results"]
        assert [r["image_id"] for r in before_last] == expected[-2 * limit : -limit]
    # An offset page gives cursors too, so a client can go on by cursor.
    body = api.get("/api/datasets/mixed/review-queue/?status=all&offset=2&limit=2").json()
    following = api.get(body["next"]).json()["results"]
    assert [r["image_id"] for r in following] == expected_queue(mixed, "all", None, None)[4:6]
    assert "offset" not in body["next"]


def test_the_queue_page_links_next_previous_and_last_by_cursor(mixed, reviewer, client, monkeypatch):
    monkeypatch.setattr("annotator.views.review.PAGE_SIZE", 3)
    client.force_login(reviewer)
    expected = expected_queue(mixed, "all", None, None)
    html = client.get("/review/mixed/?status=all").content.decode()
    assert 'rel="prev"' not in html and 'rel="last"' in html
    seen = []
    while True:
        seen += [int(part.split('"')[0]) for part in html.split('<tr data-image="')[1:]]
        if 'rel="next"' not in html:
            break
        link = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
        html = client.get(f"/review/mixed/{link}").content.decode()
        assert 'rel="prev"' in html and 'rel="first"' in html
    assert seen == expected
    first_html = client.get("/review/mixed/?status=all").content.decode()
    last_link = first_html.split('rel="last"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    last = client.get(f"/review/mixed/{last_link}").content.decode()
    rows = [int(part.split('"')[0]) for part in last.split('<tr data-image="')[1:]]
    assert rows == expected[-3:] and 'rel="next"' not in last
    # Rows are numbered from the end on the last page.
    assert f'<td class="num">{len(expected)}</td>' in last
    # A page number of old still works (by offset).
    old = client.get("/review/mixed/?status=all&page=2").content.decode()
    assert [int(p.split('"')[0]) for p in old.split('<tr data-image="')[1:]] == expected[3:6]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "a" * 10_000,
        "abc\x00def",
        "é",
        '["a", null, 0, 0, 0]',
    ],
)
def test_a_cursor_the_server_did_not_give_out_is_a_400_with_a_message(mixed, reviewer, client, cursor):
    api = APIClient()
    api.force_login(reviewer)
    response = api.get("/api/datasets/mixed/review-queue/", {"cursor": cursor})
    assert response.status_code == 400 and "cursor" in response.json()["detail"]
    client.force_login(reviewer)
    page = client.get("/review/mixed/", {"cursor": cursor})
    assert page.status_code == 400 and b"cursor" in page.content


def test_a_tampered_or_foreign_cursor_and_a_cursor_with_an_offset_are_refused(mixed, team, reviewer):
    api = APIClient()
    api.force_login(reviewer)
    good = cursor_dumps(QueueCursor("after", 0.5, 1, 3, 2), dataset_id=mixed.pk)
    assert api.get("/api/datasets/mixed/review-queue/", {"cursor": good}).status_code == 200
    tampered = good.replace(good[2], "A" if good[2] != "A" else "B", 1)
    other = workbench_dataset(slug="other", images=2, classes=2, annotators=team)
    foreign = cursor_dumps(QueueCursor("after", 0.5, 1, 3, 2), dataset_id=other.pk)
    salt = f"relabel.review-queue.{mixed.pk}"
    # Signed with the server's key but not a cursor's shape: refused all the same, never reaching SQL.
    odd = [signing.dumps(payload, salt=salt) for payload in (["a", "x", 0, 0, 0], ["a", None, -1, 0, 0], ["z"], {})]
    for cursor in (tampered, foreign, *odd):
        response = api.get("/api/datasets/mixed/review-queue/", {"cursor": cursor})
        assert response.status_code == 400 and "cursor" in response.json()["detail"], cursor
    both = api.get("/api/datasets/mixed/review-queue/", {"cursor": good, "offset": 3})
    assert both.status_code == 400 and "not both" in both.json()["detail"]


def test_neighbours_follow_the_queue_order_by_seeking(mixed, team, django_assert_num_queries):
    for flt in (QueueFilter(), QueueFilter("all"), QueueFilter("open", None, team[0].pk)):
        order = expected_queue(mixed, flt.status, flt.class_id, flt.annotator_id)
        for at, image_id in enumerate(order):
            with django_assert_num_queries(1):
                neighbours = queue_neighbours(mixed, flt, image_id)
            assert neighbours == (order[at - 1] if at else None, order[at + 1] if at + 1 < len(order) else None)
    outside = Image.objects.filter(dataset=mixed).exclude(pk__in=expected_queue(mixed, "all", None, None)).first()
    assert queue_neighbours(mixed, QueueFilter(), outside.pk) == (None, expected_queue(mixed, "open", None, None)[0])


def test_every_consensus_row_holds_its_images_position_on_either_write_path(mixed):
    def positions() -> set[tuple[int, int]]:
        return set(Consensus.objects.filter(dataset=mixed).values_list("position", "image__position"))

    assert positions() and all(mine == image for mine, image in positions())  # the live path (each submit)
    Consensus.objects.filter(dataset=mixed).delete()
    consensus_recompute_dataset(dataset=mixed)  # the bulk path (COPY and upsert)
    assert positions() and all(mine == image for mine, image in positions())


def test_an_infinite_or_nan_agreement_is_refused(mixed):
    row = Consensus.objects.filter(dataset=mixed).first()
    for value in (float("inf"), float("nan")):
        with pytest.raises(IntegrityError), transaction.atomic():
            Consensus.objects.filter(pk=row.pk).update(agreement=value)
