"""Which classes of an image go into a release, under the release's parameters. Pure Python, no Django.

Input is what the live consensus stores per image (annotator.models.Consensus): counts, shares, the
Dawid–Skene posterior, the adjudicated label set and flags. The rules:

- no consensus row, or fewer annotations than `min_annotations` → `pending`, empty set (unless adjudicated);
- adjudications apply and a reviewer settled the image → `adjudicated` with the reviewer's set, or
  `excluded` (empty set) when the reviewer marked it bad or ambiguous;
- majority: classes whose yes-share (a maybe counting half) reaches τ and that were answered by at least
  `min_annotations` annotators — or by as many as answered any class of the image, when fewer did;
- Dawid–Skene: classes whose posterior exceeds the threshold;
- status otherwise `disputed` when the live consensus recorded a dispute reason, else `agreed`.

With the dataset's own settings this gives the live consensus's label sets (tested), so a release is the
consensus frozen at one moment.
"""

from __future__ import annotations

from dataclasses import dataclass

MAJORITY, DAWID_SKENE = "majority", "dawid_skene"
PENDING, AGREED, DISPUTED, ADJUDICATED, EXCLUDED = "pending", "agreed", "disputed", "adjudicated", "excluded"
# The ReaL companion file's words: why an image's list is what it is.
LABELLED, EMPTY = "labelled", "empty"
TOLERANCE = 1e-9  # shares are stored rounded to 6 digits


@dataclass(frozen=True)
class ReleaseParameters:
    aggregation: str
    threshold: float
    min_annotations: int
    apply_adjudications: bool = True


@dataclass(slots=True)
class ConsensusFacts:
    """One image's stored consensus; class ids are LabelClass primary keys (JSON keys as strings)."""

    has_row: bool
    annotation_count: int = 0
    counts: dict[str, list[int]] | None = None  # {class id: [yes, no, maybe]}
    shares: dict[str, float] | None = None
    posterior: dict[str, float] | None = None
    labels: tuple[int, ...] = ()  # the effective (possibly adjudicated) set
    disputed: bool = False
    adjudicated: bool = False
    excluded: bool = False


@dataclass(slots=True)
class ImageOutcome:
    status: str
    classes: list[int]  # LabelClass ids
    support: dict[int, float | None]  # class id → yes-share or posterior

    @property
    def companion(self) -> str:
        """pending / excluded / labelled / empty: what an empty list in the ReaL file means."""
        if self.status in (PENDING, EXCLUDED):
            return self.status
        return LABELLED if self.classes else EMPTY


def image_outcome(facts: ConsensusFacts, params: ReleaseParameters) -> ImageOutcome:
    support_of = facts.posterior if params.aggregation == DAWID_SKENE else facts.shares
    support_of = support_of or {}
    if params.apply_adjudications and facts.adjudicated:
        if facts.excluded:
            return ImageOutcome(EXCLUDED, [], {})
        classes = sorted(facts.labels)
        return ImageOutcome(ADJUDICATED, classes, {c: support_of.get(str(c)) for c in classes})
    if not facts.has_row or facts.annotation_count < params.min_annotations:
        return ImageOutcome(PENDING, [], {})
    if params.aggregation == DAWID_SKENE:
        chosen = [int(c) for c, p in support_of.items() if p > params.threshold]
    else:
        counts = facts.counts or {}
        answered = {c: sum(v) for c, v in counts.items()}
        needed = max(min(params.min_annotations, max(answered.values(), default=0)), 1)
        chosen = [
            int(c)
            for c, share in support_of.items()
            if share >= params.threshold - TOLERANCE and answered.get(c, 0) >= needed
        ]
    classes = sorted(chosen)
    return ImageOutcome(DISPUTED if facts.disputed else AGREED, classes, {c: support_of[str(c)] for c in classes})
