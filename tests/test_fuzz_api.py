"""Schema-driven fuzzing of every write operation in the OpenAPI schema (hypothesis).

For each POST/PUT/PATCH in /api/schema/, bodies are drawn both in the schema's shape (right field names,
values of any type) and as arbitrary JSON; path parameters are real ids or arbitrary integers. Whatever the
body, the answer is never a 5xx (a refusal has the API's one error body), and the database never holds a
half-written row: every image's counters match its annotations and leases, every annotation has its revisions,
every prediction set its arrays.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from annotator.models import LabelClass
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import lease_next
from tests.builders.annotations import workbench_dataset
from tests.error_contract import assert_error_body, is_api_refusal

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch")
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATIONS = [
    (path, method) for path, item in sorted(SCHEMA["paths"].items()) for method in item if method in WRITE_METHODS
]

# Nesting far beyond what a strategy can build (and json.dumps can encode): a body is wrapped in this many
# lists or objects as text. Depth 1,000 once gave a RecursionError (500) on every JSON endpoint.
NESTING = st.none() | st.none() | st.tuples(st.integers(1, 3000), st.sampled_from(["[", '{"k": ']))


def _nest(encoded: str, nesting: tuple[int, str] | None) -> str:
    if nesting is None:
        return encoded
    depth, opener = nesting
    return opener * depth + encoded + ("]" if opener == "[" else "}") * depth


ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=12,
)


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _value(schema: dict, real_ids: list[int]) -> st.SearchStrategy:
    """A value of the schema's type most of the time (so validation passes and deeper code runs), else anything."""
    schema = _resolve(schema)
    kind = schema.get("type")
    typed: st.SearchStrategy
    if kind == "integer":
        typed = st.sampled_from(real_ids) | st.integers(min_value=-(2**70), max_value=2**70)
    elif kind == "number":
        typed = st.floats(allow_nan=True, allow_infinity=True)
    elif kind == "boolean":
        typed = st.booleans()
    elif kind == "array":
        typed = st.lists(_value(schema.get("items", {}), real_ids), max_size=6)
    elif kind == "object" or "properties" in schema:
        typed = _body(schema, real_ids)
    elif schema.get("format") == "uuid":
        typed = st.uuids().map(str) | st.text(max_size=40)
    elif schema.get("format") == "binary":
        typed = st.binary(max_size=2000)
    else:
        typed = st.text(max_size=300)
    return st.one_of(typed, typed, typed, ANY_JSON)


def _body(schema: dict, real_ids: list[int]) -> st.SearchStrategy:
    schema = _resolve(schema)
    properties = {name: _value(field, real_ids) for name, field in schema.get("properties", {}).items()}
    required = set(schema.get("required", []))
    shaped = st.fixed_dictionaries(
        {k: v for k, v in properties.items() if k in required},
        optional={k: v for k, v in properties.items() if k not in required},
    )
    return shaped | st.dictionaries(st.text(max_size=12), ANY_JSON, max_size=6)


def _request_schema(operation: dict) -> tuple[str | None, dict]:
    content = operation.get("requestBody", {}).get("content", {})
    for media_type in ("application/json", "multipart/form-data"):
        if media_type in content:
            return media_type, content[media_type]["schema"]
    return None, {}


def _multipart(body: object) -> dict:
    """Form fields as text, bytes as an uploaded file (what a browser or curl -F could send)."""
    if not isinstance(body, dict):
        return {"payload": json.dumps(body)}
    fields: dict = {}
    for name, value in body.items():
        if isinstance(value, bytes):
            fields[name] = SimpleUploadedFile(f"{name}.csv", value)
        elif value is not None:
            fields[name] = value if isinstance(value, str) else json.dumps(value)
    return fields


def assert_no_half_written_rows() -> None:
    checks = {
        "image counters differ from its annotations and leases": """
            SELECT i.id FROM annotator_image i
            LEFT JOIN (SELECT image_id, count(*) n FROM annotator_annotation GROUP BY image_id) a ON a.image_id = i.id
            LEFT JOIN (SELECT image_id, count(*) n FROM annotator_lease GROUP BY image_id) l ON l.image_id = i.id
            WHERE i.annotation_count <> coalesce(a.n, 0) OR i.lease_count <> coalesce(l.n, 0)""",
        "annotation without its revisions": """
            SELECT a.id FROM annotator_annotation a
            WHERE a.revision_count <>
                (SELECT count(*) FROM annotator_annotationrevision r WHERE r.annotation_id = a.id)""",
        "prediction set without its arrays": """
            SELECT p.id FROM evaluation_predictionset p
            WHERE NOT EXISTS (SELECT 1 FROM evaluation_predictionarrays r WHERE r.prediction_set_id = p.id)""",
    }
    with connection.cursor() as cursor:
        for problem, sql in checks.items():
            cursor.execute(sql)
            rows = cursor.fetchall()
            assert not rows, f"{problem}: {rows}"


@pytest.fixture
def world(staff, annotator, settings, tmp_path) -> dict:
    """Staff hold every role and annotate "pets", so every operation can get past its permission check."""
    settings.MEDIA_ROOT = tmp_path / "media"
    pets = workbench_dataset(slug="pets", images=8, candidates_per_image=3, annotators=[staff, annotator])
    answered = lease_next(dataset=pets, annotator=staff)
    annotation, _ = annotation_submit(
        annotator=staff, image_id=answered.image_id, answer=Answer(unsure=True), client_uuid=uuid.uuid4()
    )
    leased = lease_next(dataset=pets, annotator=staff)
    class_ids = list(LabelClass.objects.filter(dataset=pets).values_list("id", flat=True))
    return {
        "slug": pets.slug,
        "ids": [annotation.pk, leased.image_id, answered.image_id, *class_ids],
    }


def test_the_schema_has_write_operations_to_fuzz():
    paths = {path for path, _ in OPERATIONS}
    assert {"/api/annotations/", "/api/annotations/{id}/", "/api/datasets/{slug}/next/"} <= paths, paths


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_no_body_gives_a_server_error_or_leaves_a_half_written_row(world, staff, path, method):
    operation = SCHEMA["paths"][path][method]
    media_type, schema = _request_schema(operation)
    params = re.findall(r"{(\w+)}", path)
    ids = world["ids"]
    client = APIClient()
    client.force_authenticate(staff)

    @settings(
        max_examples=50, deadline=None, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )  # fmt: skip
    @given(
        body=_body(schema, ids) if schema else ANY_JSON,
        values=st.fixed_dictionaries(
            {p: st.just(world["slug"]) if p == "slug" else st.sampled_from(ids) | st.integers(0, 2**70) for p in params}
        ),
        nesting=NESTING,
    )
    def probe(body, values, nesting) -> None:
        url = path.format(**values)
        if media_type == "multipart/form-data":
            fields = _multipart(body)
            if nesting and fields:
                first = next(iter(fields))
                fields[first] = _nest(json.dumps(fields[first]) if isinstance(fields[first], str) else "1", nesting)
            response = getattr(client, method)(url, fields, format="multipart")
        else:
            # Encoded here: Python writes NaN and Infinity, which strict JSON parsers must refuse cleanly.
            encoded = _nest(json.dumps(body), nesting)
            response = client.generic(method.upper(), url, encoded, content_type="application/json")
        assert response.status_code < 500, f"{method.upper()} {url} {body!r}: {response.status_code}"
        if is_api_refusal(url, response):
            assert_error_body(response, f"{method.upper()} {url} {body!r}")
        assert_no_half_written_rows()

    probe()
