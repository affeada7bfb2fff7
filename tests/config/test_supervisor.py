"""The supervisor's restart policy, with children that exit at once (the demo's real children: test_demo_*)."""

from __future__ import annotations

import sys

import pytest

from config import supervisor
from config.supervisor import Supervisor


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(supervisor, "BACKOFF_FIRST", 0.05)
    monkeypatch.setattr(supervisor, "POLL_SECONDS", 0.02)


def test_a_child_that_keeps_failing_at_once_is_restarted_with_growing_delays_and_then_everything_stops(fast):
    log: list[str] = []
    crashing = [sys.executable, "-c", "raise SystemExit(3)"]
    sleeping = [sys.executable, "-c", "import time; time.sleep(60)"]
    status = Supervisor({"web": sleeping, "worker": crashing}, env={}, log=log.append).run()
    assert status == 1
    exits = [line for line in log if line.startswith("worker exited with status 3")]
    assert len(exits) == supervisor.CRASH_LOOP
    delays = [float(line.rsplit(" in ", 1)[1].removesuffix(" s")) for line in exits[:-1]]
    assert delays == sorted(delays) and delays[-1] > delays[0], delays
    assert any("giving up and stopping everything" in line for line in log)
    assert not any(line.startswith("web exited") for line in log), "the healthy child was left alone meanwhile"
