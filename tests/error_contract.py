"""The API's one error body (config/api_errors.py), checked against the schema the API itself publishes."""

from __future__ import annotations

import jsonschema
from django.http import HttpResponse
from drf_spectacular.generators import SchemaGenerator

ERROR_SCHEMA = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]["Error"]


def assert_error_body(response: HttpResponse, what: str = "") -> None:
    """`response` (a refusal under /api/) is JSON in the shape of the published `Error` schema."""
    assert response["Content-Type"].startswith("application/json"), (what, response["Content-Type"])
    jsonschema.validate(response.json(), ERROR_SCHEMA)


def is_api_refusal(url: str, response: HttpResponse) -> bool:
    return url.startswith("/api/") and 400 <= response.status_code < 500
