"""The dashboard's live counts come from one row per dataset that the database keeps (DatasetCounts), never from a
count of the dataset: after every kind of write, and under concurrent submits and decisions, the row equals what
counting the images and consensus rows gives."""

from __future__ import annotations

import random
import uuid

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from annotator.core.import_sources import ImageSpec
from annotator.models import Consensus, Dataset, DatasetCounts, Image
from annotator.selectors.consensus import agreement_overview, consensus_status_counts, live_status_counts
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import lease_next
from annotator.services.consensus import consensus_recompute_dataset
from annotator.services.datasets import dataset_create
from annotator.services.dawid_skene import dawid_skene_run
from annotator.services.image_import import images_import
from annotator.services.review import (
    adjudication_exclude,
    adjudication_revert,
    adjudication_set,
    review_request_more,
)
from tests.builders.annotations import workbench_dataset
from tests.builders.review import class_at, image_at, review_dataset
from tests.builders.users import UserFactory
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db


def counted(dataset: Dataset) -> dict[str, int]:
    """The row's figures worked out by counting, as the dashboard did before."""
    rows = dict(Consensus.objects.filter(dataset=dataset).values_list("status").annotate(n=Count("pk")).order_by())
    return {"images": Image.objects.filter(dataset=dataset).count(),
            **{status: rows.get(status, 0) for status in Consensus.Status.values}}  # fmt: skip


def kept(dataset: Dataset) -> dict[str, int]:
    return DatasetCounts.objects.filter(dataset=dataset).values("images", *Consensus.Status.values).get()


def test_a_new_dataset_starts_at_zero_and_file_less_imports_by_copy_count(team):
    dataset = dataset_create(slug="fresh", name="Fresh")
    assert kept(dataset) == {"images": 0, "pending": 0, "agreed": 0, "disputed": 0, "adjudicated": 0}
    specs = [ImageSpec(key=f"k{i}.jpg", path=None, label=None, source=f"list:{i}") for i in range(7)]
    images_import(dataset=dataset, specs=specs, with_files=False)  # COPY, with the per-row triggers skipped
    images_import(dataset=dataset, specs=[*specs, ImageSpec("z.jpg", None, None, "list:7")], with_files=False)
    assert kept(dataset) == counted(dataset) and kept(dataset)["images"] == 8


def test_every_write_path_keeps_the_row_exact(team, reviewer):
    pets = review_dataset(team)  # submits through the real service: pending, agreed and disputed rows
    other = review_dataset(team, slug="birds")
    assert kept(pets) == counted(pets) and kept(pets)["disputed"] == 3 and kept(pets)["agreed"] == 2
    adjudication_set(image_id=image_at(pets, 0).pk, reviewer=reviewer, labels=[class_at(pets, 1).pk])
    adjudication_exclude(image_id=image_at(pets, 1).pk, reviewer=reviewer, reason="bad")
    assert kept(pets) == counted(pets) and kept(pets)["adjudicated"] == 2
    adjudication_revert(image_id=image_at(pets, 1).pk, reviewer=reviewer)
    review_request_more(image_id=image_at(pets, 3).pk, reviewer=reviewer)  # back to pending
    assert kept(pets) == counted(pets) and kept(pets)["pending"] == 1
    Consensus.objects.filter(dataset=pets).update(status="agreed", adjudicated=False, excluded=False)
    assert kept(pets) == counted(pets)
    consensus_recompute_dataset(dataset=pets)  # the bulk upsert puts every status back
    dawid_skene_run(dataset=pets)
    assert kept(pets) == counted(pets)
    image_at(pets, 4).delete()  # its consensus row goes with it
    assert kept(pets) == counted(pets) and kept(pets)["images"] == 4
    assert kept(other) == counted(other)
    other.delete()  # a dataset's deletion takes its row, and the cascade's later deletes make none again
    assert not DatasetCounts.objects.filter(dataset_id=other.pk).exists()
    assert kept(pets) == counted(pets)


def test_the_dashboard_reads_the_row_and_no_image_or_consensus_rows(team, reviewer, client):
    pets = review_dataset(team)
    with CaptureQueriesContext(connection) as captured:
        overview = agreement_overview(pets)
    assert overview["status"] == consensus_status_counts(pets, n_images=5) == live_status_counts(pets)
    tables = " ".join(query["sql"] for query in captured.captured_queries)
    assert "annotator_consensus" not in tables and "annotator_image" not in tables
    assert len(captured.captured_queries) == 3
    client.force_login(reviewer)
    assert client.get("/api/datasets/pets/agreement/").json()["status"] == overview["status"]


def test_images_without_a_consensus_row_count_as_pending(team):
    dataset = workbench_dataset(slug="quiet", images=4, annotators=team)
    assert live_status_counts(dataset) == {"pending": 4, "agreed": 0, "disputed": 0, "adjudicated": 0}


@pytest.mark.django_db(transaction=True)
def test_the_row_stays_exact_under_concurrent_submits_and_decisions():
    n, images, workers = 2, 24, 8
    dataset = workbench_dataset(images=images, annotations_per_image=n, candidates_per_image=2)
    users = [UserFactory(username=f"member{i}") for i in range(workers)]
    dataset.annotators.add(*users)
    reviewer = UserFactory(username="rev", is_staff=True)

    def annotate(user, seed: int) -> None:
        rng = random.Random(seed)
        while (lease := lease_next(dataset=dataset, annotator=user)) is not None:
            answer = Answer(classes=[c for c in lease.shown if rng.random() < 0.5] or lease.shown[:1])
            annotation_submit(annotator=user, image_id=lease.image_id, answer=answer, client_uuid=uuid.uuid4())

    run_at_once(annotate, [(user, i) for i, user in enumerate(users)])
    assert kept(dataset) == counted(dataset)
    assert kept(dataset)["agreed"] + kept(dataset)["disputed"] == images

    disputed = list(Consensus.objects.filter(dataset=dataset, status="disputed").values_list("image_id", flat=True))
    agreed = list(Consensus.objects.filter(dataset=dataset, status="agreed").values_list("image_id", flat=True))

    def decide(kind: str, image_id: int) -> None:
        if kind == "exclude":
            adjudication_exclude(image_id=image_id, reviewer=reviewer, reason="ambiguous")
        elif kind == "more":
            review_request_more(image_id=image_id, reviewer=reviewer)
        else:
            consensus_recompute_dataset(dataset=dataset)

    decisions = [("exclude", i) for i in disputed[:4]] + [("more", i) for i in agreed[:4]] + [("recompute", 0)] * 2
    run_at_once(decide, decisions)
    assert kept(dataset) == counted(dataset)
    # The images asked more of go back to annotators: submit them at once too.
    run_at_once(annotate, [(user, 100 + i) for i, user in enumerate(users)])
    assert kept(dataset) == counted(dataset) and kept(dataset)["pending"] == 0


def test_the_migration_fills_the_rows_of_datasets_that_already_exist(team, reviewer):
    import importlib

    fill = importlib.import_module("annotator.migrations.0021_dataset_counts").FILL
    pets = review_dataset(team)
    adjudication_set(image_id=image_at(pets, 0).pk, reviewer=reviewer, labels=[class_at(pets, 1).pk])
    quiet = workbench_dataset(slug="quiet", images=3, annotators=team)
    expected = {d.pk: counted(d) for d in (pets, quiet)}
    DatasetCounts.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(fill)
    assert {d.pk: kept(d) for d in (pets, quiet)} == expected
