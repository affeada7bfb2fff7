"""Prepared statements of the hot paths: planned once per connection, correct after rollbacks and reconnects."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from annotator.pg_prepared import _compile, execute_prepared

pytestmark = pytest.mark.django_db(transaction=True)


def _prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_positional_and_named_placeholders_and_a_literal_percent():
    with connection.cursor() as cursor:
        execute_prepared(cursor, "SELECT %s::int + %s::int, '100%%'", [40, 2])
        assert cursor.fetchone() == (42, "100%")
        execute_prepared(cursor, "SELECT %(a)s::int * %(b)s::int + %(a)s::int", {"b": 3, "a": 5})
        assert cursor.fetchone() == (20,)
        execute_prepared(cursor, "SELECT cardinality(%s::bigint[])", [[1, 2, 3]])
        assert cursor.fetchone() == (3,)
    with pytest.raises(ValueError, match="either"):
        _compile("SELECT %s, %(a)s")


def test_a_query_is_prepared_once_per_connection_and_again_after_a_reconnect():
    sql = "SELECT %s::text || 'x'"
    name = _compile(sql)[0]
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, ["a"])
        execute_prepared(cursor, sql, ["b"])
        assert cursor.fetchone() == ("bx",)
    assert name in _prepared_names()
    connection.close()  # a new server session knows no prepared statements
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, ["c"])
        assert cursor.fetchone() == ("cx",)
    assert name in _prepared_names()


def test_a_rolled_back_transaction_keeps_the_statement_and_errors_stay_django_errors():
    sql = "SELECT 1 / %s::int"
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        execute_prepared(cursor, sql, [0])  # prepared, then the EXECUTE fails and the transaction rolls back
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, [1])
        assert cursor.fetchone() == (1,)
