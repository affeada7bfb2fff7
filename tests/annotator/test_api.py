"""The annotation API: a role × endpoint permission matrix, the wiring of each operation, and the schema."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotator.models import Annotation, Lease
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import lease_next
from tests.builders.annotations import workbench_dataset

pytestmark = pytest.mark.django_db


@dataclass
class World:
    annotation: Annotation
    lease: Lease


@pytest.fixture
def world(annotator, second_annotator) -> World:
    """`annotator` annotates "pets" (one image answered, one leased); `second_annotator` annotates "birds"."""
    pets = workbench_dataset(slug="pets", candidates_per_image=2, annotators=[annotator])
    workbench_dataset(slug="birds", annotators=[second_annotator])
    answered = lease_next(dataset=pets, annotator=annotator)
    annotation, _ = annotation_submit(
        annotator=annotator, image_id=answered.image_id, answer=Answer(unsure=True), client_uuid=uuid.uuid4()
    )
    return World(annotation=annotation, lease=lease_next(dataset=pets, annotator=annotator))


def _answer(**fields) -> dict:
    return {"classes": [], "unsure": True, "client_uuid": str(uuid.uuid4()), **fields}


# endpoint -> (method, url, body)
ENDPOINTS = {
    "workbench page": lambda w: ("get", "/datasets/pets/annotate/", None),
    "next": lambda w: ("post", "/api/datasets/pets/next/", {"exclude": [w.lease.image_id]}),
    "progress": lambda w: ("get", "/api/datasets/pets/progress/", None),
    "vocabulary": lambda w: ("get", "/api/datasets/pets/vocabulary/", None),
    "my annotations": lambda w: ("get", "/api/annotations/?dataset=pets", None),
    "submit": lambda w: ("post", "/api/annotations/", _answer(image=w.lease.image_id)),
    "read mine": lambda w: ("get", f"/api/annotations/{w.annotation.pk}/", None),
    "revise": lambda w: ("put", f"/api/annotations/{w.annotation.pk}/", _answer(none_fits=True, unsure=False)),
    "skip": lambda w: ("post", f"/api/images/{w.lease.image_id}/skip/", None),
}
ROLES = ["anonymous", "annotator of another dataset", "annotator", "reviewer", "researcher", "staff"]
# Anonymous API calls get 403 (session authentication sends no challenge); pages redirect to the login.
# Annotators of another dataset reach the annotation endpoints, but pets' images and annotations are not theirs.
EXPECTED = {
    "workbench page": [302, 403, 200, 403, 403, 403],
    "next": [403, 403, 200, 403, 403, 403],
    "progress": [403, 403, 200, 403, 403, 403],
    "vocabulary": [403, 403, 200, 200, 200, 200],
    "my annotations": [403, 200, 200, 403, 403, 200],
    "submit": [403, 400, 201, 403, 403, 400],
    "read mine": [403, 404, 200, 403, 403, 404],
    "revise": [403, 404, 200, 403, 403, 404],
    "skip": [403, 400, 204, 403, 403, 400],
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_the_access_it_should(request, world, endpoint, role):
    persona = {
        "anonymous": None, "annotator of another dataset": "second_annotator", "annotator": "annotator",
        "reviewer": "reviewer", "researcher": "researcher", "staff": "staff",
    }[role]  # fmt: skip
    client = APIClient()
    if persona:
        client.force_login(request.getfixturevalue(persona))
    method, url, body = ENDPOINTS[endpoint](world)
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == EXPECTED[endpoint][ROLES.index(role)], response.content[:300]


def test_token_authentication_works_for_api_clients(annotator, world):
    client = APIClient()
    token = Token.objects.create(user=annotator)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/datasets/pets/progress/").json()["mine_total"] == 1


def test_the_openapi_schema_generates_without_warnings_and_validates(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_the_openapi_schema_and_its_docs_page_render(annotator):
    client = APIClient()
    client.force_login(annotator)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"] if schema["Content-Type"].endswith("json") else schema.content.decode()
    for path in ["/api/datasets/{slug}/next/", "/api/annotations/", "/api/annotations/{id}/", "/api/token/"]:
        assert path in paths
    assert client.get("/api/docs/").status_code == 200
