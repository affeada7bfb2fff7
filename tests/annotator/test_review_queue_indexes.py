"""The review queue read through its partial indexes (issue 23): the same rows in the same order as the queue's
definition worked out here in Python from every consensus row and image — the definition as it was before the
indexes, with a reviewer's request for more read from the image — for every status tab, class and annotator
filter and any window; the queries stay few and can use the indexes."""

from __future__ import annotations

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from annotator.models import IN_REVIEW, Consensus, Dataset, Image, LabelClass
from annotator.selectors.review_queue import QUEUE_STATUSES, QueueFilter, queue_counts, queue_page, queue_rows
from tests.builders.annotations import workbench_dataset
from tests.builders.review_queue import N_IMAGES, expected_queue, mixed_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(team, reviewer) -> Dataset:
    return mixed_dataset(team, reviewer)


def test_the_fixture_holds_every_kind_of_queue_row(mixed):
    every = expected_queue(mixed, "all", None, None)
    counts = {status: len(expected_queue(mixed, status, None, None)) for status in QUEUE_STATUSES}
    assert all(counts[status] >= 1 for status in QUEUE_STATUSES), counts
    assert counts["open"] >= 8 and len(every) < Consensus.objects.filter(dataset=mixed).count()
    rows = Consensus.objects.filter(image_id__in=every)
    assert rows.filter(status="agreed").exists() and rows.filter(agreement__isnull=True).exists()
    flagged_agreed = rows.filter(status="agreed", adjudicated=False, more_requested=False)
    assert flagged_agreed.exists()  # in review for its flags alone


def test_every_tab_class_and_annotator_filter_gives_the_definitions_rows_in_its_order(mixed, team):
    classes = [None, *LabelClass.objects.filter(dataset=mixed).values_list("pk", flat=True)]
    annotators = [None, *(user.pk for user in team)]
    checked = 0
    for status in QUEUE_STATUSES:
        for class_id in classes:
            for annotator_id in annotators:
                flt = QueueFilter(status, class_id, annotator_id)
                expected = expected_queue(mixed, status, class_id, annotator_id)
                assert [r["image_id"] for r in queue_page(mixed, flt, limit=1000)] == expected, flt
                assert list(queue_rows(mixed, flt).values_list("image_id", flat=True)) == expected, flt
                counts = queue_counts(mixed, flt)
                assert counts == {s: len(expected_queue(mixed, s, class_id, annotator_id)) for s in QUEUE_STATUSES}
                checked += bool(expected)
    assert checked >= 40


@pytest.mark.parametrize("limit", [1, 3, 5])
def test_pages_of_any_size_cover_the_queue_once_in_order(mixed, limit):
    for status in ("open", "all"):
        flt = QueueFilter(status)
        expected = expected_queue(mixed, status, None, None)
        pages = [
            queue_page(mixed, flt, offset=offset, limit=limit) for offset in range(0, len(expected) + limit, limit)
        ]
        assert all(len(page) <= limit for page in pages)
        assert [row["image_id"] for page in pages for row in page] == expected


def test_a_page_row_holds_what_the_image_and_its_consensus_hold(mixed):
    (row,) = [r for r in queue_page(mixed, QueueFilter("all"), limit=1000) if r["adjudicated"] and not r["excluded"]]
    consensus = Consensus.objects.select_related("image__original_label").get(image_id=row["image_id"])
    image, original = consensus.image, consensus.image.original_label
    names = dict(LabelClass.objects.filter(pk__in=consensus.labels).values_list("pk", "name"))
    assert row == {
        "image_id": image.pk,
        "file_name": image.key,
        "thumbnail_url": image.thumbnail.url,
        "original_label": {"id": original.pk, "key": original.key, "name": original.name},
        "status": "adjudicated",
        "dispute_reasons": consensus.dispute_reasons,
        "agreement": consensus.agreement,
        "annotation_count": consensus.annotation_count,
        "annotations_needed": image.annotations_needed,
        "open_reason": None,  # fixed redundancy (tests/annotator/test_adaptive_redundancy.py has the adaptive one)
        "flags": {
            "bad_image": consensus.bad_image_count,
            "none_fits": consensus.none_fits_count,
            "unsure": consensus.unsure_count,
        },
        "labels": [{"id": c, "key": LabelClass.objects.get(pk=c).key, "name": names[c]} for c in consensus.labels],
        "adjudicated": True,
        "excluded": False,
        "more_requested_at": None,
    }


