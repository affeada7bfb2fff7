"""What the suite left running (tests/conftest.py's end-of-session check): processes carrying its mark, and
an embedded PostgreSQL server that no live process holds any more."""

from __future__ import annotations

import os
import time

import psutil


def _marked(mark_name: str, mark: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "status"]):
        if process.pid == os.getpid() or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if (process.info["name"] or "").startswith(("postgres", "pg_ctl")):
            continue  # the embedded server started from here carries the mark too; checked below
        try:
            if process.environ().get(mark_name) == mark:
                found.append(process)
        except psutil.Error:  # gone meanwhile, or another user's
            continue
    return found


def processes_left_running(mark: str, grace_seconds: float, mark_name: str = "RELABEL_TEST_SESSION") -> list[str]:
    """Processes started by this session (they carry `mark`) still running after `grace_seconds`; killed."""
    deadline = time.monotonic() + grace_seconds
    while (left := _marked(mark_name, mark)) and time.monotonic() < deadline:
        time.sleep(0.5)
    problems = []
    for process in left:
        try:
            problems.append(f"pid {process.pid} (parent {process.ppid()}): {' '.join(process.cmdline())[:200]}")
            process.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(left, timeout=10)  # dead before the embedded server's holders are counted
    return problems


def embedded_server_left_running() -> list[str]:
    """This process lets go of the embedded server; if no live process holds it any more, it must be stopped."""
    from django.db import connections

    from config.embedded_db import held_server, holder_release, live_holders, server_pid

    server = held_server()
    if server is None:
        return []
    connections.close_all()
    holder_release()
    holders = live_holders(server.pgdata)
    pid = server_pid(server.pgdata)
    if pid is not None and not holders:
        return [f"the embedded PostgreSQL server (pid {pid}) in {server.pgdata}, which no live process holds"]
    return []
