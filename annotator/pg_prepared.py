"""Server-side prepared statements for the queries every annotation request runs.

PostgreSQL plans a query each time it receives its text: for the joins of the hot paths (the token's user
with its roles, the dataset with the caller's membership, one image's votes with its dataset's settings)
planning took several times longer than running them. `execute_prepared` PREPAREs a query once per
database connection (connections persist, CONN_MAX_AGE) and then EXECUTEs it, so it is planned once.

The statement is named after its text, so the same query shares one statement. A PREPARE is not undone by
a rollback, and a new connection (after a reconnect) prepares again: what is prepared is remembered per
psycopg2 connection object. The PREPARE is sent on the driver's cursor, not counted as one of the
request's queries (it is connection set-up); errors are still Django's (503 on a lost connection).

`fetchall_named` reads the rows by column name, so a caller does not depend on the order of a function's columns.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, cast

from django.db import connection

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")
_prepared: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()
_compiled: dict[str, tuple[str, str, tuple[str, ...] | int]] = {}


def _compile(sql: str) -> tuple[str, str, tuple[str, ...] | int]:
    """(statement name, PREPARE text with $n placeholders, the named parameters in order or the count)."""
    if sql in _compiled:
        return _compiled[sql]
    names: list[str] = []
    positional = 0

    def number(match: re.Match) -> str:
        nonlocal positional
        if match.group(0) == "%%":
            return "%"
        if match.group(1):
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"
        positional += 1
        return f"${positional}"

    text = _PLACEHOLDER.sub(number, sql)
    if names and positional:
        raise ValueError("a prepared query takes either %s or %(name)s placeholders, not both")
    name = "relabel_" + hashlib.sha1(sql.encode()).hexdigest()[:16]
    compiled = (name, f"PREPARE {name} AS {text}", tuple(names) if names else positional)
    _compiled[sql] = compiled
    return compiled


def execute_prepared(cursor, sql: str, params: Sequence | Mapping = ()) -> None:
    """`cursor.execute(sql, params)`, planned once per connection (see the module's docstring)."""
    name, prepare, parameters = _compile(sql)
    connection.ensure_connection()
    done = _prepared.setdefault(connection.connection, set())
    if name not in done:
        with connection.wrap_database_errors:
            cursor.cursor.execute(prepare)
        done.add(name)
    if isinstance(parameters, tuple):
        values = [cast(Mapping[str, Any], params)[key] for key in parameters]
    else:
        values = list(params)
        if len(values) != parameters:
            raise ValueError(f"the query takes {parameters} parameters, not {len(values)}")
    cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(values))})" if values else f"EXECUTE {name}", values)


def fetchall_named(cursor) -> list[dict[str, Any]]:
    """The rest of the cursor's rows, each a dict keyed by column name."""
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
