"""Adaptive redundancy in the workbench: after two annotators, a contested image goes to a third one, showing only
its undecided candidates, and a clear one does not."""

from __future__ import annotations

import uuid

import pytest

from annotator.models import Annotation, Consensus, Image, Lease
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import dataset_redundancy_set, lease_next
from tests.browser.conftest import screenshot
from tests.builders.users import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_adaptive_dataset_hands_a_contested_image_to_a_third_annotator_and_not_a_clear_one(
    signed_in, url, annotator, photo_dataset
):
    Image.objects.filter(dataset=photo_dataset, position__gte=2).delete()
    dataset_redundancy_set(dataset=photo_dataset, redundancy="adaptive", minimum=2, maximum=5)
    clear, contested = Image.objects.filter(dataset=photo_dataset).order_by("position")
    first, second = UserFactory(username="first"), UserFactory(username="second")
    photo_dataset.annotators.add(first, second)
    for user in (first, second):
        for _ in range(2):
            lease = lease_next(dataset=photo_dataset, annotator=user)
            assert lease is not None
            original = Image.objects.get(pk=lease.image_id).original_label_id
            # the clear image: both choose its label; the contested one: the second annotator another candidate
            if lease.image_id == clear.pk or user == first:
                chosen = [original]
            else:
                chosen = [next(c for c in lease.shown if c != original)]
            annotation_submit(annotator=user, image_id=lease.image_id, answer=Answer(classes=chosen),
                              client_uuid=uuid.uuid4())  # fmt: skip
    clear.refresh_from_db()
    contested.refresh_from_db()
    assert (clear.annotation_count, clear.annotations_needed) == (2, 2)
    assert (contested.annotation_count, contested.annotations_needed) == (2, 3)
    undecided = Consensus.objects.get(image=contested).open_classes
    asked_before = len(Annotation.objects.get(image=contested, annotator=first).shown)
    assert 2 == len(undecided) < asked_before  # the other candidates were settled by two "no"s

    page = signed_in(annotator)
    page.goto(url(f"/datasets/{photo_dataset.slug}/annotate/"))
    page.wait_for_selector("#workbench[data-ready=true]")
    assert page.inner_text("#wb-filename") == contested.key
    shown = [int(c) for c in page.eval_on_selector_all(".wb-candidate", "nodes => nodes.map(n => n.dataset.class)")]
    assert sorted(shown) == sorted(undecided)
    screenshot(page, "adaptive-third-annotator")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('wb-placeholder').textContent === 'All done.'")
    assert page.is_visible("#wb-banner") and "Nothing is left" in page.inner_text("#wb-banner")

    mine = Annotation.objects.get(annotator=annotator)
    assert mine.image_id == contested.pk and sorted(mine.shown) == sorted(undecided)
    assert not Lease.objects.filter(image=clear).exists()
    clear.refresh_from_db()
    assert clear.annotation_count == 2
