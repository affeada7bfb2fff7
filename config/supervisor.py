"""Keep a few long-running child processes alive (`manage.py demo`: web, worker and beat).

Each child runs in a process group of its own, so a terminal's Ctrl-C reaches only the supervisor, which
then stops the children in order, and so that whatever a child leaves behind (gunicorn's workers, Celery's
pool processes) can be killed with it. A child that exits is restarted after a delay that doubles with each
quick exit (1, 2, 4 … 30 s, back to 1 s once it has run for a minute); one that keeps failing at once
(CRASH_LOOP exits in a row, each within QUICK_EXIT seconds) stops everything, since restarting it cannot
help. SIGINT or SIGTERM stops every child: SIGTERM to each, then, after STOP_TIMEOUT seconds or at once on a
second signal, SIGKILL to each child's whole process group. On Linux a child is also sent SIGTERM if the
supervisor itself dies. The supervisor also starts the embedded PostgreSQL server again if it stops.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
# A child that ran this long before exiting was healthy: its next restart waits BACKOFF_FIRST again.
HEALTHY_AFTER = 60.0
QUICK_EXIT = 10.0
CRASH_LOOP = 5
STOP_TIMEOUT = 15.0
POLL_SECONDS = 0.5
DATABASE_CHECK_SECONDS = 2.0


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0  # exits in a row before HEALTHY_AFTER
    quick_exits: int = 0  # exits in a row within QUICK_EXIT of starting
    restart_at: float | None = None


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the supervisor dies (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class Supervisor:
    def __init__(
        self,
        commands: Mapping[str, list[str]],
        *,
        env: Mapping[str, str],
        log: Callable[[str], object],
        revive_database: Callable[[], bool] | None = None,
    ) -> None:
        self.children = [Child(name, list(command)) for name, command in commands.items()]
        self.env = dict(env)
        self.log = log
        self.revive_database = revive_database
        self._stop_requested = threading.Event()
        self._signals = 0

    def run(self) -> int:
        """Start every child and keep them running until SIGINT/SIGTERM (0) or a crash loop (1)."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for child in self.children:
                self._start(child)
            status = self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        self._stop_requested.set()

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(
            child.command,
            env=self.env,
            process_group=0,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        child.started_at = time.monotonic()
        child.restart_at = None

    def _watch(self) -> int:
        next_database_check = 0.0
        while not self._stop_requested.wait(POLL_SECONDS):
            now = time.monotonic()
            for child in self.children:
                exited = child.process is not None and child.process.poll() is not None
                if exited and not self._schedule_restart(child, now):
                    return 1
                if child.restart_at is not None and now >= child.restart_at:
                    self.log(f"{child.name}: starting again (restart {child.restarts})")
                    self._start(child)
            if self.revive_database is not None and now >= next_database_check:
                next_database_check = now + DATABASE_CHECK_SECONDS
                self.revive_database()
        return 0

    def _schedule_restart(self, child: Child, now: float) -> bool:
        """Log the exit, kill what the child left in its group and plan its restart; False for a crash loop."""
        assert child.process is not None
        status, ran = child.process.returncode, now - child.started_at
        _kill_group(child.process.pid)
        child.process = None
        child.restarts += 1
        child.failures = 1 if ran >= HEALTHY_AFTER else child.failures + 1
        child.quick_exits = child.quick_exits + 1 if ran < QUICK_EXIT else 0
        if child.quick_exits >= CRASH_LOOP:
            self.log(
                f"{child.name} exited with status {status} {CRASH_LOOP} times in a row within {QUICK_EXIT:.0f} s "
                "of starting; giving up and stopping everything"
            )
            return False
        delay = min(BACKOFF_FIRST * 2 ** (child.failures - 1), BACKOFF_MAX)
        child.restart_at = now + delay
        self.log(f"{child.name} exited with status {status} after {ran:.0f} s; restarting it in {delay:.3g} s")
        return True

    def _stop_all(self) -> None:
        """SIGTERM to every child (in reverse order of starting), then SIGKILL to each whole group once they
        have exited, STOP_TIMEOUT has passed, or a second signal came."""
        running = [child for child in reversed(self.children) if child.process is not None]
        for child in running:
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                child.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in running:
            assert child.process is not None
            while child.process.poll() is None and time.monotonic() < deadline and self._signals < 2:
                time.sleep(0.1)
            if child.process.poll() is None:
                self.log(f"{child.name} did not stop within {STOP_TIMEOUT:.0f} s; killing it")
        for child in running:
            assert child.process is not None
            _kill_group(child.process.pid)
            child.process.wait()


def _kill_group(pgid: int) -> None:
    """SIGKILL every process left in a child's process group (its leader has exited or is being killed)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
