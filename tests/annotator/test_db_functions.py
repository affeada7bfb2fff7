"""The PostgreSQL functions and types in annotator/db/sql are exactly what the migrations build.

Each current file is loaded into a scratch schema and PostgreSQL's own rendering of it (`pg_get_functiondef`, or a
type's columns) is compared with what the migrations left in `public`. So an edit of a current file without a
migration that loads it as a new version fails here, and so does a migration that loads something else.
"""

from __future__ import annotations

import hashlib
import re

import pytest
from django.db import connection

from annotator.db.functions import VERSIONS_DIR, current_names, current_sql, versions

pytestmark = pytest.mark.django_db

SCRATCH = "relabel_sql_file_check"
_CREATES = re.compile(r"^CREATE (OR REPLACE FUNCTION|TYPE) (\w+)", re.MULTILINE)

# Frozen versions are never edited: a migration that ran already loaded them. Add a line with each new version.
FROZEN_SHA256 = {
    "relabel_counts_consensus.v1.sql": "c5274a83ea3dd4c4d047e92943dee2a2ba03badc51e8f0530d1a44aae90a0493",
    "relabel_counts_datasets.v1.sql": "0b80abef01e3a5c48194e558192f7f7c8e322eb0b90d868b17e4168ec5560487",
    "relabel_counts_images.v1.sql": "de8e3ab917093161870dfcf09a248d87d0549d5b236c889083458da0e7dc2570",
    "relabel_annotation_submit.v1.sql": "79bf6f290f66750199b2eef8a88fef9fd572648e0d6cbd8079c0fe694171a74a",
    "relabel_annotation_write.v1.sql": "490dcbf2daf7edd48eef802125fd0b17b22251c61bdfea6b2ce2d5eeb7f6c235",
    "relabel_consensus_inputs.v1.sql": "9f4260e667ecad517850c1db424b6d6ff74d0606d925b7f137ddfa331e380981",
    "relabel_consensus_inputs.v2.sql": "4d525ce7cf347459dc7cb82506afaaa5737dc844643aad1abca4557d00d352ed",
    "relabel_consensus_inputs.v3.sql": "74c420d41e15d2406d38bd62c45fd9fa5f39eee66a5ab36d1b9fdb273933fe2b",
    "relabel_consensus_row.v1.sql": "36cd7139289081862a495f526c36345e2a90f1ccf217b438edf7c2a6486c1bc9",
    "relabel_consensus_row.v2.sql": "7f8d31ce61d74d9d11fd2ce4705c2b6fbe5b224af15b75a5965f3430e2cdf4d4",
    "relabel_lease_next.v1.sql": "4a77e80bc907c51729cc1e9f0aa3effae16ea33bf6d2244fc673533647322865",
    "relabel_lease_next.v2.sql": "951d5d47fe0541375698c12ee51315c58b84354b112f25cd857f5b36d8da38a8",
    "relabel_lease_next.v3.sql": "6e3ec870a9344ffd4281e578edd6545205572898f2a6344f17eb423931e90a33",
    "relabel_leases_reclaim.v1.sql": "e8b9c8af1735fc570a907a9b41092fd4c8a9a8bcb69053280461601a81de6f4b",
    "relabel_shown.v1.sql": "e2790aede6126f59f6d3648a573ffb6826f9a9ab16b8f0cde61d05c9b765069a",
    "relabel_shown.v2.sql": "5be6992db85ddd90495065ae55a1f5f4be52df48cf6528d2af49ea0665338131",
    "relabel_votes_write.v1.sql": "1e9dce504bc9e9e8627e86ba3ca2df73e1c9c059e88652a34e48bcc25670dff2",
}

HOW_TO_CHANGE = (
    "a current file in annotator/db/sql differs from what the migrations build: copy it to "
    "sql/versions/<name>.v<N+1>.sql and add a migration that loads that version (see annotator/db/functions.py)"
)


