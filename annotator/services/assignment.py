"""Handing out images: leases, skips, reclaiming expired leases, raising how many annotations are needed.

Every image row carries `annotations_needed` (the dataset's N plus reviewer-requested extras),
`annotation_count` (completed) and `lease_count` (leases not yet reclaimed). These functions and
`annotator.services.annotations` are the only writers of those columns, and they change them with the
image row locked, so the database check `annotation_count + lease_count <= annotations_needed` holds and
"next image" reads one partial index (`image_open_queue_idx`) instead of counting rows per request.

The hand-out and the submit are PostgreSQL functions (annotator/db/sql/), one round trip each with plans
kept per connection; these services call them and document their rules.

Lock order everywhere: image rows first, then their leases. That keeps the reclaimer, the hand-out and
the submit path free of deadlocks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from annotator.core.redundancy import RedundancyRule
from annotator.models import Consensus, Dataset, Image, Lease, Skip
from annotator.pg_prepared import execute_prepared, fetchall_named
from annotator.services.consensus import consensus_recompute_dataset, consensus_refresh_image

logger = logging.getLogger(__name__)

# The image on screen plus the prefetched next one.
MAX_HELD_LEASES = 2


class AssignmentError(ValueError):
    """A request the assignment rules refuse; the message says why."""


# What the workbench shows of the leased image comes back with the lease (see annotator.selectors.annotations.item_for):
# the Image field each of relabel_lease_next's image columns fills.
_IMAGE_COLUMNS = {
    "id": "r_image", "key": "r_key", "original": "r_original", "display": "r_display", "width": "r_width",
    "height": "r_height", "original_label_id": "r_original_label",
}  # fmt: skip
# Model.from_db takes the values in the model's field order.
_IMAGE_FIELD_ORDER = [f.attname for f in Image._meta.concrete_fields if f.attname in _IMAGE_COLUMNS]
_LEASE_NEXT_SQL = "SELECT * FROM relabel_lease_next(%s, %s, %s::bigint[], %s, %s, %s)"
# The pick skips image rows another transaction holds locked (a submit, another hand-out) instead of waiting,
# so at the very end of the work the last open image can be locked at the moment a user asks, and "nothing
# left" would be wrong. Before answering so, ask again after these pauses (a submit holds its row for
# milliseconds); a user who really is done waits 0.14 s once.
_NOTHING_LEFT_RETRY_SECONDS = (0.02, 0.04, 0.08)


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def leases_reclaim_expired(*, dataset: Dataset, now: datetime | None = None) -> int:
    """Free the slots of expired leases in one dataset; returns how many images got slots back. One call of
    `relabel_leases_reclaim`, atomic on its own; `relabel_lease_next` runs it too."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relabel_leases_reclaim(%s, %s)", [dataset.pk, _now(now)])
        return cursor.fetchone()[0]


def lease_next(
    *, dataset: Dataset, annotator: User, exclude: Collection[int] = (), now: datetime | None = None
) -> Lease | None:
    """The annotator's next image in `dataset`, leased to them; None when nothing is left for them.

    A live lease they already hold and that is not in `exclude` is renewed and returned first, so a
    reload shows the same image and the client's prefetch (excluding the image on screen) holds at most
    one more. Otherwise the first open image they have never annotated, held or skipped, in this order:
    images a reviewer asked more annotations for (oldest request first), then those closest to
    completion (counting live leases), then by position. Only the head of that queue (its first 64
    images, where everyone at work meets) is searched for one; an annotator who has done all of those gets
    the first fresh image by position, and the whole queue is searched only when no fresh image is left.
    So a pick costs the same however many open images the annotator has already answered (an annotator
    far ahead of the others would otherwise walk past all of them on every call). Access (role,
    membership) is the caller's check.

    Candidates are shown in an order seeded by the image and annotator ids (`relabel_shown`): the same
    on every reload, different between annotators, saying nothing about a candidate's source.

    One call of `relabel_lease_next`, atomic on its own: expired leases are reclaimed
    first; the chosen image row is taken with `FOR UPDATE SKIP LOCKED` and its lease counter raised in the
    same statement as the lease is written, so concurrent callers never wait on each other and never push
    an image past its `annotations_needed`. Since a locked row is skipped, "nothing left" is answered only
    after asking three more times over 0.14 s (see _NOTHING_LEFT_RETRY_SECONDS).
    """
    fixed_now = now
    for pause in (*_NOTHING_LEFT_RETRY_SECONDS, None):
        now = _now(fixed_now)
        with connection.cursor() as cursor:
            execute_prepared(
                cursor,
                _LEASE_NEXT_SQL,
                [dataset.pk, annotator.pk, sorted(exclude), now, now + settings.RELABEL_LEASE_DURATION,
                 MAX_HELD_LEASES],
            )  # fmt: skip
            rows = fetchall_named(cursor)
        if rows or pause is None:
            break
        time.sleep(pause)
    if not rows:
        return None
    row = rows[0]
    if row["r_outcome"] == "too_many":
        raise AssignmentError(
            f"you already hold {row['r_held']} images of this dataset; submit or skip one before asking for more"
        )
    values = [row[_IMAGE_COLUMNS[name]] for name in _IMAGE_FIELD_ORDER]
    image = Image.from_db(connection.alias, _IMAGE_FIELD_ORDER, values)
    image.dataset_id = dataset.pk
    return Lease(
        id=row["r_lease"], image=image, annotator=annotator, dataset=dataset, shown=row["r_shown"],
        created_at=row["r_created"], expires_at=row["r_expires"],
    )  # fmt: skip


