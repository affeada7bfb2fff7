"""The embedded PostgreSQL server: it stops when its last live holder exits (even after a holder was killed),
and a connection that finds it stopped starts it again."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import close_old_connections
from django.urls import reverse

from annotator.roles import ROLES
from config.embedded_db import live_holders, server_pid
from tests.builders import REPO
from tests.embedded_server import embedded_pgdata, stop_embedded_server

HOLD = """
import signal, sys
if "--ignore-ctrl-c" in sys.argv:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
from pathlib import Path
from config.embedded_db import embedded_database_settings
embedded_database_settings(Path(sys.argv[1]), "probe")
print("holding", flush=True)
sys.stdin.readline()
"""


def _holder(var_dir: Path, *options: str, started: bool = True, **popen: object) -> subprocess.Popen:
    """A process that starts (or joins) the embedded server in `var_dir` and holds it until its stdin closes."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(var_dir), *options],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, **popen,
    )  # fmt: skip
    if started:
        assert process.stdout.readline().strip() == "holding", f"the holder exited with {process.wait()}"
    return process


def _wait_until_stopped(pgdata: Path, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server_pid(pgdata) is None:
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def own_var(tmp_path):
    """A var folder for a server of the test's own, under the repository's var/: the server runs as another
    user where the suite runs as root, and pytest keeps its /tmp/pytest-of-<user> folder private (0700), also
    resetting it when another xdist worker starts, so a server there could not reach its own data."""
    folder = REPO / "var" / "test-servers" / f"{tmp_path.name}-{os.getpid()}"
    folder.mkdir(parents=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_server_stops_when_its_last_live_holder_exits_though_another_holder_was_killed(own_var):
    """A server of its own (in own_var): one holder is SIGKILLed and never releases it; a second one exits
    normally and, being the last live holder, stops it. With the wheel's own clean-up it ran on for ever."""
    var_dir, pgdata = own_var, own_var / "pgdata"
    killed = _holder(var_dir)
    try:
        last = _holder(var_dir)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        assert server_pid(pgdata) is not None, "the killed holder's server is still serving"
        last.stdin.close()
        assert last.wait(timeout=60) == 0
        assert _wait_until_stopped(pgdata), f"still running for holders {live_holders(pgdata)}"
        assert live_holders(pgdata) == []
    finally:
        killed.kill()
        leftover = server_pid(pgdata)
        if leftover is not None:  # leave no server behind, whatever happened (SIGQUIT: immediate shutdown)
            os.kill(leftover, signal.SIGQUIT)


@pytest.mark.outage
@pytest.mark.django_db(transaction=True)
def test_a_request_finding_the_server_stopped_starts_it_again_and_is_answered(client, reviewer):
    """The suite's own server is stopped (pg_ctl stop): the next request's connection starts it again."""
    pgdata = embedded_pgdata()
    for name in ROLES:  # an earlier transactional test's flush emptied the groups the migrations create
        Group.objects.get_or_create(name=name)
    client.force_login(reviewer)
    assert client.get(reverse("datasets:home")).status_code == 200
    stop_embedded_server()
    # What gunicorn does at the start of every request (the test client skips it): connections get their
    # health check, and this one, whose server is gone, is dropped.
    close_old_connections()
    response = client.get(reverse("datasets:home"))
    assert response.status_code == 200, "the site answered 503 until some process started the server"
    assert server_pid(pgdata) is not None
    assert client.get(reverse("datasets:home")).status_code == 200


def test_a_ctrl_c_while_a_holder_starts_the_server_does_not_stop_it(own_var):
    """`pg_ctl start -w` forwards a SIGINT it gets while waiting for the server to its server: a Ctrl-C for
    `make demo` (SIGINT to the terminal's process group) just as the demo's supervisor started the server
    again stopped it under every other holder (a demo test failed so, now and then). pg_ctl runs in a
    session of its own, out of reach of the terminal's signals."""
    first = _holder(own_var)
    pgdata = (own_var / "pgdata").resolve()
    server = server_pid(pgdata)
    subprocess.run(["kill", "-INT", str(server)], check=True)  # a fast shutdown: the holder stays
    assert _wait_until_stopped(pgdata)
    # It starts the server again; it ignores Ctrl-C itself, as the demo's supervisor handles it.
    starter = _holder(own_var, "--ignore-ctrl-c", started=False, start_new_session=True)
    try:
        while starter.poll() is None and server_pid(pgdata) is None:
            time.sleep(0.005)
        for _ in range(60):  # Ctrl-C, again and again, while pg_ctl waits for the server
            os.killpg(starter.pid, signal.SIGINT) if starter.poll() is None else None
            time.sleep(0.01)
        assert starter.stdout.readline().strip() == "holding", f"the starter exited with {starter.wait()}"
        time.sleep(0.5)
        assert server_pid(pgdata) is not None, "the Ctrl-C reached the server through pg_ctl"
    finally:
        for holder in (first, starter):
            if holder.poll() is None:
                holder.stdin.close()
                holder.wait(timeout=60)
    assert _wait_until_stopped(pgdata)
