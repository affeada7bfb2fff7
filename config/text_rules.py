"""Free text from users: length limits and bidirectional-control characters.

Bidi controls (U+202A–U+202E embeddings and overrides, U+2066–U+2069 isolates, U+200E/U+200F marks, U+061C)
reorder how text displays, so a right-to-left override makes a model name on the leaderboard read as
another. Names refuse them (a 400 that says so, and a database constraint); longer text (descriptions,
notes) has them removed, since a note is read, not compared.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# The same set as a PostgreSQL regular expression class (the CHECK constraints on name columns).
BIDI_CONTROL_PATTERN = "[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"
_BIDI = re.compile(BIDI_CONTROL_PATTERN)

NAME_MAX_LENGTH = 200  # model, dataset, reference set and class names
DESCRIPTION_MAX_LENGTH = 5000  # descriptions of prediction sets, reference sets and datasets
NOTE_MAX_LENGTH = 2000  # reviewers' notes
GLOSS_MAX_LENGTH = 2000  # a class's definition (WordNet's longest ImageNet gloss has 255 characters)


def refuse_bidi_controls(value: str) -> None:
    """Validator for names (forms, serializers, models)."""
    found = _BIDI.search(value or "")
    if found:
        raise ValidationError(
            f"Names may not contain bidirectional control characters (found U+{ord(found.group()):04X}): "
            "they can make the name display as something else.",
            code="bidi_control",
        )


def without_bidi_controls(value: str) -> str:
    """Free text with its bidi control characters removed."""
    return _BIDI.sub("", value)
