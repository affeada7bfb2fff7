"""`manage.py demo`'s supervisor: a worker killed with SIGKILL comes back, a stopped database server comes
back, and Ctrl-C (SIGINT to the terminal's process group) stops every process it started, leaving none."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import httpx
import psutil
import pytest
from django.db import connection

from config.embedded_db import server_pid
from tests.builders import REPO
from tests.demo.test_demo_command import _drop_database, _free_port, _wait_for
from tests.embedded_server import embedded_pgdata, stop_embedded_server
from tests.leftovers import processes_left_running

pytestmark = [pytest.mark.outage, pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


class Demo:
    """`manage.py demo` in a session of its own, its output collected as it comes."""

    def __init__(self, database: str, port: int, mark: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL"}}
        env.update(RELABEL_DATABASE_NAME=database, RELABEL_DEMO_MARK=mark)
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "demo", "--addr", f"127.0.0.1:{port}", "--no-imagenet"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def child(self, *words: str) -> psutil.Process | None:
        for child in psutil.Process(self.process.pid).children():
            try:
                if all(word in " ".join(child.cmdline()) for word in words):
                    return child
            except psutil.Error:  # exited meanwhile (a zombie until the supervisor reaps it)
                continue
        return None

    def descendants(self) -> list[psutil.Process]:
        """Every process the demo started, but the embedded server, which may still be a grandchild while
        pg_ctl waits for it to be ready: it belongs to every process holding it and outlives the demo while
        this suite holds it."""
        found = []
        for process in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if not process.name().startswith(("postgres", "pg_ctl", "su")):
                    found.append(process)
            except psutil.Error:
                continue
        return found


def _until(condition, timeout: float, what: str):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_the_demo_restarts_a_killed_worker_and_the_database_and_ctrl_c_leaves_nothing_running():
    pgdata = embedded_pgdata()
    database, port, mark = f"demo_supervised_{os.getpid()}", _free_port(), uuid.uuid4().hex
    demo = Demo(database, port, mark)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/accounts/login/", demo.process)
        worker = _until(lambda: demo.child("celery", "worker"), 30, "the worker")

        worker.send_signal(signal.SIGKILL)
        replaced = _until(
            lambda: (child := demo.child("celery", "worker")) and child.pid != worker.pid and child, 30,
            f"a new worker (output so far:\n{demo.output()[-3000:]})",
        )  # fmt: skip
        assert demo.process.poll() is None, f"the demo stopped with the worker:\n{demo.output()[-3000:]}"
        assert re.search(r"worker exited with status -9 .*; restarting it in \d+ s", demo.output())
        _until(lambda: " ready." in demo.output().split("worker: starting again")[-1], 60, "the new worker ready")
        assert replaced.is_running() and httpx.get(f"{base}/accounts/login/", timeout=10).status_code == 200

        stop_embedded_server()  # nobody asks anything of the site: the supervisor notices by itself
        _until(lambda: server_pid(pgdata), 15, "the embedded server started again")
        connection.close()  # this process's connection died with the server
        assert httpx.get(f"{base}/accounts/login/", timeout=10).status_code == 200

        started = demo.descendants()
        assert len(started) >= 6, started  # gunicorn and its 2 workers, worker and its pool, beat
        os.killpg(demo.process.pid, signal.SIGINT)  # Ctrl-C in the terminal
        assert demo.process.wait(timeout=40) == 0, demo.output()[-3000:]
        assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert processes_left_running(mark, grace_seconds=0, mark_name="RELABEL_DEMO_MARK") == []
    finally:
        if demo.process.poll() is None:
            os.killpg(demo.process.pid, signal.SIGKILL)
            demo.process.wait()
        _drop_database(database)
