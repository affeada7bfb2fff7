"""Stop the embedded PostgreSQL server the suite runs on, as an outage would (tests of recovery)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from config.embedded_db import held_server, server_pid


def embedded_pgdata() -> Path:
    """The data folder of the embedded server; skips the test on an external server (DATABASE_URL)."""
    server = held_server()
    if server is None:
        pytest.skip("needs the embedded PostgreSQL server (DATABASE_URL points elsewhere)")
    return server.pgdata


def stop_embedded_server(timeout: float = 60.0) -> None:
    """A fast shutdown, as `pg_ctl stop -m fast` makes it (SIGINT to the server): every session is ended and the
    server is gone until something starts it. The signal is sent from here rather than through pg_ctl, which
    once hung for its whole 60 s timeout before signalling on a loaded machine."""
    server = held_server()
    pid = server_pid(server.pgdata)
    assert pid is not None, "the embedded server is not running"
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while server_pid(server.pgdata) is not None:
        assert time.monotonic() < deadline, f"the embedded server (pid {pid}) did not stop within {timeout:.0f} s"
        time.sleep(0.05)