@transaction.atomic
def image_skip(*, image_id: int, annotator: User) -> Skip:
    """Give a leased image back to the pool; it is never handed to this annotator again.

    Locking: takes the image row, then deletes the lease.
    """
    image = Image.objects.select_for_update().filter(pk=image_id).first()
    deleted, _ = Lease.objects.filter(image_id=image_id, annotator=annotator).delete()
    if image is None or not deleted:
        raise AssignmentError(f"image {image_id} is not leased to you, so it cannot be skipped")
    Image.objects.filter(pk=image_id).update(lease_count=F("lease_count") - 1)
    skip, _ = Skip.objects.get_or_create(image_id=image_id, annotator=annotator)
    return skip


@transaction.atomic
def dataset_overlap_raise(*, dataset: Dataset, annotations_per_image: int) -> int:
    """Raise N for a whole dataset; every image needs N plus its own extras. Returns images updated (none under
    adaptive redundancy, where an image's need follows its answers instead).

    Lowering is refused: annotations and leases already handed out under the old N would exceed it.
    """
    locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
    if annotations_per_image < locked.annotations_per_image:
        raise AssignmentError(
            f"annotations per image can only be raised (it is {locked.annotations_per_image}, "
            f"not {annotations_per_image})"
        )
    locked.annotations_per_image = dataset.annotations_per_image = annotations_per_image
    locked.save(update_fields=["annotations_per_image"])
    if locked.adaptive:
        return 0
    return Image.objects.filter(dataset=locked).update(
        annotations_needed=annotations_per_image + F("extra_annotations")
    )


@transaction.atomic
def image_request_more(*, image_id: int, extra: int = 1, now: datetime | None = None) -> Image:
    """A reviewer asks for `extra` more annotations of one image; such images are handed out first, and the
    image stays in the review queue."""
    if extra < 1:
        raise AssignmentError("ask for at least one more annotation")
    image = Image.objects.select_for_update().get(pk=image_id)
    image.extra_annotations += extra
    image.annotations_needed += extra
    image.more_requested_at = _now(now)
    image.save(update_fields=["extra_annotations", "annotations_needed", "more_requested_at"])
    # The review queue reads the request from the consensus row (Consensus.more_requested), made here if the
    # image has none yet (the image row is locked, as consensus_refresh_image requires).
    if not Consensus.objects.filter(image_id=image_id).update(more_requested=True):
        consensus_refresh_image(image_id=image_id)
        Consensus.objects.filter(image_id=image_id).update(more_requested=True)
    logger.info("image %s: %s more annotation(s) requested", image_id, extra)
    return image


REDUNDANCY_KINDS = ("fixed", "adaptive")


@transaction.atomic
def dataset_redundancy_set(
    *, dataset: Dataset, redundancy: str, minimum: int = 2, maximum: int = 5, confidence: float = 0.95
) -> int:
    """Switch a dataset between fixed and adaptive redundancy (annotator.core.redundancy), or change the adaptive
    minimum, maximum and confidence. Returns the images whose need changed.

    Every image then needs what the setting gives before any answer (N, or the minimum; plus its extras) but never
    less than it already has answered or leased, and the consensus is recounted, which gives every undecided
    image whose slots are all answered one more (`images_needs_raise`). Refused (AssignmentError, nothing
    written) for an unknown kind or a rule out of range. Locking: the dataset row, then image rows.
    """
    if redundancy not in REDUNDANCY_KINDS:
        raise AssignmentError(f"redundancy must be one of {', '.join(REDUNDANCY_KINDS)}, not {redundancy!r}")
    try:
        RedundancyRule(minimum, maximum, confidence)
    except ValueError as exc:
        raise AssignmentError(str(exc)) from exc
    locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
    locked.redundancy, locked.redundancy_min = redundancy, minimum
    locked.redundancy_max, locked.redundancy_confidence = maximum, confidence
    locked.save(update_fields=["redundancy", "redundancy_min", "redundancy_max", "redundancy_confidence"])
    for name in ("redundancy", "redundancy_min", "redundancy_max", "redundancy_confidence"):
        setattr(dataset, name, getattr(locked, name))
    changed = (
        Image.objects.filter(dataset=locked)
        .exclude(annotations_needed=Greatest(locked.annotations_first_needed + F("extra_annotations"),
                                             F("annotation_count") + F("lease_count")))
        .update(annotations_needed=Greatest(locked.annotations_first_needed + F("extra_annotations"),
                                            F("annotation_count") + F("lease_count")))
    )  # fmt: skip
    consensus_recompute_dataset(dataset=locked)
    logger.info("dataset %s: redundancy %s (%d-%d, c=%s)", locked.slug, redundancy, minimum, maximum, confidence)
    return changed


QUEUE_ORDERS = ("position", "model_guided")


@transaction.atomic
def dataset_queue_order_set(*, dataset: Dataset, queue_order: str) -> bool:
    """Choose the order of the dataset's fresh images in the hand-out: `position`, or `model_guided` (highest
    `Image.model_score` first; see README, "Model-guided order"). Returns whether it changed; refused
    (AssignmentError, nothing written) for an unknown order. The next hand-out follows it; nothing else moves.
    Locking: the dataset row."""
    if queue_order not in QUEUE_ORDERS:
        raise AssignmentError(f"queue order must be one of {', '.join(QUEUE_ORDERS)}, not {queue_order!r}")
    locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
    changed = locked.queue_order != queue_order
    if changed:
        locked.queue_order = queue_order
        locked.save(update_fields=["queue_order"])
        logger.info("dataset %s: queue order %s", locked.slug, queue_order)
    dataset.queue_order = queue_order
    return changed
