"""The error contract in the OpenAPI schema (a drf-spectacular postprocessing hook)."""

from __future__ import annotations

from config.api_errors import ERROR_SCHEMA

ERROR_REF = {"$ref": "#/components/schemas/Error"}


def error_responses(result: dict, generator: object, request: object, public: bool) -> dict:
    """Every operation answers its refusals with the `Error` component: the 4xx responses a view declares (with
    their own descriptions) and a `4XX` entry for the rest (401, 403, 404, 405, 415, 429 …)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": ERROR_REF}}
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code, response in responses.items():
                if str(code).startswith("4"):
                    response["content"] = content
            responses.setdefault("4XX", {"description": "Refused: see `detail` and `code`.", "content": content})
    return result
