"""Shared fixtures: the named personas (built by tests/builders, where every builder lives); and the check, at
the end of the session, that no process the suite started and no embedded PostgreSQL server outlives it."""

from __future__ import annotations

import os
import uuid

import pytest

from annotator.roles import ANNOTATOR, RESEARCHER, REVIEWER
from tests.builders.users import user_with_roles


@pytest.fixture
def annotator(db):
    return user_with_roles("anna", ANNOTATOR)


@pytest.fixture
def second_annotator(db):
    return user_with_roles("bert", ANNOTATOR)


@pytest.fixture
def team(annotator, second_annotator):
    """Three annotators: anna, bert and carl."""
    return [annotator, second_annotator, user_with_roles("carl", ANNOTATOR)]


@pytest.fixture
def reviewer(db):
    return user_with_roles("rita", REVIEWER)


@pytest.fixture
def researcher(db):
    return user_with_roles("rosa", RESEARCHER)


@pytest.fixture
def staff(db):
    return user_with_roles("sam", is_staff=True)


@pytest.fixture
def outsider(db):
    """Signed in, but holds no role."""
    return user_with_roles("otto")


# Every process the suite starts inherits this mark in its environment (xdist workers inherit the controller's,
# so only the process that set it checks).
SESSION_MARK = "RELABEL_TEST_SESSION"
if SESSION_MARK not in os.environ:
    os.environ[SESSION_MARK] = uuid.uuid4().hex
    _CHECKS_LEFTOVERS = True
else:
    _CHECKS_LEFTOVERS = False
LEFTOVER_GRACE_SECONDS = 15


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the run when a process it started (a worker, beat, gunicorn, an orphan of theirs) still runs, or
    when the embedded PostgreSQL server keeps running with no live process holding it."""
    if not _CHECKS_LEFTOVERS:
        return
    from tests.leftovers import embedded_server_left_running, processes_left_running

    problems = processes_left_running(os.environ[SESSION_MARK], LEFTOVER_GRACE_SECONDS)
    problems += embedded_server_left_running()
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line("")
        reporter.write_sep("=", "left running after the suite", red=True)
        for problem in problems:
            reporter.write_line(f"LEFT RUNNING: {problem}", red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
