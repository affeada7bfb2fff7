"""A migration operation that makes a table append-only: a trigger refuses every UPDATE of its rows."""

from __future__ import annotations

from django.db import migrations


def append_only(table: str, what: str) -> migrations.RunSQL:
    """RunSQL creating (and, backwards, dropping) the trigger; `what` names the rows in the error message."""
    function, trigger = f"{table}_refuse_update", f"{table}_append_only"
    forward = f"""
CREATE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{what} are append-only: record a new one instead of updating %', OLD.id;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER {trigger} BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    backward = f"DROP TRIGGER IF EXISTS {trigger} ON {table}; DROP FUNCTION IF EXISTS {function}();"
    return migrations.RunSQL(forward, backward)
