"""The demo data: photos with candidates, and simulated raters whose answers fill the dashboard and queue."""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib.auth import get_user_model

from annotator.models import AgreementSnapshot, Annotation, Consensus
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import image_skip, lease_next
from demo.services.photographs import (
    DEMO_DIR,
    demo_annotators_assign,
    demo_answers_simulate,
    demo_dataset_load,
    demo_users_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    dataset, _ = demo_dataset_load()
    demo_users_create()
    demo_annotators_assign(dataset=dataset)
    return dataset


def test_simulated_raters_leave_two_disputed_one_flagged_one_agreed_and_eleven_images_for_people(demo):
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
    answered = {"astronaut.jpg", "chelsea.jpg", "coffee.jpg", "hubble_deep_field.jpg"}
    every = {entry["file"] for entry in json.loads((DEMO_DIR / "labels.json").read_text())["images"]}
    assert open_keys == every - answered and len(open_keys) == 11


def test_both_demo_annotators_can_label_every_open_image(demo):
    demo_answers_simulate(dataset=demo)
    for username in ("annotator", "annotator2"):
        person = get_user_model().objects.get(username=username)
        labelled = 0
        while (lease := lease_next(dataset=demo, annotator=person)) is not None:
            candidates = [c.label_class_id for c in lease.image.candidates.all()][:1]
            answer = Answer(classes=candidates) if candidates else Answer(none_fits=True)
            annotation_submit(annotator=person, image_id=lease.image_id, answer=answer, client_uuid=uuid.uuid4())
            labelled += 1
        assert labelled == 11, username


def test_the_agreement_figures_exist_as_soon_as_the_demo_is_loaded(demo, client):
    demo_answers_simulate(dataset=demo)
    snapshot = AgreementSnapshot.objects.get(dataset=demo)
    assert snapshot.figures["n_votes"] > 0 and snapshot.figures["binary_alpha"] is not None
    client.force_login(get_user_model().objects.get(username="reviewer"))
    page = client.get("/datasets/demo/agreement/").content.decode()
    assert "No agreement figures yet" not in page and "demo-rater-1" in page
    demo_answers_simulate(dataset=demo)  # nothing new: no second snapshot
    assert AgreementSnapshot.objects.filter(dataset=demo).count() == 1


def test_simulating_again_writes_nothing(demo):
    demo_answers_simulate(dataset=demo)
    assert demo_answers_simulate(dataset=demo) == 0
    assert Annotation.objects.filter(dataset=demo).count() == 12


def test_the_demo_drawings_are_what_draw_py_draws():
    import importlib.util

    from PIL import Image, ImageChops

    spec = importlib.util.spec_from_file_location("demo_draw", DEMO_DIR / "draw.py")
    draw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(draw)
    for name, make in draw.DRAWINGS.items():
        with Image.open(DEMO_DIR / name) as stored:
            assert ImageChops.difference(stored.convert("RGB"), make()).getbbox() is None, name
