"""The API's one error contract: every refusal under /api/ (each 4xx, and the 503 of a lost database) has the body

    {"detail": str, "code": str, "fields"?: {name: [message, …]}, "rows"?: [int, …]}

`detail` says what is wrong in a sentence a person can act on; `code` is stable for programs (`invalid`,
`parse_error`, `not_authenticated`, `permission_denied`, `not_found`, `method_not_allowed`,
`unsupported_media_type`, `conflict`, `too_large`, `locked_out`, `throttled`, `database_unavailable`, …);
`fields` names each refused input field (dotted for nested ones: `classes.0`); `rows` the 1-based rows of an
uploaded file at fault.

- A view refuses with `ApiError` (or wraps the calls whose domain errors are the client's with `refused`).
- `api_exception_handler` (REST_FRAMEWORK["EXCEPTION_HANDLER"]) gives that body to ApiError and to every error
  DRF raises itself: validation, parse errors (JSON nested too deep included), 401, 403, 404, 405, 415, 429.
- What answers outside DRF builds it with `error_body`: the middleware's refusals (a NUL character, an integer
  out of range, a body over the limit, the database gone), the JSON error pages and the login lockout.
- `ERROR_SCHEMA` is the contract in the OpenAPI schema (config.api_schema puts it on every operation).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from rest_framework import exceptions
from rest_framework.serializers import Serializer
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

Fields = dict[str, list[str]]


def error_body(detail: str, code: str, *, fields: Fields | None = None, rows: list[int] | None = None) -> dict:
    body: dict = {"detail": detail, "code": code}
    if fields:
        body["fields"] = fields
    if rows is not None:
        body["rows"] = rows
    return body


def error_response(
    detail: str, code: str, status: int, *, fields: Fields | None = None, rows: list[int] | None = None
) -> JsonResponse:
    """The contract as a response: always JSON, whatever the view renders otherwise (the schema view's YAML)."""
    body = error_body(detail, code, fields=fields, rows=rows)
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


class ApiError(exceptions.APIException):
    """A refusal a view decides itself: status (400 by default), code, a message, and optionally the fields
    or file rows at fault."""

    status_code = 400
    default_code = "invalid"

    def __init__(
        self,
        detail: str,
        *,
        status: int = 400,
        code: str = "invalid",
        fields: Fields | None = None,
        rows: list[int] | None = None,
    ) -> None:
        super().__init__(detail, code)
        self.status_code = status
        self.code = code
        self.fields = fields
        self.rows = rows


def validated(serializer: Serializer) -> dict:
    """The serializer's validated data, or a 400 naming every refused field (`fields`, and all of them in
    `detail`)."""
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@contextmanager
def refused(*errors: type[Exception], status: int = 400, code: str = "invalid") -> Iterator[None]:
    """Turn these domain errors (a service's refusal of the client's input) into ApiError, keeping the
    message and the file rows the error names (`rows`), if any."""
    try:
        yield
    except errors as error:
        raise ApiError(str(error), status=status, code=code, rows=getattr(error, "rows", None)) from error


def api_exception_handler(exc: Exception, context: dict) -> HttpResponse | None:
    """DRF's handler (status, headers such as WWW-Authenticate and Retry-After, rollback), answered in the
    contract's body."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    handled = exception_handler(exc, context)
    if handled is None or not isinstance(exc, exceptions.APIException):
        return handled
    if isinstance(exc, ApiError):
        response = error_response(str(exc.detail), exc.code, exc.status_code, fields=exc.fields, rows=exc.rows)
    elif isinstance(exc.detail, list | dict):
        fields = flat_fields(exc.detail)
        response = error_response(describe(fields), exc.default_code, exc.status_code, fields=fields)
    else:
        response = error_response(str(exc.detail), str(exc.detail.code or exc.default_code), exc.status_code)
    for header, value in handled.headers.items():
        if header.lower() != "content-type":
            response[header] = value
    return response


def flat_fields(errors: object, prefix: str = "") -> Fields:
    """DRF's nested error detail as {dotted field name: messages}; errors of the whole input (a body that is
    not an object, for one) under `non_field_errors`."""
    if isinstance(errors, dict):
        flat: Fields = {}
        for key, value in errors.items():
            flat.update(flat_fields(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(errors, list) and any(isinstance(item, dict | list) for item in errors):
        flat = {}
        for index, value in enumerate(errors):
            if value:
                flat.update(flat_fields(value, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    messages = [str(item) for item in errors] if isinstance(errors, list) else [str(errors)]
    return {prefix or api_settings.NON_FIELD_ERRORS_KEY: messages}


def describe(fields: Fields) -> str:
    """Every refused field and why, in one line: "classes.0: A valid integer is required.; seconds: …"."""
    return "; ".join(
        " ".join(messages) if name == api_settings.NON_FIELD_ERRORS_KEY else f"{name}: {' '.join(messages)}"
        for name, messages in fields.items()
    )


ERROR_SCHEMA = {
    "type": "object",
    "description": "Every refusal of the API has this body (see README, API errors).",
    "properties": {
        "detail": {"type": "string", "minLength": 1, "description": "What is wrong, for a person."},
        "code": {
            "type": "string",
            "minLength": 1,
            "description": "Stable, for programs: invalid, parse_error, not_authenticated, authentication_failed, "
            "permission_denied, not_found, method_not_allowed, unsupported_media_type, conflict, too_large, "
            "locked_out, throttled, database_unavailable, …",
        },
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "description": "Each refused input field (dotted when nested, e.g. `classes.0`) and why.",
        },
        "rows": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "The 1-based rows of an uploaded file at fault (the first few).",
        },
    },
    "required": ["detail", "code"],
    "additionalProperties": False,
}
