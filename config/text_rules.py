"""Free text from users: length limits and bidirectional-control characters.

Bidi controls (U+202A–U+202E embeddings and overrides, U+2066–U+2069 isolates, U+200E/U+200F marks, U+061C)
reorder how text displays, so a right-to-left override makes a model name on the leaderboard read as
another. Names refuse them (a 400 that says so, and a database constraint); longer text (descriptions,
notes) has them removed, since a note is read, not compared.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# The same set as a PostgreSQL regular expression class (the CHECK constraints on name columns).
BIDI_CONTROL_PATTERN = "[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"
_BIDI = re.compile(BIDI_CONTROL_PATTERN)

NAME_MAX_LENGTH = 200  # model, dataset, reference set and class names
DESCRIPTION_MAX_LENGTH = 5000  # descriptions of prediction sets, reference sets and datasets
NOTE_MAX_LENGTH = 2000  # reviewers' notes
GLOSS_MAX_LENGTH = 2000  # a class's definition (WordNet's longest ImageNet gloss has 255 characters)


def _bidi_problem(value: str, what: str) -> str | None:
    found = _BIDI.search(value or "")
    if found is None:
        return None
    return (
        f"the {what} may not contain bidirectional control characters (found U+{ord(found.group()):04X}): "
        "they can make it display as another"
    )


def refuse_bidi_controls(value: str) -> None:
    """Validator for names (forms, serializers, models)."""
    if problem := _bidi_problem(value, "name"):
        raise ValidationError(problem[0].upper() + problem[1:] + ".", code="bidi_control")


def without_bidi_controls(value: str) -> str:
    """Free text with its bidi control characters removed."""
    return _BIDI.sub("", value)


class TextInputError(ValueError):
    """Free text refused: too long, or a name with bidi controls; the message says which and why."""


def clean_name(value: str, *, what: str = "name", max_length: int = NAME_MAX_LENGTH) -> str:
    """A name stripped of surrounding space; too long, or holding bidi controls, raises TextInputError."""
    name = value.strip()
    if len(name) > max_length:
        raise TextInputError(f"the {what} has {len(name):,} characters; at most {max_length:,} are allowed")
    if problem := _bidi_problem(name, what):
        raise TextInputError(problem)
    return name


def clean_text(value: str, *, what: str, max_length: int) -> str:
    """Free text (a description, a note) without bidi controls; too long raises TextInputError."""
    text = without_bidi_controls(value.strip())
    if len(text) > max_length:
        raise TextInputError(f"the {what} has {len(text):,} characters; at most {max_length:,} are allowed")
    return text


def no_bidi_controls_constraint(field: str, name: str) -> models.CheckConstraint:
    """The database's half of refusing bidi controls in a name column."""
    return models.CheckConstraint(condition=~Q(**{f"{field}__regex": BIDI_CONTROL_PATTERN}), name=name)


def length_constraint(field: str, max_length: int, name: str) -> models.CheckConstraint:
    """A text column of at most `max_length` characters (TextField's max_length reaches only forms)."""
    return models.CheckConstraint(condition=LessThanOrEqual(Length(field), max_length), name=name)