def _definitions(schema: str) -> dict[str, str]:
    """Each relabel_ function and composite type in `schema` as PostgreSQL renders it, without the schema name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = %s AND p.proname LIKE 'relabel\\_%%'",
            [schema],
        )
        found = [(name, text.replace(f"FUNCTION {schema}.", "FUNCTION ", 1)) for name, text in cursor.fetchall()]
        cursor.execute(
            "SELECT t.typname, string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', '"
            "                             ORDER BY a.attnum)"
            " FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_class c ON c.oid = t.typrelid"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
            " WHERE n.nspname = %s AND c.relkind = 'c' AND t.typname LIKE 'relabel\\_%%' GROUP BY t.typname",
            [schema],
        )
        found += [(name, f"TYPE {name} AS ({columns})") for name, columns in cursor.fetchall()]
    names = [name for name, _ in found]
    assert len(names) == len(set(names)), f"overloaded functions are not supported: {sorted(names)}"
    return dict(found)


def _differences(files: dict[str, str]) -> list[str]:
    """The names whose file, loaded into a scratch schema, PostgreSQL renders otherwise than what is in `public`
    (or is not there). Runs in the test's transaction, so nothing of the scratch schema stays."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {SCRATCH}")
        # Functions resolve the types in public, so both renderings name them alike; types are checked by columns.
        cursor.execute(f"SET LOCAL search_path = {SCRATCH}, public")
        for name, text in files.items():
            assert [created for _, created in _CREATES.findall(text)] == [name], f"{name}.sql creates {name} alone"
            cursor.execute(text)
    loaded, built = _definitions(SCRATCH), _definitions("public")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL search_path TO DEFAULT")
        cursor.execute(f"DROP SCHEMA {SCRATCH} CASCADE")
    return sorted(name for name in files if loaded.get(name) != built.get(name))


def _current(kind: str) -> dict[str, str]:
    """The current files that create a function (kind "FUNCTION") or a type ("TYPE")."""
    files = {name: current_sql(name) for name in current_names()}
    return {name: text for name, text in files.items() if _CREATES.search(text)[1].endswith(kind)}


def _built(kind: str) -> list[str]:
    return sorted(
        name
        for name, text in _definitions("public").items()
        if text.startswith(f"{kind} ") or text.startswith(f"CREATE OR REPLACE {kind} ")
    )


def test_every_function_the_migrations_build_is_its_current_file():
    functions = _current("FUNCTION")
    assert _built("FUNCTION") == sorted(functions), "every relabel_ function has a current file, and only those"
    assert _differences(functions) == [], HOW_TO_CHANGE


def test_every_type_the_migrations_build_is_its_current_file():
    types = _current("TYPE")
    assert _built("TYPE") == sorted(types), "every relabel_ type has a current file, and only those"
    assert _differences(types) == [], HOW_TO_CHANGE


def test_the_check_notices_an_edit_of_a_current_file():
    functions = _current("FUNCTION")
    edited = functions["relabel_shown"].replace("SELECT coalesce(", "SELECT  coalesce(")
    assert edited != functions["relabel_shown"]
    assert _differences({**functions, "relabel_shown": edited}) == ["relabel_shown"]


def test_each_current_file_is_its_latest_frozen_version():
    latest = {name: numbers[-1] for name, numbers in versions().items()}
    for name in current_names():
        assert name in latest, f"{name}.sql has no frozen copy in sql/versions/"
        frozen = (VERSIONS_DIR / f"{name}.v{latest[name]}.sql").read_text()
        assert current_sql(name) == frozen, f"{name}.sql was edited: copy it to {name}.v{latest[name] + 1}.sql"


def test_frozen_versions_are_never_edited():
    hashes = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in VERSIONS_DIR.glob("*.sql")}
    assert hashes == FROZEN_SHA256, "a frozen version changed or is new: add a new version instead of editing one"


def test_the_consensus_inputs_columns_are_declared_once_in_their_row_type():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'public' AND 'c_needed' = ANY (p.proargnames) ORDER BY 1"
        )
        declaring = [name for (name,) in cursor.fetchall()]
    assert declaring == [], "relabel_consensus_inputs, the submit and the revise all return relabel_consensus_row"
