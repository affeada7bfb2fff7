"""Comparing two releases of a dataset: which images' label sets changed, and how.

The diff itself is pure; `release_compare` reads the two releases' ReaL files and status companions from
storage (a few MB at 50k images) and names the images of the requested page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from annotator.models import Image, LabelClass
from evaluation.release_models import Release, ReleaseFile

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


@dataclass(frozen=True)
class ReleaseComparison:
    before: Release
    after: Release
    counts: dict[str, int]
    total: int
    kind: str | None
    offset: int
    rows: list[dict]


def release_compare(
    before: Release, after: Release, *, kind: str | None = None, offset: int = 0, limit: int = 100
) -> ReleaseComparison:
    """Counts per kind and one page of changed images (key, classes before and after with names)."""
    from evaluation.services.releases import release_storage

    files = {
        (f.release_id, f.kind): f.storage_name
        for f in ReleaseFile.objects.filter(
            release__in=[before, after], kind__in=[ReleaseFile.Kind.REAL_JSON, ReleaseFile.Kind.REAL_STATUS]
        )
    }
    storage = release_storage()

    def load(release: Release, file_kind: str) -> list:
        with storage.open(files[(release.pk, file_kind)], "rb") as handle:
            return json.load(handle)

    changes = label_changes(
        load(before, ReleaseFile.Kind.REAL_JSON),
        load(after, ReleaseFile.Kind.REAL_JSON),
        load(before, ReleaseFile.Kind.REAL_STATUS),
        load(after, ReleaseFile.Kind.REAL_STATUS),
    )
    counts = {k: 0 for k in KINDS}
    for change in changes:
        counts[change.kind] += 1
    selected = [c for c in changes if kind is None or c.kind == kind]
    page = selected[offset : offset + limit]
    keys = dict(
        Image.objects.filter(dataset_id=after.dataset_id, position__in=[c.position for c in page]).values_list(
            "position", "key"
        )
    )
    wanted = {i for c in page for i in (*c.before, *c.after)}
    names = dict(LabelClass.objects.filter(dataset_id=after.dataset_id, index__in=wanted).values_list("index", "name"))
    rows = [
        {
            "position": c.position,
            "key": keys.get(c.position, ""),
            "kind": c.kind,
            "before": [{"index": i, "name": names.get(i, "")} for i in c.before],
            "after": [{"index": i, "name": names.get(i, "")} for i in c.after],
            "before_status": c.before_status,
            "after_status": c.after_status,
        }
        for c in page
    ]
    return ReleaseComparison(before, after, counts, len(changes), kind, offset, rows)
