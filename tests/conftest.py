"""Shared fixtures: named personas and small datasets built through the real services."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = REPO / "tests" / "data"
IMAGENET_DATA = REPO / "data" / "imagenet"
