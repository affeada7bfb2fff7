"""Real Celery worker and beat processes on one private queue, and faults to inflict on them.

`CeleryProcesses` starts workers (solo pool) and beat with the test database, the configured broker and the
same media folder; every process gets RELABEL_CELERY_QUEUE, so what beat sends and what a task enqueues
goes to the private queue, never to a developer's worker on the same broker. `kill_when_blocked` stops a
worker at a known point of a task (waiting on a table lock) and SIGKILLs it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import psycopg2
from django.db import connection

from config.celery import app as celery_app
from tests.builders import REPO
from tests.celery.conftest import (
    _delete_queue,
    _route_default_queue_to,
    _wait_until_ready,
    _worker_environment,
    stop_worker,
    wait_for,
)

T = TypeVar("T")


class CeleryProcesses:
    """Workers and beat started one after another on one private queue."""

    def __init__(self, media_root: Path, log_dir: Path, **env: str) -> None:
        self.queue = f"relabel-test-{uuid.uuid4().hex[:12]}"
        self.media_root, self.log_dir, self.started = media_root, log_dir, []
        self.env = {**_worker_environment(media_root), "RELABEL_CELERY_QUEUE": self.queue, **env}

    def worker(
        self, *, pool: tuple[str, ...] = ("--pool", "solo"), name: str | None = None, **env: str
    ) -> subprocess.Popen:
        """A worker named `name@%h` (`-n w1@%h`, as on a host of its own), or after the queue by default."""
        number = sum(1 for path in self.log_dir.glob("worker-*.log"))
        return self._start(
            f"worker-{number}",
            ["worker", *pool, "--queues", self.queue, "--without-mingle", "--without-gossip",
             "--hostname", f"{name or f'{self.queue}-{number}'}@%h"],
            " ready.",
            env,
        )  # fmt: skip

    def beat(self, **env: str) -> subprocess.Popen:
        schedule = self.log_dir / "beat-schedule"
        return self._start("beat", ["beat", "--schedule", str(schedule)], "beat: Starting...", env)

    def _start(self, name: str, arguments: list[str], ready: str, env: dict[str, str]) -> subprocess.Popen:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", *arguments, "--loglevel", "INFO"],
                cwd=REPO, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.started.append(process)
        _wait_until_ready(process, log_path, ready)
        return process

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text()

    def results(self, task_name: str) -> dict[str, list[str]]:
        """Per worker log ("worker-0", …): the return value of each `task_name` it finished, as logged."""
        pattern = re.compile(rf"Task {re.escape(task_name)}\[[^\]]+\] succeeded in [^:]+: (.*)$", re.MULTILINE)
        return {path.stem: pattern.findall(path.read_text()) for path in sorted(self.log_dir.glob("worker-*.log"))}

    def received(self, task_name: str) -> int:
        """How many of the workers logged receiving `task_name`."""
        logs = [path.read_text() for path in sorted(self.log_dir.glob("worker-*.log"))]
        return sum(f"Task {task_name}[" in log and "received" in log for log in logs)

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                stop_worker(process)


@contextmanager
def celery_processes(media_root: Path, log_dir: Path, **env: str) -> Iterator[CeleryProcesses]:
    """CeleryProcesses, with this process publishing to their queue; everything stopped and removed after."""
    processes = CeleryProcesses(media_root, log_dir, **env)
    previous_queue, previous_eager = celery_app.conf.task_default_queue, celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    _route_default_queue_to(processes.queue)
    try:
        yield processes
    finally:
        processes.stop_all()
        _route_default_queue_to(previous_queue)
        celery_app.conf.task_always_eager = previous_eager
        _delete_queue(processes.queue)


def _connect(autocommit: bool):  # noqa: ANN202
    side = psycopg2.connect(**connection.get_connection_params())
    side.autocommit = autocommit
    return side


def _backends_waiting_on(watcher, table: str) -> list[int]:  # noqa: ANN001
    with watcher.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND query LIKE %s AND pid <> pg_backend_pid() ORDER BY pid",
            [f"%{table}%"],
        )
        return [row[0] for row in cursor.fetchall()]


def _backend_waiting_on(watcher, table: str) -> int | None:  # noqa: ANN001
    waiting = _backends_waiting_on(watcher, table)
    return waiting[0] if waiting else None


def _backend_alive(watcher, pid: int) -> bool:  # noqa: ANN001
    with watcher.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 1


@contextmanager
def blocked_at(table: str, enqueue: Callable[[], T], mode: str = "EXCLUSIVE", waiters: int = 1) -> Iterator[T]:
    """Hold a lock on `table` from a second connection (EXCLUSIVE: writes wait; ACCESS EXCLUSIVE: reads too),
    run `enqueue`, and yield its result once `waiters` workers' statements on `table` wait on the lock (a solo
    worker has one database session, so two waiting sessions are two workers busy at once); the lock is
    dropped on leaving."""
    side, watcher = _connect(autocommit=False), _connect(autocommit=True)
    try:
        with side.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{table}" IN {mode} MODE')
        result = enqueue()
        wait_for(
            lambda: len(_backends_waiting_on(watcher, table)) >= waiters,
            what=f"{waiters} workers' statements on {table}",
        )
        yield result
    finally:
        side.rollback()
        side.close()
        watcher.close()


def kill_when_blocked(worker: subprocess.Popen, table: str, enqueue: Callable[[], T]) -> T:
    """Hold an EXCLUSIVE lock on `table` from a second connection, run `enqueue`, and SIGKILL `worker` once its
    INSERT into `table` waits on the lock; then drop the lock and wait for the dead worker's backend to end
    (it gets the lock, finds its client gone and rolls back)."""
    watcher = _connect(autocommit=True)
    try:
        with blocked_at(table, enqueue) as result:
            blocked = _backend_waiting_on(watcher, table)
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=20)
            assert worker.returncode == -signal.SIGKILL
        wait_for(lambda: not _backend_alive(watcher, blocked), what="the dead worker's backend to end")
    finally:
        watcher.close()
    return result
