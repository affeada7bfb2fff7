"""The demo data: photos with candidates, and simulated raters whose answers fill the dashboard and queue."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from annotator.models import Annotation, Consensus
from annotator.services.assignment import image_skip, lease_next
from annotator.services.demo import demo_annotators_assign, demo_answers_simulate, demo_dataset_load, demo_users_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    dataset, _ = demo_dataset_load()
    demo_users_create()
    demo_annotators_assign(dataset=dataset)
    return dataset


def test_simulated_raters_leave_two_disputed_one_flagged_one_agreed_and_three_photos_for_people(demo):
    assert demo_answers_simulate(dataset=demo) == 12
    status = dict(Consensus.objects.filter(dataset=demo).values_list("image__key", "status"))
    assert status == {
        "astronaut.jpg": "disputed",
        "chelsea.jpg": "disputed",
        "coffee.jpg": "agreed",
        "hubble_deep_field.jpg": "disputed",
    }
    hubble = Consensus.objects.get(dataset=demo, image__key="hubble_deep_field.jpg")
    assert hubble.bad_image_count == 1 and hubble.none_fits_count == 2
    coffee = Consensus.objects.get(dataset=demo, image__key="coffee.jpg")
    assert len(coffee.labels) == 2  # espresso and cup: a multi-label image

    person = get_user_model().objects.get(username="annotator")
    open_keys = set()
    while (lease := lease_next(dataset=demo, annotator=person)) is not None:
        open_keys.add(lease.image.key)
        image_skip(image_id=lease.image_id, annotator=person)
    assert open_keys == {"camera.jpg", "retina.jpg", "rocket.jpg"}


def test_simulating_again_writes_nothing(demo):
    demo_answers_simulate(dataset=demo)
    assert demo_answers_simulate(dataset=demo) == 0
    assert Annotation.objects.filter(dataset=demo).count() == 12
