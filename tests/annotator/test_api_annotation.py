"""The annotation API end to end: hand-out, submit, retry, revise, bad input, blindness, query counts."""

from __future__ import annotations

import json
import uuid

import pytest
from rest_framework.test import APIClient

from annotator.models import Annotation, AnnotationRevision, Candidate, Image, LabelClass, Lease, Vote
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import lease_next
from tests.builders.annotations import workbench_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(annotator) -> APIClient:
    client = APIClient()
    client.force_login(annotator)
    return client


@pytest.fixture
def pets(annotator, second_annotator):
    members = [annotator, second_annotator]
    return workbench_dataset(slug="pets", images=8, classes=6, candidates_per_image=3, annotators=members)


def _next(client: APIClient, exclude: list[int] | None = None):
    return client.post("/api/datasets/pets/next/", {"exclude": exclude or []}, format="json")


def _submit(client: APIClient, image: int, **fields):
    body = {"image": image, "client_uuid": str(uuid.uuid4()), **fields}
    return client.post("/api/annotations/", body, format="json")


def test_next_hands_out_an_image_with_its_candidates_names_glosses_and_references(client, pets):
    response = _next(client)
    assert response.status_code == 200
    item = response.json()
    assert set(item) == {"image", "candidates", "lease_expires_at"}
    assert item["image"]["file_name"] == "pets_0000.jpg"
    candidate = item["candidates"][0]
    assert set(candidate) == {"id", "key", "name", "synonyms", "gloss", "references"}
    assert candidate["name"].startswith("pets class") and candidate["gloss"] and candidate["synonyms"]
    assert all(ref.startswith("/media/datasets/pets/thumbnails/") for ref in candidate["references"])
    assert _next(client).json()["image"]["id"] == item["image"]["id"]  # a reload shows the same image


def test_next_answers_204_when_nothing_is_left_and_409_when_two_images_are_already_held(client, pets):
    first = _next(client).json()["image"]["id"]
    second = _next(client, [first]).json()["image"]["id"]
    held = _next(client, [first, second])
    assert held.status_code == 409 and "submit or skip" in held.json()["detail"]
    Image.objects.filter(dataset=pets).update(annotations_needed=1, lease_count=0)
    Lease.objects.all().delete()
    Image.objects.filter(dataset=pets).update(annotation_count=1)
    assert _next(client).status_code == 204


def test_submit_stores_votes_and_a_retried_post_returns_the_first_result(client, annotator, pets):
    item = _next(client).json()
    shown = [c["id"] for c in item["candidates"]]
    body = {"image": item["image"]["id"], "classes": shown[:2], "seconds": 3.2, "client_uuid": str(uuid.uuid4())}
    first = client.post("/api/annotations/", body, format="json")
    retry = client.post("/api/annotations/", {**body, "classes": shown[2:]}, format="json")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json() and first.json()["classes"] == shown[:2] and first.json()["shown"] == shown
    assert AnnotationRevision.objects.count() == 1
    assert dict(Vote.objects.values_list("label_class", "answer")) == {shown[0]: "yes", shown[1]: "yes", shown[2]: "no"}


def test_an_annotation_is_read_back_with_its_image_and_candidates_and_revised(client, pets):
    item = _next(client).json()
    created = _submit(client, item["image"]["id"], none_fits=True).json()
    detail = client.get(f"/api/annotations/{created['id']}/").json()
    assert detail["item"]["candidates"] == item["candidates"] and detail["item"]["lease_expires_at"] is None
    searched = LabelClass.objects.exclude(pk__in=created["shown"]).filter(dataset=pets).first().pk
    body = {"classes": [searched], "client_uuid": str(uuid.uuid4())}
    revised = client.put(f"/api/annotations/{created['id']}/", body, format="json")
    assert revised.status_code == 200 and revised.json()["classes"] == [searched] and not revised.json()["none_fits"]
    assert revised.json()["revision_count"] == 2
    listed = client.get("/api/annotations/?dataset=pets").json()
    assert [a["id"] for a in listed] == [created["id"]]


def test_skip_gives_the_image_back_and_the_next_one_is_another(client, pets):
    first = _next(client).json()["image"]["id"]
    assert client.post(f"/api/images/{first}/skip/").status_code == 204
    assert _next(client).json()["image"]["id"] != first


def test_progress_counts_mine_today_mine_in_total_and_the_dataset(client, pets):
    for _ in range(2):
        item = _next(client).json()
        _submit(client, item["image"]["id"], unsure=True)
    progress = client.get("/api/datasets/pets/progress/").json()
    assert progress == {
        "mine_today": 2, "mine_total": 2, "images": 8, "images_complete": 0,
        "annotations_done": 2, "annotations_needed": 24,
    }  # fmt: skip


