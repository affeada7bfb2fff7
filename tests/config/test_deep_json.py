"""JSON nested too deeply is refused with a 400 naming the limit, wherever JSON arrives: every JSON write of
the API (the anonymous token endpoint included) and JSONL prediction uploads. It used to be a 500
(RecursionError in the decoder) from a 2 KB body."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from annotator.core.bounded_json import MAX_JSON_DEPTH, JsonTooDeepError, loads, nesting_exceeds
from evaluation.core.prediction_formats import PredictionFormatError, parse_predictions
from tests.test_fuzz_api import OPERATIONS, SCHEMA, _request_schema, world  # noqa: F401 - `world` is a fixture

pytestmark = pytest.mark.django_db

# Writes that take a JSON body; the others (a skip, a Dawid–Skene run) never read one.
JSON_WRITES = [(p, m) for p, m in OPERATIONS if _request_schema(SCHEMA["paths"][p][m])[0] == "application/json"]
BODILESS_WRITES = [(p, m) for p, m in OPERATIONS if _request_schema(SCHEMA["paths"][p][m])[0] is None]


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def deep_bodies() -> dict[str, str]:
    return {
        "1,000 lists (2 KB)": "[" * 1000 + "]" * 1000,
        "100,000 lists": "[" * 100_000 + "]" * 100_000,
        "1,000 objects": '{"a": ' * 1000 + "1" + "}" * 1000,
        f"{MAX_JSON_DEPTH + 1} levels inside a field": json.dumps({"classes": nested(MAX_JSON_DEPTH)}),
    }


def test_the_schema_has_json_writes_to_probe():
    assert {("/api/token/", "post"), ("/api/annotations/", "post"), ("/api/datasets/{slug}/next/", "post")} <= set(
        JSON_WRITES
    )


@pytest.mark.parametrize(("path", "method"), JSON_WRITES, ids=[f"{m.upper()} {p}" for p, m in JSON_WRITES])
def test_every_json_write_refuses_deep_nesting_with_a_400_that_says_so(request, staff, path, method):
    built = request.getfixturevalue("world")
    url = path.format(slug=built["slug"], id=built["ids"][0], image_id=built["ids"][1], pk=built["ids"][0])
    for who in ("anonymous", "staff"):
        client = APIClient()
        if who == "staff":
            client.force_authenticate(staff)
        for label, body in deep_bodies().items():
            response = client.generic(method.upper(), url, body, content_type="application/json")
            if who == "anonymous" and path != "/api/token/":
                assert response.status_code == 403, (who, label, response.status_code)
                continue
            assert response.status_code == 400, (who, label, response.status_code, response.content[:200])
            assert f"nested more than {MAX_JSON_DEPTH} levels" in response.json()["detail"], (who, label)


@pytest.mark.parametrize(("path", "method"), BODILESS_WRITES, ids=[f"{m.upper()} {p}" for p, m in BODILESS_WRITES])
def test_writes_without_a_body_ignore_a_deep_one(request, staff, path, method):
    built = request.getfixturevalue("world")
    url = path.format(slug=built["slug"], id=built["ids"][0], image_id=built["ids"][1], pk=built["ids"][0])
    client = APIClient()
    client.force_authenticate(staff)
    response = client.generic(method.upper(), url, "[" * 1000 + "]" * 1000, content_type="application/json")
    assert response.status_code < 300, response.content[:200]


def test_nesting_up_to_the_limit_is_read_as_usual(staff):
    client = APIClient()
    client.force_authenticate(staff)
    body = json.dumps({"username": "sam", "password": nested(MAX_JSON_DEPTH - 1)})
    response = client.post("/api/token/", body, content_type="application/json")
    assert response.status_code == 400 and "nested" not in response.content.decode()
    assert "password" in response.json()["fields"]


def test_a_jsonl_upload_with_a_deeply_nested_line_names_that_line():
    lines = ['{"image": "a.jpg", "classes": [0]}', '{"image": "b.jpg", "classes": ' + "[" * 5000 + "]" * 5000 + "}"]
    with pytest.raises(PredictionFormatError) as caught:
        parse_predictions("\n".join(lines).encode(), "p.jsonl", image_keys=["a.jpg", "b.jpg"], num_classes=3)
    assert f"nested more than {MAX_JSON_DEPTH} levels" in caught.value.message
    assert "line 2" in caught.value.message


@pytest.mark.parametrize("depth", [1, 2, MAX_JSON_DEPTH])
def test_the_loader_reads_documents_within_the_limit(depth):
    assert loads(json.dumps(nested(depth - 1))) == nested(depth - 1)
    assert not nesting_exceeds(nested(depth - 1))


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 999, 1000, 50_000])
def test_the_loader_refuses_documents_beyond_the_limit_however_deep(depth):
    with pytest.raises(JsonTooDeepError, match=f"nested more than {MAX_JSON_DEPTH} levels"):
        loads("[" * depth + "]" * depth)
