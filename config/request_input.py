"""Query parameters read safely: integers bounded to what SQL can hold, refusals that say what is wrong.

A view raises RequestInputError and config.middleware.RequestInputMiddleware answers 400 with its message
(JSON under /api/, plain text for pages), so the check and its wording live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_SQL_INT = 2**63 - 1  # PostgreSQL bigint: ids, OFFSET and LIMIT beyond it cannot reach SQL
_MAX_DIGITS = len(str(MAX_SQL_INT))


class RequestInputError(ValueError):
    """Input no endpoint accepts (HTTP 400); the message names the parameter and what is accepted."""


def query_int(
    params: Mapping[str, str], name: str, *, default: int, minimum: int = 0, maximum: int = MAX_SQL_INT
) -> int:
    """The whole number in query parameter `name` (absent or empty: `default`); anything else, or a number
    outside minimum..maximum, raises RequestInputError naming the range."""
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    # ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses.
    if not (text.isascii() and text.isdigit() and len(text.lstrip("0")) <= _MAX_DIGITS) or not (
        minimum <= int(text) <= maximum
    ):
        raise RequestInputError(f"{name} must be a whole number from {minimum:,} to {maximum:,}, not {raw[:30]!r}")
    return int(text)


def query_id(params: Mapping[str, str], name: str) -> int | None:
    """An optional id in query parameter `name` (absent or empty: None), bounded like every database id."""
    value = query_int(params, name, default=0, minimum=1)
    return value or None