def test_the_vocabulary_lists_every_class_with_synonyms_and_gloss(client, pets):
    vocabulary = client.get("/api/datasets/pets/vocabulary/").json()
    assert [entry["name"] for entry in vocabulary] == [f"pets class {i}" for i in range(6)]
    assert vocabulary[0]["synonyms"] == ["pets synonym 0"] and vocabulary[0]["key"] == "n00009000"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"classes": ["outside"]}, "not in this dataset's vocabulary"),
        ({"classes": ["first", "first"]}, "chosen more than once"),
        ({"classes": []}, "choose at least one class"),
        ({"classes": ["first"], "none_fits": True}, "cannot be combined"),
        ({"classes": ["first"], "image": "other"}, "not leased to you"),
        ({"classes": ["first"], "image": "foreign"}, "not in a dataset you annotate"),
        ({"classes": ["first"], "client_uuid": "not-a-uuid"}, "client_uuid: Must be a valid UUID"),
        ({"classes": "first"}, "classes: Expected a list"),
        ({"classes": ["first"], "seconds": -1}, "seconds: Ensure this value is greater than or equal to 0"),
    ],
    ids=["outside", "duplicate", "empty", "none-fits-and-classes", "not-leased", "foreign", "uuid", "type", "seconds"],
)
def test_bad_input_gets_a_400_saying_what_is_wrong_and_nothing_is_written(client, pets, fields, message):
    item = _next(client).json()
    foreign = workbench_dataset(slug="birds", images=1)
    values = {
        "first": item["candidates"][0]["id"],
        "outside": foreign.classes.first().pk,
        "other": Image.objects.filter(dataset=pets).exclude(pk=item["image"]["id"]).first().pk,
        "foreign": foreign.images.first().pk,
    }
    body = {"image": item["image"]["id"], "client_uuid": str(uuid.uuid4())}
    for key, value in fields.items():
        body[key] = [values.get(v, v) for v in value] if isinstance(value, list) else values.get(value, value)
    response = client.post("/api/annotations/", body, format="json")
    assert response.status_code == 400 and message in response.json()["detail"], response.json()
    assert not Annotation.objects.exists() and not Vote.objects.exists() and Lease.objects.count() == 1


def test_annotation_is_blind_to_sources_the_original_label_and_other_annotators(client, pets, second_annotator):
    Candidate.objects.filter(image__dataset=pets).update(score=0.987654)
    theirs = lease_next(dataset=pets, annotator=second_annotator)
    annotation_submit(
        annotator=second_annotator, image_id=theirs.image_id, answer=Answer(classes=theirs.shown[:1]),
        client_uuid=uuid.uuid4(),
    )  # fmt: skip
    item = _next(client).json()
    assert item["image"]["id"] == theirs.image_id  # the same image, closest to completion
    created = _submit(client, item["image"]["id"], unsure=True).json()
    texts = [
        json.dumps(item),
        json.dumps(created),
        client.get(f"/api/annotations/{created['id']}/").content.decode(),
        client.get("/api/annotations/?dataset=pets").content.decode(),
        client.get("/datasets/pets/annotate/").content.decode(),
    ]
    for text in texts:
        secrets = ["original_label", "original label", "source", "score", "0.987654", "model", "consensus"]
        for secret in [*secrets, second_annotator.username]:
            assert secret not in text.lower(), (secret, text[:200])
    other = Annotation.objects.get(annotator=second_annotator)
    assert client.get(f"/api/annotations/{other.pk}/").status_code == 404


def test_every_candidate_shows_one_reference_fewer_than_its_class_has_so_none_stands_out(client, annotator):
    dataset = workbench_dataset(slug="pets", images=4, classes=2, candidates_per_image=2, annotators=[annotator])
    item = _next(client).json()  # position 0: its own class has 2 images (itself and one more), the other 2
    assert [len(c["references"]) for c in item["candidates"]] == [1, 1]
    assert Image.objects.get(dataset=dataset, position=0).thumbnail.url not in json.dumps(item)


def test_the_hot_endpoints_take_a_fixed_number_of_queries(client, pets, django_assert_max_num_queries):
    for _ in range(3):
        _submit(client, _next(client).json()["image"]["id"], unsure=True)
    # session, user with roles, dataset with membership; relabel_lease_next (reclaim, held, pick, insert
    # lease); classes with references.
    with django_assert_max_num_queries(5):
        item = _next(client).json()
    # session, user with roles; relabel_annotation_write (lock, replay, membership, lease, vocabulary,
    # annotation, revision, votes, lease to annotation, and the image's votes for the recount); the consensus
    # upsert; the savepoint pair the service's @atomic issues inside a test's transaction.
    with django_assert_max_num_queries(6):
        assert _submit(client, item["image"]["id"], unsure=True).status_code == 201
