"""Bulk reads and writes through PostgreSQL's COPY, for the dataset-wide consensus, DS and vote import.

Reading 750k votes as Python tuples costs seconds; a binary COPY of bigint columns is a fixed-width byte
stream numpy reads in one call. Writing goes through COPY … FROM STDIN in text format.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from django.db import connection
from django.db.models import Model

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def read_int_columns(sql: str, params: Sequence | dict, n_columns: int) -> np.ndarray:
    """(rows, n_columns) int64 from a query whose every column is a non-null bigint (cast in SQL)."""
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        query = cursor.mogrify(sql, params).decode()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT (FORMAT binary)", buffer)
    data = buffer.getbuffer()
    if bytes(data[:11]) != _SIGNATURE:
        raise ValueError("not a binary COPY stream")
    header_extension = int.from_bytes(data[15:19], "big")
    body = data[19 + header_extension : len(data) - 2]  # the trailer is the int16 −1
    fields = [("count", ">i2")]
    for c in range(n_columns):
        fields += [(f"length{c}", ">i4"), (f"value{c}", ">i8")]
    rows = np.frombuffer(body, dtype=np.dtype(fields))
    if len(rows) and (
        np.any(rows["count"] != n_columns) or any(np.any(rows[f"length{c}"] != 8) for c in range(n_columns))
    ):
        raise ValueError("every column must be a non-null bigint")
    out = np.empty((len(rows), n_columns), np.int64)
    for c in range(n_columns):
        out[:, c] = rows[f"value{c}"]
    return out


def read_int_column_chunks(
    sql: str, params: Sequence | dict, widths: Sequence[int], *, rows_per_chunk: int = 1 << 16
) -> Iterator[tuple[int, int, list[np.ndarray]]]:
    """The rows of a query whose every column is a non-null integer of the byte width given (2: smallint, 4:
    integer, 8: bigint; cast in SQL), as chunks of at most `rows_per_chunk` rows: (first row, total rows, one
    native-endian array per column). The COPY stream goes to an unlinked temporary file first and is read back
    a chunk at a time, so memory holds one chunk, not the stream (20 M votes are ~1 GB of binary COPY), and
    the caller can fill arrays of the final size (no list of chunks to join)."""
    row_type = np.dtype([("count", ">i2")] + [(f"f{c}", [("length", ">i4"), ("value", f">i{w}")])
                         for c, w in enumerate(widths)])  # fmt: skip
    with tempfile.TemporaryFile() as stream:
        with connection.cursor() as cursor:
            query = cursor.mogrify(sql, params).decode()
            cursor.copy_expert(f"COPY ({query}) TO STDOUT (FORMAT binary)", stream)
        size = stream.tell()
        stream.seek(0)
        head = stream.read(19)
        if head[:11] != _SIGNATURE:
            raise ValueError("not a binary COPY stream")
        header_extension = int.from_bytes(head[15:19], "big")
        stream.seek(19 + header_extension)
        body = size - 19 - header_extension - 2  # the trailer is the int16 −1
        if body % row_type.itemsize:
            raise ValueError(f"every column must be a non-null integer of widths {tuple(widths)}")
        total = body // row_type.itemsize
        for first in range(0, total, rows_per_chunk):
            count = min(rows_per_chunk, total - first)
            rows = np.frombuffer(stream.read(count * row_type.itemsize), row_type)
            if np.any(rows["count"] != len(widths)) or any(
                np.any(rows[f"f{c}"]["length"] != w) for c, w in enumerate(widths)
            ):
                raise ValueError(f"every column must be a non-null integer of widths {tuple(widths)}")
            yield first, total, [rows[f"f{c}"]["value"].astype(f"i{w}") for c, w in enumerate(widths)]


COPY_CHUNK = 1 << 18  # characters handed to the driver per read


class _LineStream:
    """A file that psycopg2's COPY reads: the lines are produced as it asks for them, so the whole text (as a
    StringIO, 4 bytes per character: 3.5 GB for 19.5 M votes and 6.5 M annotations) never exists at once. An
    exception raised by the lines is kept: the driver only reports that read() failed."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._rest = ""
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> str:
        parts, n = [self._rest], len(self._rest)
        try:
            for line in self._lines:
                parts.append(line)
                n += len(line)
                if 0 <= size <= n:
                    break
        except BaseException as error:
            self.error = error
            raise
        text = "".join(parts)
        if size < 0 or len(text) <= size:
            self._rest = ""
            return text
        self._rest = text[size:]
        return text[:size]


def copy_text(table: str, columns: Sequence[str], lines: Iterable[str]) -> None:
    """COPY tab-separated `lines` (already escaped; \\N is NULL) into `table`, streamed: memory holds one chunk
    of text, not the whole."""
    stream = _LineStream(lines)
    with connection.cursor() as cursor:
        try:
            cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", stream, COPY_CHUNK)
        except Exception:
            if stream.error is not None:
                raise stream.error from None
            raise


def pg_array(values: Iterable[int | str]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_escape(value: str) -> str:
    """A string as one field of COPY's text format (backslash, tab, newline and carriage return escaped)."""
    return value.translate(_TEXT_ESCAPES)


class ReferencedRowMissingError(LookupError):
    """A row that the rows being written refer to no longer exists; the message is its table."""


@contextmanager
def foreign_keys_checked_in_bulk(references: Iterable[tuple[type[Model], Sequence[int]]]) -> Iterator[bool]:
    """Inside, the per-row foreign-key triggers of what is written are skipped, when allowed, because every row
    referenced (model, distinct ids) is locked FOR KEY SHARE first, one statement per table: exactly what each
    trigger's check does, which is then kept from being deleted until commit. 925k votes × 4 trigger checks
    cost ~15 s of a ~40 s vote import; 50,000 images × 2 about a third of a metadata import's COPY.

    Skipping the triggers needs a role allowed to set session_replication_role (a superuser: the embedded and
    docker-compose servers); otherwise they run as usual. Yields whether they are skipped. Call inside a
    transaction; ReferencedRowMissingError names the table of a row that disappeared."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            yield False
            return
        for model, ids in references:
            table = model._meta.db_table
            cursor.execute(
                # One array literal (a list parameter is an ARRAY[…] with a parse node per id: 1.3 M images).
                f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE id = ANY(%s::bigint[]) FOR KEY SHARE) AS locked",
                [pg_array(int(i) for i in ids)],
            )
            if cursor.fetchone()[0] != len(ids):
                raise ReferencedRowMissingError(table)
        cursor.execute("SET LOCAL session_replication_role = replica")
    yield True
    # Not reached after an error inside: the transaction then rolls back, and the SET LOCAL with it.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
