"""Cursors of the review queue (keyset pagination): where a page starts, as the sort key of the row beside it.

A cursor is signed (django.core.signing, salted with the dataset) so a client can only hand back one the server
gave out for that dataset; anything else is a RequestInputError (HTTP 400) saying so. It holds the key of a row
(agreement, flags, position: unique within a dataset), not the row's place in the queue, so rows that leave or
join the queue between two pages move no other row: none comes twice and none that stayed is skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from django.core import signing

from config.request_input import MAX_SQL_INT, RequestInputError

Direction = Literal["after", "before", "end"]
_CODES: dict[str, Direction] = {"a": "after", "b": "before", "e": "end"}
# A cursor the server makes is about 100 characters; anything much longer was not made here.
MAX_CURSOR_LENGTH = 300
_MAX_POSITION = 2**31 - 1  # Consensus.position is an integer column


@dataclass(frozen=True)
class QueueCursor:
    """The rows `after` or `before` the row whose key this is, or the queue's `end` (its last page).

    `rows_before` is how many rows of the queue came before the page it leads to, when the cursor was made: only
    for numbering rows on the page (the queue may have changed since)."""

    direction: Direction
    agreement: float | None = None
    flags: int = 0
    position: int = 0
    rows_before: int = 0

    def keys(self) -> tuple[float, int, int]:
        """The row's values of QUEUE_KEYS (annotator.models.consensus)."""
        return (math.inf if self.agreement is None else self.agreement, -self.flags, self.position)


def cursor_dumps(cursor: QueueCursor, *, dataset_id: int) -> str:
    payload = [cursor.direction[0], cursor.agreement, cursor.flags, cursor.position, cursor.rows_before]
    return signing.dumps(payload, salt=_salt(dataset_id), compress=False)


def cursor_loads(raw: str | None, *, dataset_id: int) -> QueueCursor | None:
    """The cursor in `raw` (None or empty: no cursor, the queue's first page); RequestInputError for anything this
    server did not give out for this dataset."""
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_CURSOR_LENGTH or not (raw.isascii() and raw.isprintable()):
        raise _refused(raw)
    try:
        payload = signing.loads(raw, salt=_salt(dataset_id))
    except signing.BadSignature:
        raise _refused(raw) from None
    cursor = _from_payload(payload)
    if cursor is None:
        raise _refused(raw)
    return cursor


def _from_payload(payload: object) -> QueueCursor | None:
    """Signed payloads come from cursor_dumps; checked all the same, so a change of format cannot reach SQL."""
    if not (isinstance(payload, list) and len(payload) == 5):
        return None
    code, agreement, flags, position, rows_before = payload
    if code not in _CODES or not (agreement is None or (isinstance(agreement, float) and math.isfinite(agreement))):
        return None
    numbers = (flags, position, rows_before)
    if not all(type(n) is int for n in numbers) or not (
        0 <= flags <= 3 * 32767 and 0 <= position <= _MAX_POSITION and 0 <= rows_before <= MAX_SQL_INT
    ):
        return None
    return QueueCursor(_CODES[code], agreement, flags, position, rows_before)


def _salt(dataset_id: int) -> str:
    return f"relabel.review-queue.{dataset_id}"


def _refused(raw: str) -> RequestInputError:
    return RequestInputError(
        f"cursor {raw[:30]!r}{'…' if len(raw) > 30 else ''} is not one this queue gave out: use the `next`, "
        "`previous` or `last` link of a response as it is (or leave cursor out for the first page)"
    )
