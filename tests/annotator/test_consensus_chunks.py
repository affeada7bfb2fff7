"""Dataset-wide consensus writes in image-range chunks, one transaction each: the rows are the same as those of
a single transaction, a rerun changes nothing, and a Dawid–Skene run keeps its lock and finishes (or is redone)
as a whole. Each committed transaction stamps the rows it wrote with its own xmin, which counts the chunks."""

from __future__ import annotations

import math

import psycopg2
import pytest
from django.db import connection

from annotator.models import Consensus, DawidSkeneRun
from annotator.services.consensus import consensus_recompute_dataset
from annotator.services.dawid_skene import ADVISORY_LOCK_CLASS, dawid_skene_refresh_due, dawid_skene_run
from tests.annotator.test_dawid_skene_and_agreement import N_IMAGES, rated  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK = 7  # 40 images: six chunks, the last one short
ROW_FIELDS = [
    "image_id", "status", "dispute_reasons", "annotation_count", "counts", "shares", "majority_labels",
    "unsure_count", "bad_image_count", "none_fits_count", "agreement", "ds_posterior", "ds_labels", "labels",
]  # fmt: skip


def _rows(dataset) -> list[tuple]:  # noqa: ANN001
    return list(Consensus.objects.filter(dataset=dataset).order_by("image_id").values_list(*ROW_FIELDS))


def _transactions_that_wrote(dataset) -> int:  # noqa: ANN001
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(DISTINCT xmin::text) FROM {Consensus._meta.db_table} WHERE dataset_id = %s", [dataset.pk]
        )
        return cursor.fetchone()[0]


def test_a_recompute_in_chunks_writes_the_rows_of_one_transaction_one_chunk_per_transaction(rated):  # noqa: F811
    assert consensus_recompute_dataset(dataset=rated, chunk=10**6) == 0  # the import wrote them already
    one_transaction = _rows(rated)
    assert len(one_transaction) == N_IMAGES
    Consensus.objects.filter(dataset=rated).delete()
    assert consensus_recompute_dataset(dataset=rated, chunk=CHUNK) == N_IMAGES
    assert _rows(rated) == one_transaction
    assert _transactions_that_wrote(rated) == math.ceil(N_IMAGES / CHUNK)
    assert consensus_recompute_dataset(dataset=rated, chunk=CHUNK) == 0  # idempotent


def test_dawid_skene_written_in_chunks_equals_the_run_written_in_one_transaction(rated):  # noqa: F811
    whole = dawid_skene_run(dataset=rated, chunk=10**6)
    one_transaction = _rows(rated)
    assert _transactions_that_wrote(rated) == 1
    chunked = dawid_skene_run(dataset=rated, chunk=CHUNK)
    assert chunked.pk != whole.pk and set(chunked.seconds) == {"load", "fit", "write"}
    assert _rows(rated) == one_transaction  # the same votes give the same fit and the same rows
    assert set(Consensus.objects.filter(dataset=rated).values_list("ds_run_id", flat=True)) == {chunked.pk}
    assert _transactions_that_wrote(rated) == math.ceil(N_IMAGES / CHUNK)
    assert any(row[ROW_FIELDS.index("ds_posterior")] for row in one_transaction)


def test_a_run_holding_the_lock_across_its_chunks_keeps_a_second_one_out(rated):  # noqa: F811
    other = psycopg2.connect(**connection.get_connection_params())
    other.autocommit = True
    try:
        with other.cursor() as cursor:  # what a running fit holds between its chunks: the session-level lock
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [ADVISORY_LOCK_CLASS, rated.pk])
        assert dawid_skene_run(dataset=rated, chunk=CHUNK) is None
        assert not DawidSkeneRun.objects.exists()
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_LOCK_CLASS, rated.pk])
    finally:
        other.close()
    assert dawid_skene_run(dataset=rated, chunk=CHUNK) is not None


def test_a_run_that_died_before_its_last_chunk_is_run_again_by_the_periodic_refresh(rated):  # noqa: F811
    assert len(dawid_skene_refresh_due()) == 1
    assert dawid_skene_refresh_due() == []  # votes unchanged since a finished run
    died = DawidSkeneRun.objects.get()
    died.seconds = {"load": died.seconds["load"], "fit": died.seconds["fit"]}  # as a worker killed mid-write
    died.save(update_fields=["seconds"])
    [again] = dawid_skene_refresh_due()
    assert again.pk != died.pk and "write" in again.seconds
    assert dawid_skene_refresh_due() == []
