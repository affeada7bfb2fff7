"""Handing out images: every assignment rule, and the hand-out under 20 concurrent annotators."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone

from annotator.models import Annotation, Candidate, Image, Lease
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import (
    AssignmentError,
    dataset_overlap_raise,
    image_request_more,
    image_skip,
    lease_next,
    leases_reclaim_expired,
)
from tests.builders.annotations import workbench_dataset
from tests.builders.users import UserFactory
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db


def _annotate(dataset, user, **answer) -> Annotation:
    lease = lease_next(dataset=dataset, annotator=user)
    assert lease is not None
    annotation, _ = annotation_submit(
        annotator=user, image_id=lease.image_id, answer=Answer(**(answer or {"unsure": True})), client_uuid=uuid.uuid4()
    )
    return annotation


def _members(dataset, count: int) -> list:
    users = [UserFactory(username=f"member{i}") for i in range(count)]
    dataset.annotators.add(*users)
    return users


def _position(lease: Lease) -> int:
    return Image.objects.get(pk=lease.image_id).position


def test_the_first_image_handed_out_is_the_first_by_position(annotator):
    dataset = workbench_dataset(annotators=[annotator])
    lease = lease_next(dataset=dataset, annotator=annotator)
    assert _position(lease) == 0
    assert lease.expires_at - timezone.now() == pytest.approx(settings.RELABEL_LEASE_DURATION, abs=timedelta(seconds=5))
    assert Image.objects.get(pk=lease.image_id).lease_count == 1


def test_asking_again_returns_the_image_already_held_so_a_reload_shows_the_same_image(annotator):
    dataset = workbench_dataset(annotators=[annotator])
    first = lease_next(dataset=dataset, annotator=annotator)
    again = lease_next(dataset=dataset, annotator=annotator)
    assert again.pk == first.pk and again.expires_at >= first.expires_at
    assert Lease.objects.count() == 1


def test_a_prefetch_excluding_the_image_on_screen_holds_one_more_and_no_more_than_two(annotator):
    dataset = workbench_dataset(annotators=[annotator])
    current = lease_next(dataset=dataset, annotator=annotator)
    prefetched = lease_next(dataset=dataset, annotator=annotator, exclude=[current.image_id])
    assert prefetched.image_id != current.image_id
    with pytest.raises(AssignmentError, match="already hold 2 images"):
        lease_next(dataset=dataset, annotator=annotator, exclude=[current.image_id, prefetched.image_id])


def test_an_annotator_never_gets_the_same_image_twice(annotator):
    dataset = workbench_dataset(images=4, annotators=[annotator])
    seen = [_annotate(dataset, annotator).image_id for _ in range(4)]
    assert len(set(seen)) == 4
    assert lease_next(dataset=dataset, annotator=annotator) is None


def test_nobody_gets_an_image_that_has_n_completed_annotations(annotator):
    dataset = workbench_dataset(images=2, annotations_per_image=2)
    first, second, third = _members(dataset, 3)
    done = _annotate(dataset, first).image_id
    assert _annotate(dataset, second).image_id == done  # closest to completion comes first
    assert Image.objects.get(pk=done).annotation_count == 2
    assert lease_next(dataset=dataset, annotator=third).image_id != done


def test_nobody_gets_an_image_whose_live_leases_would_reach_n():
    dataset = workbench_dataset(images=2, annotations_per_image=2)
    first, second, third = _members(dataset, 3)
    a = lease_next(dataset=dataset, annotator=first)
    b = lease_next(dataset=dataset, annotator=second)
    assert a.image_id == b.image_id
    assert lease_next(dataset=dataset, annotator=third).image_id != a.image_id


def test_an_expired_lease_returns_the_image_to_the_pool():
    dataset = workbench_dataset(images=1, annotations_per_image=1)
    first, second = _members(dataset, 2)
    lease = lease_next(dataset=dataset, annotator=first)
    assert lease_next(dataset=dataset, annotator=second) is None
    later = timezone.now() + settings.RELABEL_LEASE_DURATION + timedelta(seconds=1)
    taken = lease_next(dataset=dataset, annotator=second, now=later)
    assert taken.image_id == lease.image_id
    assert not Lease.objects.filter(annotator=first).exists()
    assert Image.objects.get(pk=lease.image_id).lease_count == 1


def test_reclaiming_expired_leases_only_frees_expired_ones():
    dataset = workbench_dataset(images=3)
    first, second = _members(dataset, 2)
    old = lease_next(dataset=dataset, annotator=first)
    Lease.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    lease_next(dataset=dataset, annotator=second, exclude=[])
    assert leases_reclaim_expired(dataset=dataset) == 0  # already reclaimed by the hand-out above
    assert list(Lease.objects.values_list("annotator", flat=True)) == [second.pk]
    assert sum(Image.objects.values_list("lease_count", flat=True)) == 1


def test_images_are_ordered_requested_first_then_closest_to_completion_then_position():
    dataset = workbench_dataset(images=5, annotations_per_image=3)
    helper, me = _members(dataset, 2)
    images = list(Image.objects.filter(dataset=dataset).order_by("position"))
    _annotate(dataset, helper)  # position 0 now needs 2 more; the rest need 3
    image_request_more(image_id=images[3].pk)  # position 3 needs 4 more but was asked for
    image_request_more(image_id=images[4].pk, now=timezone.now() + timedelta(seconds=1))
    order = []
    for _ in range(5):
        annotation = _annotate(dataset, me)
        order.append(Image.objects.get(pk=annotation.image_id).position)
    assert order == [3, 4, 0, 1, 2]


def test_raising_n_for_a_dataset_reopens_complete_images_and_lowering_it_is_refused():
    dataset = workbench_dataset(images=1, annotations_per_image=1)
    first, second = _members(dataset, 2)
    _annotate(dataset, first)
    assert lease_next(dataset=dataset, annotator=second) is None
    assert dataset_overlap_raise(dataset=dataset, annotations_per_image=2) == 1
    assert lease_next(dataset=dataset, annotator=second) is not None
    with pytest.raises(AssignmentError, match="only be raised"):
        dataset_overlap_raise(dataset=dataset, annotations_per_image=1)


def test_a_reviewer_request_raises_n_for_one_image_and_marks_it():
    dataset = workbench_dataset(images=2, annotations_per_image=1)
    first, second = _members(dataset, 2)
    done = _annotate(dataset, first).image_id
    image = image_request_more(image_id=done, extra=2)
    assert (image.annotations_needed, image.extra_annotations) == (3, 2) and image.more_requested_at is not None
    assert lease_next(dataset=dataset, annotator=second).image_id == done
    dataset_overlap_raise(dataset=dataset, annotations_per_image=2)
    assert Image.objects.get(pk=done).annotations_needed == 4


def test_a_skipped_image_goes_back_to_the_pool_but_never_to_the_same_annotator(annotator, second_annotator):
    dataset = workbench_dataset(images=1, annotators=[annotator, second_annotator])
    lease = lease_next(dataset=dataset, annotator=annotator)
    image_skip(image_id=lease.image_id, annotator=annotator)
    assert Image.objects.get(pk=lease.image_id).lease_count == 0
    assert lease_next(dataset=dataset, annotator=annotator) is None
    assert lease_next(dataset=dataset, annotator=second_annotator).image_id == lease.image_id
    with pytest.raises(AssignmentError, match="not leased to you"):
        image_skip(image_id=lease.image_id, annotator=annotator)


def test_the_database_refuses_counters_past_what_an_image_needs():
    dataset = workbench_dataset(images=1, annotations_per_image=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Image.objects.filter(dataset=dataset).update(lease_count=2)


def test_candidates_are_shown_in_a_stable_order_per_annotator_that_differs_between_annotators():
    dataset = workbench_dataset(images=1, classes=8, candidates_per_image=8, annotations_per_image=6)
    users = _members(dataset, 6)
    image = Image.objects.get(dataset=dataset)
    stored = sorted(Candidate.objects.filter(image=image).values_list("label_class_id", flat=True))
    orders = {}
    for user in users:
        lease = lease_next(dataset=dataset, annotator=user)
        assert lease.image_id == image.pk
        assert lease_next(dataset=dataset, annotator=user).shown == lease.shown  # a reload: same order
        orders[user.pk] = tuple(lease.shown)
    assert all(sorted(order) == stored for order in orders.values())
    assert len(set(orders.values())) > 1
    Lease.objects.filter(annotator=users[0]).delete()  # handed out again (after a reclaim): the same order
    Image.objects.filter(pk=image.pk).update(lease_count=F("lease_count") - 1)
    assert tuple(lease_next(dataset=dataset, annotator=users[0]).shown) == orders[users[0].pk]


def test_without_stored_candidates_the_original_label_alone_is_shown(annotator):
    dataset = workbench_dataset(images=2, candidates_per_image=0, annotators=[annotator])
    Image.objects.filter(dataset=dataset, position=1).update(original_label=None)
    first = lease_next(dataset=dataset, annotator=annotator)
    assert first.shown == [Image.objects.get(pk=first.image_id).original_label_id]
    assert lease_next(dataset=dataset, annotator=annotator, exclude=[first.image_id]).shown == []


def test_handing_out_an_image_takes_a_fixed_number_of_queries(annotator, django_assert_max_num_queries):
    dataset = workbench_dataset(images=30, candidates_per_image=3, annotators=[annotator])
    for _ in range(5):
        _annotate(dataset, annotator)
    # One call of relabel_lease_next: reclaim, held leases, pick and insert (with the image and its shown classes).
    with django_assert_max_num_queries(1):
        lease_next(dataset=dataset, annotator=annotator)


@pytest.mark.django_db(transaction=True)
def test_twenty_annotators_asking_at_once_never_push_an_image_past_n():
    n, images, workers = 3, 12, 20
    dataset = workbench_dataset(images=images, annotations_per_image=n)
    users = _members(dataset, workers)

    def work(user) -> None:
        while (lease := lease_next(dataset=dataset, annotator=user)) is not None:
            annotation_submit(
                annotator=user, image_id=lease.image_id, answer=Answer(unsure=True), client_uuid=uuid.uuid4()
            )

    run_at_once(work, [(user,) for user in users])
    counts = dict(Image.objects.filter(dataset=dataset).values_list("pk", "annotation_count"))
    assert set(counts.values()) == {n}
    per_image = Annotation.objects.values("image").annotate(total=Count("id"))
    assert {row["image"]: row["total"] for row in per_image} == counts
    assert not Lease.objects.exists() and set(Image.objects.values_list("lease_count", flat=True)) == {0}


def test_an_admin_assigns_annotators_and_raises_n_in_the_admin(admin_client, annotator):
    dataset = workbench_dataset(images=2, annotations_per_image=2)
    url = f"/admin/annotator/dataset/{dataset.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data["annotators"] = [annotator.pk]
    assert admin_client.post(url, {**data, "annotations_per_image": "1"}).status_code == 200  # refused, form shown
    assert admin_client.post(url, {**data, "annotations_per_image": "4"}).status_code == 302
    assert list(dataset.annotators.all()) == [annotator]
    assert set(Image.objects.filter(dataset=dataset).values_list("annotations_needed", flat=True)) == {4}


def _lease_to(dataset, user, position: int) -> Lease:
    """Hand one image to `user` directly (test set-up for queue shapes the hand-out order would not make)."""
    image = Image.objects.get(dataset=dataset, position=position)
    Image.objects.filter(pk=image.pk).update(lease_count=F("lease_count") + 1)
    return Lease.objects.create(
        image=image, annotator=user, dataset=dataset, shown=[], expires_at=timezone.now() + timedelta(minutes=5)
    )


def test_an_annotator_ahead_of_everyone_gets_the_first_fresh_image(annotator, second_annotator):
    # 70 open images the annotator already answered fill the head of the queue (64 are looked at).
    dataset = workbench_dataset(images=80, annotations_per_image=2, annotators=[annotator, second_annotator])
    for _ in range(70):
        _annotate(dataset, annotator)
    assert _position(lease_next(dataset=dataset, annotator=annotator)) == 70
    assert _position(lease_next(dataset=dataset, annotator=second_annotator)) == 0  # the head: closest to done


def test_past_the_head_and_without_fresh_images_the_whole_queue_is_searched(annotator, second_annotator):
    dataset = workbench_dataset(images=70, annotations_per_image=2, annotators=[annotator, second_annotator])
    for _ in range(64):
        _annotate(dataset, annotator)  # positions 0-63
    for position in range(64, 70):  # the others, answered by someone else: no fresh image is left
        lease = _lease_to(dataset, second_annotator, position)
        annotation_submit(
            annotator=second_annotator, image_id=lease.image_id, answer=Answer(unsure=True), client_uuid=uuid.uuid4()
        )
    assert _position(lease_next(dataset=dataset, annotator=annotator)) == 64
    held = Lease.objects.get(annotator=annotator).image_id
    assert _position(lease_next(dataset=dataset, annotator=annotator, exclude=[held])) == 65
