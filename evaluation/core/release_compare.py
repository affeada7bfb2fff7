"""Comparing two releases of a dataset: which images' label sets changed, and how (pure Python, no Django).

`evaluation.selectors.releases.release_compare` reads the two releases' ReaL files and status companions from
storage (a few MB at 50k images), diffs them here and names the images of the requested page.
"""

from __future__ import annotations

from dataclasses import dataclass

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
KINDS = (ADDED, REMOVED, CHANGED)
ABSENT = "absent"  # an image imported after the older release


@dataclass(frozen=True)
class LabelChange:
    position: int
    kind: str
    before: list[int]
    after: list[int]
    before_status: str
    after_status: str


def label_changes(
    before: list[list[int]], after: list[list[int]], before_status: list[str], after_status: list[str]
) -> list[LabelChange]:
    """Images whose label set differs, in dataset order: `added` (had none, has some), `removed` (had some,
    has none) or `changed` (a different non-empty set)."""
    changes = []
    for position in range(max(len(before), len(after))):
        old = sorted(before[position]) if position < len(before) else []
        new = sorted(after[position]) if position < len(after) else []
        if old == new:
            continue
        kind = ADDED if not old else REMOVED if not new else CHANGED
        old_status = before_status[position] if position < len(before_status) else ABSENT
        new_status = after_status[position] if position < len(after_status) else ABSENT
        changes.append(LabelChange(position, kind, old, new, old_status, new_status))
    return changes