def test_asking_for_more_for_an_image_nobody_answered_puts_it_in_the_pending_tab(mixed):
    untouched = Image.objects.get(dataset=mixed, position=N_IMAGES - 1)
    consensus = Consensus.objects.get(image=untouched)
    assert (consensus.status, consensus.more_requested, consensus.annotation_count) == ("pending", True, 0)
    pending = [r["image_id"] for r in queue_page(mixed, QueueFilter("pending"))]
    assert untouched.pk in pending
    assert Consensus.objects.filter(dataset=mixed, more_requested=True).count() == 2
    assert Image.objects.filter(dataset=mixed, more_requested_at__isnull=False).count() == 2


def test_the_api_with_any_filter_and_window_takes_a_fixed_number_of_queries(
    mixed, team, reviewer, django_assert_max_num_queries
):
    api = APIClient()
    api.force_login(reviewer)
    some_class = LabelClass.objects.filter(dataset=mixed).first()
    for query in ("", "?status=all&offset=3&limit=4", f"?class={some_class.pk}&annotator={team[1].pk}"):
        with django_assert_max_num_queries(7):  # session, user, dataset, counts, rows, names (+ groups)
            response = api.get(f"/api/datasets/mixed/review-queue/{query}")
        assert response.status_code == 200


def test_every_queue_query_states_the_condition_of_its_partial_indexes(mixed, team):
    """PostgreSQL uses a partial index only for a query whose conditions imply the index's: every query of the
    queue states IN_REVIEW exactly as the indexes' definitions render it (the plans at 50,000 images, with these
    indexes, are in README's *Review and adjudication*)."""
    with CaptureQueriesContext(connection) as captured:
        Consensus.objects.filter(IN_REVIEW).exists()
    condition = captured.captured_queries[0]["sql"].split(" WHERE ", 1)[1].split(" LIMIT ")[0]
    assert condition.startswith('("annotator_consensus"."status" = \'disputed\' OR'), condition
    classes = LabelClass.objects.filter(dataset=mixed).values_list("pk", flat=True)
    for flt in (QueueFilter(), QueueFilter("all", classes[0]), QueueFilter("pending", None, team[0].pk)):
        with CaptureQueriesContext(connection) as captured:
            queue_counts(mixed, flt)
            queue_page(mixed, flt)
        # In the page's window subquery the table has an alias (U0, V0 …): read it under its name.
        counts_sql, rows_sql = (re.sub(r"\b[A-Z]\d+\.", '"annotator_consensus".', q["sql"]) for q in captured[:2])
        assert condition in counts_sql and condition in rows_sql, flt
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'annotator_consensus' "
            "AND indexname LIKE 'consensus_review_%%'"
        )
        definitions = dict(cursor.fetchall())
    assert len(definitions) == 4 and all("more_requested" in d for d in definitions.values())


def test_the_class_and_annotator_choices_are_escaped_and_the_chosen_ones_selected(team, reviewer, client):
    dataset = workbench_dataset(slug="odd", images=2, classes=2, annotators=team)
    odd = LabelClass.objects.filter(dataset=dataset).order_by("index").first()
    LabelClass.objects.filter(pk=odd.pk).update(name='<b>"cat" & co</b>')
    client.force_login(reviewer)
    html = client.get(f"/review/odd/?class={odd.pk}").content.decode()
    assert f'<option value="{odd.pk}" selected>&lt;b&gt;&quot;cat&quot; &amp; co&lt;/b&gt;</option>' in html
    assert html.count(" selected>") == 1 and '<b>"cat"' not in html


def test_agreement_shows_with_two_decimals_or_a_dash():
    from annotator.templatetags.numbers import decimals

    assert [decimals(v) for v in (0.5, 2 / 3, 0, 1.0, None)] == ["0.50", "0.67", "0.00", "1.00", "–"]
    assert decimals(0.123456, 3) == "0.123" and decimals("n/a") == "n/a"


@pytest.mark.django_db(transaction=True)
def test_a_pages_pick_of_rows_is_read_from_the_order_index_alone(team, reviewer):
    """The order index holds every column the pick of a page reads (keys, status tabs, image): deep pages by offset
    and the annotator filter skip index entries, not table rows (the last page by offset at 1.3 M images: 877 ->
    42 ms p95, README). Table scans and sorts are switched off so that a small table shows the plan of a large one;
    were a column missing from the index, the plan would be an Index Scan (table rows) instead."""
    dataset = mixed_dataset(team, reviewer)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE annotator_consensus")  # the visibility map, as autovacuum keeps it
    for flt, offset in ((QueueFilter(), 5), (QueueFilter("all"), 0), (QueueFilter("open", None, team[0].pk), 1)):
        window = queue_rows(dataset, flt).values("image_id")[offset : offset + 3]
        sql, params = window.query.sql_with_params()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off"
            )
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Index Only Scan using consensus_review_order_idx" in plan, plan
