"""Which classes of an image go into a release, under the release's parameters. Pure Python, no Django.

Input is what the live consensus stores per image (annotator.models.Consensus): counts, shares, the
Dawid–Skene posterior, the adjudicated label set and flags. The rules:

- adjudications apply and a reviewer settled the image → `adjudicated` with the reviewer's set, or
  `excluded` (empty set) when the reviewer marked it bad or ambiguous;
- no answer at all and `unanswered_as_original` (ReaL's convention: an image nobody was asked about keeps
  its single label) → `original` with the image's original label, when it has one;
- otherwise no consensus row, or fewer annotations than `min_annotations` → `pending`, empty set;
- majority: classes whose yes-share (a maybe counting half) reaches τ; Dawid–Skene: classes whose posterior
  exceeds the threshold; either way only classes answered by at least `min_annotations` annotators, so a
  class one annotator found through search is not valid alone, whatever the others answered (None fits
  and Bad image answers cast no vote on it, yet count as annotations);
- status otherwise `disputed` when the live consensus recorded a dispute reason, else `agreed`.

With the dataset's own settings this gives the live consensus's label sets (tested, also as a property over
every combination of answers), so a release is the consensus frozen at one moment; ReaL's convention only
adds the original labels of images the consensus has nothing on.
"""

from __future__ import annotations

from dataclasses import dataclass

MAJORITY, DAWID_SKENE = "majority", "dawid_skene"
PENDING, AGREED, DISPUTED, ADJUDICATED, EXCLUDED = "pending", "agreed", "disputed", "adjudicated", "excluded"
ORIGINAL = "original"  # not answered: the original label stands (ReaL's convention)
# The ReaL companion file's words: why an image's list is what it is.
LABELLED, EMPTY = "labelled", "empty"
TOLERANCE = 1e-9  # shares are stored rounded to 6 digits


@dataclass(frozen=True)
class ReleaseParameters:
    aggregation: str
    threshold: float
    min_annotations: int
    apply_adjudications: bool = True
    unanswered_as_original: bool = False


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
    original: int | None = None  # the image's original label (class id)


@dataclass(slots=True)
class ImageOutcome:
    status: str
    classes: list[int]  # LabelClass ids
    support: dict[int, float | None]  # class id → yes-share or posterior

    @property
    def companion(self) -> str:
        """pending / excluded / original / labelled / empty: why the image's list in the ReaL file is what it is."""
        if self.status in (PENDING, EXCLUDED, ORIGINAL):
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
    if params.unanswered_as_original and facts.annotation_count == 0 and facts.original is not None:
        return ImageOutcome(ORIGINAL, [facts.original], {facts.original: None})
    if not facts.has_row or facts.annotation_count < params.min_annotations:
        return ImageOutcome(PENDING, [], {})
    # Answers a class needs: the minimum annotations (the image has at least that many here), however many of
    # its annotators cast no vote on the class (None fits, Bad image, or not shown a class found by search).
    counts = facts.counts or {}
    if params.aggregation == DAWID_SKENE:
        chosen = [int(c) for c, p in support_of.items() if p > params.threshold]
    else:
        chosen = [int(c) for c, share in support_of.items() if share >= params.threshold - TOLERANCE]
    classes = sorted(c for c in chosen if sum(counts.get(str(c), ())) >= params.min_annotations)
    return ImageOutcome(DISPUTED if facts.disputed else AGREED, classes, {c: support_of[str(c)] for c in classes})
