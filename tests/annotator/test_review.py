"""Review services: adjudicate, revise, exclude, revert, ask for more annotations; metrics follow decisions."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.db import IntegrityError, InternalError, transaction

from annotator.models import Adjudication, Consensus
from annotator.roles import ANNOTATOR, REVIEWER
from annotator.selectors.review import adjudication_history
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import lease_next
from annotator.services.review import (
    ReviewError,
    adjudication_exclude,
    adjudication_revert,
    adjudication_set,
    review_request_more,
)
from evaluation.selectors.label_pools import consensus_label_pool
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.snapshots import metric_snapshot_compute
from tests.builders.review import class_at, image_at, review_dataset
from tests.builders.users import UserFactory
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def pets(team):
    return review_dataset(team)


def _consensus(image) -> Consensus:
    return Consensus.objects.get(image=image)


def test_the_plan_makes_three_disputed_and_two_agreed_images(pets):
    statuses = [_consensus(image_at(pets, p)).status for p in range(5)]
    assert statuses == ["disputed", "disputed", "agreed", "disputed", "agreed"]


def test_an_adjudication_overrides_the_consensus_and_records_who_when_and_the_sets(pets, reviewer):
    image = image_at(pets, 0)
    computed = _consensus(image).labels
    c0, c2 = class_at(pets, 0).pk, class_at(pets, 2).pk
    adjudication, _ = adjudication_set(image_id=image.pk, reviewer=reviewer, labels=[c2, c0], note="  both visible ")
    consensus = _consensus(image)
    assert (consensus.status, consensus.adjudicated, consensus.excluded) == ("adjudicated", True, False)
    assert consensus.labels == sorted([c0, c2])
    assert adjudication.reviewer == reviewer and adjudication.created_at is not None
    assert adjudication.action == "set" and adjudication.note == "both visible"
    assert (adjudication.status_before, adjudication.labels_before) == ("disputed", computed)
    assert (adjudication.status_after, adjudication.labels_after) == ("adjudicated", sorted([c0, c2]))


def test_a_revision_appends_to_the_history_which_reads_oldest_first(pets, reviewer, staff):
    image = image_at(pets, 0)
    c0, c1 = class_at(pets, 0).pk, class_at(pets, 1).pk
    first, _ = adjudication_set(image_id=image.pk, reviewer=reviewer, labels=[c0])
    second, _ = adjudication_set(image_id=image.pk, reviewer=staff, labels=[c0, c1], note="a second look")
    assert second.labels_before == first.labels_after == [c0]
    assert _consensus(image).labels == sorted([c0, c1])
    history = adjudication_history(image)
    assert [(h["reviewer"], h["action"]) for h in history] == [("rita", "set"), ("sam", "set")]
    assert [c["id"] for c in history[1]["labels_after"]] == sorted([c0, c1])


@pytest.mark.parametrize(("reason", "action"), [("bad", "exclude-bad"), ("ambiguous", "exclude-ambiguous")])
def test_marking_an_image_bad_or_ambiguous_empties_its_set_and_excludes_it(pets, reviewer, reason, action):
    image = image_at(pets, 1)
    adjudication, _ = adjudication_exclude(image_id=image.pk, reviewer=reviewer, reason=reason)
    consensus = _consensus(image)
    assert (consensus.status, consensus.adjudicated, consensus.excluded, consensus.labels) == (
        "adjudicated", True, True, []
    )  # fmt: skip
    assert adjudication.action == action and adjudication.labels_after == []


def test_a_revert_restores_the_computed_consensus(pets, reviewer):
    image = image_at(pets, 3)
    computed = _consensus(image)
    adjudication_exclude(image_id=image.pk, reviewer=reviewer, reason="ambiguous")
    revert, _ = adjudication_revert(image_id=image.pk, reviewer=reviewer, note="too hasty")
    consensus = _consensus(image)
    assert (consensus.status, consensus.labels) == (computed.status, computed.labels) == ("disputed", computed.labels)
    assert (consensus.adjudicated, consensus.excluded) == (False, False)
    assert (revert.action, revert.status_before, revert.labels_before) == ("revert", "adjudicated", [])
    assert (revert.status_after, revert.labels_after) == ("disputed", computed.labels)
    assert consensus.updated_at > computed.updated_at


def test_reverting_an_image_without_adjudication_is_refused(pets, reviewer):
    with pytest.raises(ReviewError, match="no adjudication to revert"):
        adjudication_revert(image_id=image_at(pets, 0).pk, reviewer=reviewer)
    assert not Adjudication.objects.exists()


def test_classes_outside_the_vocabulary_or_listed_twice_are_refused_and_nothing_changes(pets, team, reviewer):
    other = review_dataset(team, slug="birds")
    image = image_at(pets, 0)
    before = _consensus(image)
    with pytest.raises(ReviewError, match="not in this dataset's vocabulary"):
        adjudication_set(image_id=image.pk, reviewer=reviewer, labels=[class_at(other, 0).pk])
    with pytest.raises(ReviewError, match="listed twice"):
        adjudication_set(image_id=image.pk, reviewer=reviewer, labels=[class_at(pets, 0).pk] * 2)
    with pytest.raises(ReviewError, match="bad or ambiguous"):
        adjudication_exclude(image_id=image.pk, reviewer=reviewer, reason="ugly")
    assert _consensus(image).updated_at == before.updated_at and not Adjudication.objects.exists()


def test_the_audit_trail_refuses_updates(pets, reviewer):
    adjudication, _ = adjudication_set(image_id=image_at(pets, 0).pk, reviewer=reviewer, labels=[])
    with pytest.raises(InternalError, match="append-only"), transaction.atomic():
        Adjudication.objects.filter(pk=adjudication.pk).update(note="rewritten")
    with pytest.raises(IntegrityError), transaction.atomic():
        Adjudication.objects.create(
            image=adjudication.image, dataset=pets, reviewer=reviewer, action="exclude-bad",
            status_before="disputed", status_after="adjudicated", labels_after=[class_at(pets, 0).pk],
        )  # fmt: skip


def test_asking_for_more_puts_the_image_first_in_the_queue_of_another_annotator(pets, reviewer):
    image = image_at(pets, 3)
    newcomer = UserFactory(username="dora")
    newcomer.groups.add(Group.objects.get(name=ANNOTATOR))
    pets.annotators.add(newcomer)
    request, _ = review_request_more(image_id=image.pk, reviewer=reviewer, extra=2, note="need more eyes")
    image.refresh_from_db()
    consensus = _consensus(image)
    assert (image.annotations_needed, image.extra_annotations, image.more_requested_at is not None) == (5, 2, True)
    assert consensus.status == "pending" and not consensus.adjudicated
    assert (request.action, request.status_before, request.status_after) == ("more", "disputed", "pending")
    assert lease_next(dataset=pets, annotator=newcomer).image_id == image.pk


def test_an_adjudication_stands_when_more_annotations_arrive_until_it_is_reverted(pets, team, reviewer):
    image = image_at(pets, 0)
    c3 = class_at(pets, 3).pk
    adjudication_set(image_id=image.pk, reviewer=reviewer, labels=[c3])
    review_request_more(image_id=image.pk, reviewer=reviewer)
    newcomer = UserFactory(username="dora")
    newcomer.groups.add(Group.objects.get(name=ANNOTATOR))
    pets.annotators.add(newcomer)
    lease = lease_next(dataset=pets, annotator=newcomer)
    assert lease.image_id == image.pk
    annotation_submit(
        annotator=newcomer, image_id=image.pk, answer=Answer(classes=[class_at(pets, 1).pk]), client_uuid=uuid.uuid4()
    )
    consensus = _consensus(image)
    assert (consensus.status, consensus.labels, consensus.annotation_count) == ("adjudicated", [c3], 4)
    adjudication_revert(image_id=image.pk, reviewer=reviewer)
    consensus = _consensus(image)
    assert consensus.status in ("agreed", "disputed") and consensus.labels == consensus.majority_labels


def test_metrics_use_the_adjudicated_set_and_skip_excluded_images(pets, reviewer):
    c = {i: class_at(pets, i) for i in range(4)}
    pool = consensus_label_pool(pets)
    assert pool.size == 5
    adjudication_set(image_id=image_at(pets, 0).pk, reviewer=reviewer, labels=[c[2].pk, c[3].pk])
    adjudication_exclude(image_id=image_at(pets, 1).pk, reviewer=reviewer, reason="bad")
    pool = consensus_label_pool(pets)
    lists = [pool.indices[pool.indptr[i] : pool.indptr[i + 1]].tolist() for i in range(5)]
    assert pool.size == 4 and lists[0] == [2, 3] and lists[1] == []

    # A model whose top-1 is class 3 everywhere is right on image 0 only by the adjudicated set.
    keys = list(pets.images.order_by("position").values_list("key", flat=True))
    rows = "image,top5\n" + "".join(f"{key},3 1\n" for key in keys)
    model = prediction_set_create(dataset=pets, name="threes", source=ContentFile(rows.encode(), name="t.csv"))
    values = metric_snapshot_compute(prediction_set=model, label_pool=pool).values
    assert values["n_evaluated_multilabel"] == 4  # image 1 is excluded, so it is not evaluated
    expected = [lists[i] for i in range(5) if i != 1]
    assert values["real_at_1"] == pytest.approx(sum(3 in y for y in expected) / 4)


@pytest.mark.django_db(transaction=True)
def test_concurrent_adjudications_of_one_image_serialise_into_a_consistent_trail(team, reviewer, staff):
    for name in (ANNOTATOR, REVIEWER):
        Group.objects.get_or_create(name=name)
    pets = review_dataset(team)
    image = image_at(pets, 0)
    sets = [[class_at(pets, i).pk] for i in range(4)]
    run_at_once(
        lambda user, labels: adjudication_set(image_id=image.pk, reviewer=user, labels=labels),
        [(reviewer, sets[0]), (staff, sets[1]), (reviewer, sets[2]), (staff, sets[3])],
    )
    trail = list(Adjudication.objects.filter(image=image).order_by("created_at", "id"))
    assert len(trail) == 4
    for earlier, later in zip(trail, trail[1:], strict=False):
        assert later.labels_before == earlier.labels_after
    assert _consensus(image).labels == trail[-1].labels_after


def test_an_image_nobody_annotated_yet_can_be_adjudicated_and_reverted_to_pending(pets, reviewer):
    from tests.builders.datasets import ImageFactory

    image = ImageFactory(dataset=pets, position=99, original_label=class_at(pets, 0))
    assert not Consensus.objects.filter(image=image).exists()
    adjudication, _ = adjudication_set(image_id=image.pk, reviewer=reviewer, labels=[class_at(pets, 0).pk])
    assert (adjudication.status_before, adjudication.labels_before) == ("pending", [])
    assert _consensus(image).labels == [class_at(pets, 0).pk]
    adjudication_revert(image_id=image.pk, reviewer=reviewer)
    assert (_consensus(image).status, _consensus(image).labels) == ("pending", [])


def test_a_retried_decision_with_the_same_client_uuid_is_recorded_once(pets, reviewer):
    image, c0 = image_at(pets, 0), class_at(pets, 0).pk
    key = uuid.uuid4()
    first, created = adjudication_set(image_id=image.pk, reviewer=reviewer, labels=[c0], client_uuid=key)
    again, created_again = adjudication_set(image_id=image.pk, reviewer=reviewer, labels=[c0], client_uuid=key)
    assert again.pk == first.pk and (created, created_again) == (True, False)
    more_key = uuid.uuid4()
    review_request_more(image_id=image.pk, reviewer=reviewer, client_uuid=more_key)
    review_request_more(image_id=image.pk, reviewer=reviewer, client_uuid=more_key)
    image.refresh_from_db()
    assert image.extra_annotations == 1, "a retried request for more annotations raised the overlap twice"
    assert Adjudication.objects.filter(image=image).count() == 2
    with pytest.raises(ReviewError, match="already used"):
        adjudication_revert(image_id=image_at(pets, 1).pk, reviewer=reviewer, client_uuid=key)
