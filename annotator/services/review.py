"""Reviewers' decisions about one image: adjudicate (set the final label set, or exclude the image as bad or
ambiguous), revise (decide again), revert to the computed consensus, and ask for more annotations.

A decision overrides the computed consensus in the image's `Consensus` row — `adjudicated=True`, status
"adjudicated", `labels` = the final set (empty when excluded), `excluded` when marked bad or ambiguous — and
appends an `Adjudication` row (the audit trail, append-only). The live consensus upsert keeps the status and
labels of adjudicated rows, so annotations arriving later cannot undo a decision; a revert recomputes the
image through the same consensus service. Metrics and releases read `Consensus.labels` and leave excluded
images out (`annotator.selectors.consensus.settled_consensus_labels`).

Locking: every function locks the image row, then its consensus row — the order of the submit path
(`annotation_submit` locks the image, then upserts the consensus) — so a decision and a submit never
deadlock, and two reviewers deciding one image at once serialise: the second sees the first's outcome as
its `labels_before`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotator.models import Adjudication, Consensus, Image, LabelClass
from annotator.services.assignment import AssignmentError, image_request_more
from annotator.services.consensus import consensus_refresh_image
from config.text_rules import NOTE_MAX_LENGTH, TextInputError, clean_text

logger = logging.getLogger(__name__)

Action = Adjudication.Action
EXCLUSIONS = {"bad": Action.EXCLUDE_BAD, "ambiguous": Action.EXCLUDE_AMBIGUOUS}
MAX_EXTRA = 10


class ReviewError(ValueError):
    """A decision refused before anything is written; the message says why."""


def _locked(image_id: int) -> tuple[Image, Consensus]:
    """The image row and its consensus row, both locked (created first when the image has none yet)."""
    image = Image.objects.select_for_update().filter(pk=image_id).first()
    if image is None:
        raise ReviewError(f"image {image_id} does not exist")
    consensus = Consensus.objects.select_for_update().filter(image_id=image_id).first()
    if consensus is None:
        consensus_refresh_image(image_id=image_id)
        consensus = Consensus.objects.select_for_update().get(image_id=image_id)
    return image, consensus


def _validated(labels: Sequence[int], dataset_id: int) -> list[int]:
    classes = sorted(set(labels))
    if len(classes) != len(labels):
        raise ReviewError("a class is listed twice")
    known = set(LabelClass.objects.filter(dataset_id=dataset_id, pk__in=classes).values_list("pk", flat=True))
    if unknown := [c for c in classes if c not in known]:
        raise ReviewError(f"class {unknown[0]} is not in this dataset's vocabulary")
    return classes


def _replay(image_id: int, reviewer: User, client_uuid: uuid.UUID | None) -> Adjudication | None:
    """The decision this reviewer already made with this client UUID, if any. Call with the image locked, so
    a concurrent retry of the same decision has committed or waits."""
    if client_uuid is None:
        return None
    earlier = Adjudication.objects.filter(reviewer=reviewer, client_uuid=client_uuid).first()
    if earlier is not None and earlier.image_id != image_id:
        raise ReviewError(f"client_uuid {client_uuid} was already used for image {earlier.image_id}")
    return earlier


def _record(
    consensus: Consensus,
    reviewer: User,
    action: str,
    before: tuple[str, list[int]],
    note: str,
    client_uuid: uuid.UUID | None,
) -> Adjudication:
    try:
        note = clean_text(note, what="note", max_length=NOTE_MAX_LENGTH)
    except TextInputError as error:
        raise ReviewError(str(error)) from None  # the caller's transaction rolls back the decision
    return Adjudication.objects.create(
        client_uuid=client_uuid,
        image_id=consensus.image_id,
        dataset_id=consensus.dataset_id,
        reviewer=reviewer,
        action=action,
        status_before=before[0],
        labels_before=before[1],
        status_after=consensus.status,
        labels_after=list(consensus.labels),
        note=note,
    )


def _decide(
    image_id: int,
    reviewer: User,
    action: str,
    labels: Sequence[int] | None,
    note: str,
    client_uuid: uuid.UUID | None,
) -> tuple[Adjudication, bool]:
    image, consensus = _locked(image_id)
    if replay := _replay(image_id, reviewer, client_uuid):
        return replay, False
    final = [] if labels is None else _validated(labels, image.dataset_id)
    before = (consensus.status, list(consensus.labels))
    consensus.adjudicated = True
    consensus.status = Consensus.Status.ADJUDICATED
    consensus.labels = final
    consensus.excluded = labels is None
    consensus.updated_at = timezone.now()
    consensus.save(update_fields=["adjudicated", "status", "labels", "excluded", "updated_at"])
    logger.info("image %s: %s by %s", image_id, action, reviewer.pk)
    return _record(consensus, reviewer, action, before, note, client_uuid), True


# Every decision returns (the adjudication, whether it was created now) and takes an optional `client_uuid`:
# a retry with the same one (same reviewer) returns the first decision, created False, and writes nothing,
# like annotation submits.


@transaction.atomic
def adjudication_set(
    *,
    image_id: int,
    reviewer: User,
    labels: Sequence[int],
    note: str = "",
    client_uuid: uuid.UUID | None = None,
) -> tuple[Adjudication, bool]:
    """Make `labels` (LabelClass ids of the image's dataset; empty = no valid class) the image's final
    label set, overriding the computed consensus. Deciding again revises the decision."""
    return _decide(image_id, reviewer, Action.SET, labels, note, client_uuid)


@transaction.atomic
def adjudication_exclude(
    *, image_id: int, reviewer: User, reason: str, note: str = "", client_uuid: uuid.UUID | None = None
) -> tuple[Adjudication, bool]:
    """Mark the image bad or ambiguous (`reason`): its label set is emptied and it leaves metrics and releases."""
    if reason not in EXCLUSIONS:
        raise ReviewError(f"exclude an image as {' or '.join(EXCLUSIONS)}, not {reason!r}")
    return _decide(image_id, reviewer, EXCLUSIONS[reason], None, note, client_uuid)


@transaction.atomic
def adjudication_revert(
    *, image_id: int, reviewer: User, note: str = "", client_uuid: uuid.UUID | None = None
) -> tuple[Adjudication, bool]:
    """Drop the image's adjudication: its consensus is recomputed from the votes, as if never adjudicated."""
    _image, consensus = _locked(image_id)
    if replay := _replay(image_id, reviewer, client_uuid):
        return replay, False
    if not consensus.adjudicated:
        raise ReviewError(f"image {image_id} has no adjudication to revert")
    before = (consensus.status, list(consensus.labels))
    # The upsert keeps status and labels only while `adjudicated` is set, so clear it first.
    Consensus.objects.filter(pk=consensus.pk).update(adjudicated=False, excluded=False)
    consensus_refresh_image(image_id=image_id)
    consensus.refresh_from_db()
    logger.info("image %s: adjudication reverted by %s", image_id, reviewer.pk)
    return _record(consensus, reviewer, Action.REVERT, before, note, client_uuid), True


@transaction.atomic
def review_request_more(
    *,
    image_id: int,
    reviewer: User,
    extra: int = 1,
    note: str = "",
    client_uuid: uuid.UUID | None = None,
) -> tuple[Adjudication, bool]:
    """Raise the image's overlap by `extra` and put it at the front of the annotation queue
    (`image_request_more`). Its consensus goes back to pending until the new annotations arrive, unless
    it is adjudicated (the decision stands; revert it to let the new votes decide)."""
    if not 1 <= extra <= MAX_EXTRA:
        raise ReviewError(f"ask for 1 to {MAX_EXTRA} more annotations, not {extra}")
    _image, consensus = _locked(image_id)
    if replay := _replay(image_id, reviewer, client_uuid):
        return replay, False
    before = (consensus.status, list(consensus.labels))
    try:
        image_request_more(image_id=image_id, extra=extra)
    except AssignmentError as error:
        raise ReviewError(str(error)) from error
    consensus_refresh_image(image_id=image_id)
    consensus.refresh_from_db()
    return _record(consensus, reviewer, Action.MORE, before, note, client_uuid), True
