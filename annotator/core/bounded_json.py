"""JSON decoding with a bounded nesting depth (pure Python, no Django).

Python's decoder recurses once per level: a 2 KB body of a thousand `[` raises RecursionError, and a document
a little shallower than that decodes but can exhaust the stack of whatever walks it next (a serializer, a
validator). No ReLabel document nests deeper than a few levels, so anything beyond MAX_JSON_DEPTH is refused
as malformed input, with the same message wherever JSON arrives (API bodies, JSONL uploads, label files).
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 32
TOO_DEEP = f"JSON nested more than {MAX_JSON_DEPTH} levels deep"


class JsonTooDeepError(ValueError):
    """A JSON document nested beyond the limit."""

    def __init__(self, max_depth: int = MAX_JSON_DEPTH) -> None:
        super().__init__(f"JSON nested more than {max_depth} levels deep")


def nesting_exceeds(value: object, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether lists and dicts in `value` nest deeper than `max_depth` (iterative: any depth is safe)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, list | dict))
    return False


def loads(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, **kwargs: Any) -> Any:  # noqa: ANN401 - any JSON
    """`json.loads`, raising JsonTooDeepError (a ValueError) for documents nested beyond `max_depth`."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JsonTooDeepError(max_depth) from None
    if nesting_exceeds(value, max_depth):
        raise JsonTooDeepError(max_depth)
    return value
