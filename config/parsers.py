"""The API's JSON parser: DRF's, with the nesting depth bounded (annotator.core.bounded_json)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from annotator.core.bounded_json import MAX_JSON_DEPTH, TOO_DEEP, nesting_exceeds


class BoundedJSONParser(JSONParser):
    """A body nested beyond MAX_JSON_DEPTH is a 400 saying so, not a RecursionError (500) in the decoder or
    in whatever walks the decoded value."""

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: Mapping | None = None) -> Any:  # noqa: ANN401
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - {TOO_DEEP}") from None
        if nesting_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - {TOO_DEEP}")
        return data
