"""Shared fixtures: named personas and small datasets built through the real services."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.roles import ANNOTATOR, RESEARCHER, REVIEWER, role_groups

REPO = Path(__file__).resolve().parent.parent
IMAGENET_DATA = REPO / "data" / "imagenet"
REAL_DATA = REPO / "data" / "real"
PREDICTIONS_DATA = REPO / "data" / "predictions"
PASSWORD = "correct horse battery staple"


def _user(username: str, *roles: str, is_staff: bool = False):
    from tests.factories import UserFactory

    user = UserFactory(username=username, is_staff=is_staff)
    user.groups.set(role_groups(*roles))
    return user


@pytest.fixture
def annotator(db):
    return _user("anna", ANNOTATOR)


@pytest.fixture
def second_annotator(db):
    return _user("bert", ANNOTATOR)


@pytest.fixture
def team(annotator, second_annotator):
    """Three annotators: anna, bert and carl."""
    return [annotator, second_annotator, _user("carl", ANNOTATOR)]


@pytest.fixture
def reviewer(db):
    return _user("rita", REVIEWER)


@pytest.fixture
def researcher(db):
    return _user("rosa", RESEARCHER)


@pytest.fixture
def staff(db):
    return _user("sam", is_staff=True)


@pytest.fixture
def outsider(db):
    """Signed in, but holds no role."""
    return _user("otto")
