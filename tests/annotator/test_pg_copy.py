"""Bulk writes through COPY: per-row foreign-key checks done in bulk, and COPY's text escaping."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from annotator.models import Dataset, Image, LabelClass
from annotator.pg_copy import ReferencedRowMissingError, copy_escape, foreign_keys_checked_in_bulk
from annotator.services.datasets import dataset_create
from tests.builders.annotations import workbench_dataset

pytestmark = pytest.mark.django_db


def _role() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        return cursor.fetchone()[0]


def test_inside_the_triggers_are_skipped_and_after_it_foreign_keys_hold_again():
    dataset = workbench_dataset(slug="fk", images=1, classes=2)
    classes = list(LabelClass.objects.filter(dataset=dataset).values_list("pk", flat=True))
    with transaction.atomic():
        with foreign_keys_checked_in_bulk(((Dataset, [dataset.pk]), (LabelClass, classes))) as skipped:
            assert skipped and _role() == "replica"  # the embedded server's role is a superuser
        assert _role() == "origin"
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # Django's foreign keys are checked at commit otherwise
        with pytest.raises(IntegrityError), transaction.atomic():
            Image.objects.create(dataset=dataset, key="x.jpg", position=9, original_label_id=max(classes) + 1000)


def test_a_referenced_row_that_is_gone_is_named_and_nothing_is_skipped():
    dataset = dataset_create(slug="gone", name="Gone")
    references = ((Dataset, [dataset.pk]), (LabelClass, [987654321]))
    with (
        pytest.raises(ReferencedRowMissingError, match="annotator_labelclass"),
        transaction.atomic(),
        foreign_keys_checked_in_bulk(references),
    ):
        pytest.fail("entered with a missing row")
    assert _role() == "origin"


def test_copy_escape_leaves_nothing_that_copys_text_format_reads_as_a_delimiter():
    assert copy_escape("a\tb\nc\rd\\e") == "a\\tb\\nc\\rd\\\\e"
    assert copy_escape("\\N") == "\\\\N"  # not read as NULL
