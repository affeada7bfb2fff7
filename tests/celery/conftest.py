"""A real Celery worker process for integration tests, on the configured broker and the test database.

The worker gets the test database's name (RELABEL_DATABASE_NAME, or a DATABASE_URL pointing at it), the
same broker URL as this process and the same media folder. It consumes a private queue, and this process
publishes to that queue, so a developer's own worker on the same broker never takes the test's tasks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection

from annotator.roles import ROLES
from config.celery import app as celery_app
from tests.builders import REPO

READY_TIMEOUT = 90


def _worker_environment(media_root: Path) -> dict[str, str]:
    test_database = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "RELABEL_DATABASE_NAME": test_database,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DJANGO_MEDIA_ROOT": str(media_root),
        "DJANGO_DEBUG": "false",
    }
    if env.get("DATABASE_URL"):
        parts = urlsplit(env["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{test_database}"))
    return env


def _route_default_queue_to(queue: str) -> None:
    celery_app.conf.task_default_queue = queue
    for cached in ("default_queue", "queues", "router"):  # recomputed from the new setting on next use
        celery_app.amqp.__dict__.pop(cached, None)


@pytest.fixture
def celery_worker_process(transactional_db, settings, tmp_path) -> Iterator[subprocess.Popen]:
    settings.MEDIA_ROOT = tmp_path / "media"
    for name in ROLES:  # an earlier transactional test's flush emptied the groups the migrations create
        Group.objects.get_or_create(name=name)
    queue = f"relabel-test-{uuid.uuid4().hex[:12]}"
    log_path = tmp_path / "worker.log"
    previous_queue = celery_app.conf.task_default_queue
    previous_eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--queues", queue,
             "--loglevel", "INFO", "--without-mingle", "--without-gossip", "--hostname", f"{queue}@%h"],
            cwd=REPO, env=_worker_environment(settings.MEDIA_ROOT), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_until_ready(worker, log_path)
        _route_default_queue_to(queue)
        yield worker
    finally:
        stop_worker(worker)
        _route_default_queue_to(previous_queue)
        celery_app.conf.task_always_eager = previous_eager
        _delete_queue(queue)


def stop_worker(worker: subprocess.Popen) -> None:
    """Warm shutdown, or a kill when it takes longer than 20 s."""
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def _wait_until_ready(worker: subprocess.Popen, log_path: Path, ready: str = " ready.") -> None:
    """Until the process logs `ready` (a worker's " ready.", beat's "beat: Starting...")."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            pytest.fail(f"the Celery process exited with status {worker.returncode}:\n{log_path.read_text()}")
        if ready in log_path.read_text():
            return
        time.sleep(0.2)
    pytest.fail(f"the Celery process was not ready within {READY_TIMEOUT} s:\n{log_path.read_text()}")


def _delete_queue(queue: str) -> None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
    except Exception:  # noqa: BLE001 - best effort: an empty leftover queue harms nothing
        pass


def wait_for(condition, timeout: float = 60.0, what: str = "the condition", log: Path | None = None):  # noqa: ANN001
    """Poll `condition()` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")
