"""The API's one error contract: every refusal, whoever makes it (a serializer, a service, DRF itself, the
middleware, the error pages, the login lockout), answers {"detail", "code", "fields"?, "rows"?}, and the
published schema says so for every operation."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from annotator.services.assignment import lease_next
from config.api_errors import ERROR_SCHEMA
from tests.builders.annotations import workbench_dataset
from tests.error_contract import assert_error_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def pets(annotator):
    return workbench_dataset(slug="pets", images=4, candidates_per_image=2, annotators=[annotator])


def _as(user) -> APIClient:  # noqa: ANN001
    client = APIClient(raise_request_exception=False)
    client.force_login(user)
    return client


def _submit(client: APIClient, **body: object):
    return client.post("/api/annotations/", {"client_uuid": str(uuid.uuid4()), **body}, format="json")


def _third_lease(world: dict):
    """Next, while the annotator already holds two images."""
    first = lease_next(dataset=world["pets"], annotator=world["annotator"])
    second = lease_next(dataset=world["pets"], annotator=world["annotator"], exclude={first.image_id})
    body = {"exclude": [first.image_id, second.image_id]}
    return _as(world["annotator"]).post("/api/datasets/pets/next/", body, format="json")


DEEP = "[" * 3000 + "]" * 3000
# name → (request, expected status, expected code, a piece of `detail`, the fields named)
Probe = Callable[[dict], object]
REFUSALS: dict[str, tuple[Probe, int, str, str, set[str]]] = {
    "a serializer's field errors": (
        lambda w: _submit(_as(w["annotator"]), image="seven", seconds=-1),
        400, "invalid", "image: A valid integer is required.", {"image", "seconds"},
    ),
    "a nested field error": (
        lambda w: _submit(_as(w["annotator"]), image=w["image"], classes=[1, "x"]),
        400, "invalid", "classes.1: A valid integer is required.", {"classes.1"},
    ),
    "a body that is not an object": (
        lambda w: _as(w["annotator"]).post("/api/annotations/", [1, 2], format="json"),
        400, "invalid", "Invalid data. Expected a dictionary, but got list.", {"non_field_errors"},
    ),
    "a service's refusal": (
        lambda w: _submit(_as(w["annotator"]), image=w["image"], unsure=True),
        400, "invalid", "not leased to you", set(),
    ),
    "malformed JSON": (
        lambda w: _as(w["annotator"]).post("/api/annotations/", "{", content_type="application/json"),
        400, "parse_error", "JSON parse error", set(),
    ),
    "JSON nested too deep": (
        lambda w: _as(w["annotator"]).post("/api/annotations/", DEEP, content_type="application/json"),
        400, "parse_error", "nested more than", set(),
    ),
    "a release's parameters": (
        lambda w: _as(w["researcher"]).post("/api/datasets/pets/releases/", {"threshold": 7}, format="json"),
        400, "invalid", "threshold: Ensure this value is less than or equal to 1.0.", {"threshold"},
    ),
    "a review decision": (
        lambda w: _as(w["reviewer"]).post(
            f"/api/images/{w['image']}/adjudications/", {"action": "set", "labels": [w["class"], w["class"]]},
            format="json",
        ),
        400, "invalid", "a class is listed twice", set(),
    ),
    "an integer query parameter out of range (the middleware)": (
        lambda w: _as(w["annotator"]).get("/api/annotations/?limit=100000"),
        400, "invalid", "limit must be a whole number from 1 to 500", set(),
    ),
    "a NUL character (the middleware)": (
        lambda w: _as(w["annotator"]).get("/api/annotations/?dataset=a%00b"),
        400, "invalid", "contains a NUL character", set(),
    ),
    "nobody signed in": (
        lambda w: APIClient().get("/api/datasets/pets/progress/"),
        403, "not_authenticated", "Authentication credentials were not provided.", set(),
    ),
    "a wrong token": (
        lambda w: APIClient().get("/api/datasets/pets/progress/", HTTP_AUTHORIZATION="Token nope"),
        403, "authentication_failed", "Invalid token.", set(),
    ),
    "a role the endpoint needs": (
        lambda w: _as(w["reviewer"]).get("/api/datasets/pets/progress/"),
        403, "permission_denied", "You do not have permission", set(),
    ),
    "a dataset one does not annotate": (
        lambda w: _as(w["second_annotator"]).get("/api/datasets/pets/progress/"),
        403, "permission_denied", "You do not have permission", set(),
    ),
    "an object that does not exist": (
        lambda w: _as(w["annotator"]).get("/api/annotations/987654/"),
        404, "not_found", "No Annotation matches the given query.", set(),
    ),
    "a path no route takes (Django's 404)": (
        lambda w: _as(w["annotator"]).get("/api/nothing-here/"),
        404, "not_found", "Not found.", set(),
    ),
    "a method the endpoint lacks": (
        lambda w: _as(w["annotator"]).delete("/api/annotations/"),
        405, "method_not_allowed", 'Method "DELETE" not allowed.', set(),
    ),
    "a media type the endpoint does not read": (
        lambda w: _as(w["annotator"]).post("/api/annotations/", "<a/>", content_type="application/xml"),
        415, "unsupported_media_type", 'Unsupported media type "application/xml"', set(),
    ),
    "a second lease while holding two": (
        _third_lease,
        409, "conflict", "submit or skip", set(),
    ),
    "a body over the limit (the middleware)": (
        lambda w: _as(w["annotator"]).post(
            "/api/annotations/", "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), content_type="application/json"
        ),
        413, "too_large", "larger than the limit of 10 MiB", set(),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_every_kind_of_refusal_has_the_one_error_body(case, pets, annotator, second_annotator, reviewer, researcher):
    probe, status, code, detail, fields = REFUSALS[case]
    image = pets.images.order_by("position").first()
    world = {
        "annotator": annotator, "second_annotator": second_annotator, "reviewer": reviewer,
        "researcher": researcher, "pets": pets, "image": image.pk, "class": pets.classes.first().pk,
    }  # fmt: skip
    response = probe(world)
    assert response.status_code == status, response.content[:300]
    assert_error_body(response, case)
    body = response.json()
    assert body["code"] == code and detail in body["detail"], body
    assert set(body.get("fields", {})) == fields, body


def test_the_login_lockout_of_the_token_endpoint_has_the_one_error_body(annotator):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/api/token/", {"username": annotator.username, "password": "wrong"})
    response = Client().post("/api/token/", {"username": annotator.username, "password": "wrong"})
    assert response.status_code == 429
    assert_error_body(response)
    assert response.json()["code"] == "locked_out"


def test_the_schema_gives_every_operation_the_error_body_for_its_refusals(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["components"]["schemas"]["Error"] == ERROR_SCHEMA
    operations = [
        (f"{method.upper()} {path}", operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) > 20
    ref = {"$ref": "#/components/schemas/Error"}
    for name, operation in operations:
        refusals = {code: r for code, r in operation["responses"].items() if code.startswith("4")}
        assert "4XX" in refusals, name
        assert all(r["content"] == {"application/json": {"schema": ref}} for r in refusals.values()), name
