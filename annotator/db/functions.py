"""The SQL files of annotator's PostgreSQL functions and types (see `annotator.db`), for migrations and tests.

To change a function: edit its current file `sql/<name>.sql`, copy it to `sql/versions/<name>.v<N+1>.sql`, and add a
migration whose `RunSQL` loads `versioned_sql(<name>=N+1)` (reverse: `versioned_sql(<name>=N)`; a change of its
arguments or result type drops the old one first). tests/annotator/test_db_functions.py fails while the database
the migrations build differs from a current file, or a current file from its latest version, or a frozen version
was edited.
"""

from __future__ import annotations

import re
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"
VERSIONS_DIR = SQL_DIR / "versions"
_VERSION_FILE = re.compile(r"(?P<name>\w+)\.v(?P<version>\d+)\.sql")


def versioned_sql(**versions: int) -> str:
    """The frozen definitions `name=version`, in the order given, as one script for `RunSQL`."""
    return "\n".join((VERSIONS_DIR / f"{name}.v{version}.sql").read_text() for name, version in versions.items())


def current_sql(name: str) -> str:
    """The current definition of one function or type."""
    return (SQL_DIR / f"{name}.sql").read_text()


def current_names() -> list[str]:
    """Every function and type with a current definition."""
    return sorted(path.stem for path in SQL_DIR.glob("*.sql"))


def versions() -> dict[str, list[int]]:
    """Every frozen version number of each name, ascending (dropped functions keep theirs for old migrations)."""
    found: dict[str, list[int]] = {}
    for path in VERSIONS_DIR.glob("*.sql"):
        match = _VERSION_FILE.fullmatch(path.name)
        if match is None:
            raise ValueError(f"{path.name} is not named <name>.v<N>.sql")
        found.setdefault(match["name"], []).append(int(match["version"]))
    return {name: sorted(numbers) for name, numbers in sorted(found.items())}
