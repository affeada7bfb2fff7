"""Version 1 of the append-only trigger, frozen (see config/frozen/__init__.py): a migration operation that
makes a table's rows unchangeable once written. Used by annotator 0008 (adjudications), evaluation 0002
(metric snapshots) and evaluation 0003 (release files)."""

from __future__ import annotations

from django.db import migrations


def append_only(table: str, message: str, *, trigger: str = "") -> migrations.RunSQL:
    """RunSQL creating (and, backwards, dropping) function `<table>_refuse_update` and trigger `trigger`
    (default `<table>_append_only`), which refuses every UPDATE of the table's rows with `message`, a PL/pgSQL
    RAISE format whose `%` is the row's id."""
    function, trigger = f"{table}_refuse_update", trigger or f"{table}_append_only"
    forward = f"""
CREATE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{message}', OLD.id;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER {trigger} BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    backward = f"DROP TRIGGER IF EXISTS {trigger} ON {table}; DROP FUNCTION IF EXISTS {function}();"
    return migrations.RunSQL(forward, backward)
