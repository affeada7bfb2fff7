"""Handing out images: leases, skips, reclaiming expired leases, raising how many annotations are needed.

Every image row carries `annotations_needed` (the dataset's N plus reviewer-requested extras),
`annotation_count` (completed) and `lease_count` (leases not yet reclaimed). These functions and
`annotator.services.annotations` are the only writers of those columns, and they change them with the
image row locked, so the database check `annotation_count + lease_count <= annotations_needed` holds and
"next image" reads one partial index (`image_open_queue_idx`) instead of counting rows per request.

Lock order everywhere: image rows first, then their leases. That keeps the reclaimer, the hand-out and
the submit path free of deadlocks.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from annotator.models import Candidate, Dataset, Image, Lease, Skip
from annotator.selectors import shuffled_candidates

logger = logging.getLogger(__name__)

# The image on screen plus the prefetched next one.
MAX_HELD_LEASES = 2


class AssignmentError(ValueError):
    """A request the assignment rules refuse; the message says why."""


# What the workbench shows of the picked image comes back with it (see annotator.selectors.item_for).
# (Model.from_db takes the values in the model's field order.)
_IMAGE_COLUMNS = tuple(
    f.attname
    for f in Image._meta.concrete_fields
    if f.attname in {"id", "dataset_id", "key", "original_label_id", "original", "display", "width", "height"}
)
_PICK_SQL = f"""
WITH picked AS (
    SELECT i.id FROM {Image._meta.db_table} i
    WHERE i.dataset_id = %(dataset)s
      AND i.annotations_needed > i.annotation_count + i.lease_count
      AND NOT EXISTS (SELECT 1 FROM annotator_annotation a WHERE a.image_id = i.id AND a.annotator_id = %(user)s)
      AND NOT EXISTS (SELECT 1 FROM annotator_lease l WHERE l.image_id = i.id AND l.annotator_id = %(user)s)
      AND NOT EXISTS (SELECT 1 FROM annotator_skip s WHERE s.image_id = i.id AND s.annotator_id = %(user)s)
    ORDER BY i.more_requested_at ASC NULLS LAST,
             (i.annotations_needed - i.annotation_count - i.lease_count),
             i.position
    LIMIT 1
    FOR UPDATE OF i SKIP LOCKED
)
UPDATE {Image._meta.db_table} i SET lease_count = i.lease_count + 1
FROM picked WHERE i.id = picked.id
RETURNING {", ".join(f"i.{column}" for column in _IMAGE_COLUMNS)},
          ARRAY(SELECT c.label_class_id FROM {Candidate._meta.db_table} c WHERE c.image_id = i.id)
"""

# Lock the images of expired leases (skipping those another transaction holds: they are reclaimed on a
# later call), delete those leases, and give their slots back.
_RECLAIM_SQL = f"""
WITH locked AS (
    SELECT i.id FROM {Image._meta.db_table} i
    WHERE i.id IN (SELECT image_id FROM annotator_lease WHERE dataset_id = %(dataset)s AND expires_at <= %(now)s)
    FOR UPDATE OF i SKIP LOCKED
), gone AS (
    DELETE FROM annotator_lease l USING locked
    WHERE l.image_id = locked.id AND l.expires_at <= %(now)s
    RETURNING l.image_id
)
UPDATE {Image._meta.db_table} i SET lease_count = i.lease_count - g.n
FROM (SELECT image_id, count(*) AS n FROM gone GROUP BY image_id) g
WHERE i.id = g.image_id
"""


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


@transaction.atomic
def leases_reclaim_expired(*, dataset: Dataset, now: datetime | None = None) -> int:
    """Free the slots of expired leases in one dataset; returns how many images got slots back."""
    return _reclaim(dataset, _now(now))


def _reclaim(dataset: Dataset, now: datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_RECLAIM_SQL, {"dataset": dataset.pk, "now": now})
        return cursor.rowcount


@transaction.atomic
def lease_next(
    *, dataset: Dataset, annotator: AbstractBaseUser, exclude: Collection[int] = (), now: datetime | None = None
) -> Lease | None:
    """The annotator's next image in `dataset`, leased to them; None when nothing is left for them.

    A live lease they already hold and that is not in `exclude` is renewed and returned first, so a
    reload shows the same image and the client's prefetch (excluding the image on screen) holds at most
    one more. Otherwise the first open image they have never annotated, held or skipped, in this order:
    images a reviewer asked more annotations for (oldest request first), then those closest to
    completion (counting live leases), then by position. Access (role, membership) is the caller's check.

    Locking: expired leases are reclaimed first; the chosen image row is taken with
    `FOR UPDATE SKIP LOCKED` and its lease counter raised in the same statement, so concurrent callers
    never wait on each other and never push an image past its `annotations_needed`.
    """
    now = _now(now)
    _reclaim(dataset, now)
    held = list(
        Lease.objects.filter(annotator=annotator, dataset=dataset, expires_at__gt=now)
        .select_related("image")
        .order_by("created_at")
    )
    for lease in held:
        if lease.image_id not in exclude:
            lease.expires_at = now + settings.RELABEL_LEASE_DURATION
            lease.save(update_fields=["expires_at"])
            return lease
    if len(held) >= MAX_HELD_LEASES:
        raise AssignmentError(
            f"you already hold {len(held)} images of this dataset; submit or skip one before asking for more"
        )
    with connection.cursor() as cursor:
        cursor.execute(_PICK_SQL, {"dataset": dataset.pk, "user": annotator.pk})
        row = cursor.fetchone()
    if row is None:
        return None
    *image_values, candidate_ids = row
    image = Image.from_db(connection.alias, _IMAGE_COLUMNS, image_values)  # other fields deferred
    return Lease.objects.create(
        image=image,
        annotator=annotator,
        dataset=dataset,
        shown=shuffled_candidates(
            image_id=image.pk, candidate_ids=candidate_ids, original_label_id=image.original_label_id,
            annotator_id=annotator.pk,
        ),
        expires_at=now + settings.RELABEL_LEASE_DURATION,
    )  # fmt: skip


@transaction.atomic
def image_skip(*, image_id: int, annotator: AbstractBaseUser) -> Skip:
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
    """Raise N for a whole dataset; every image needs N plus its own extras. Returns images updated.

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
    return Image.objects.filter(dataset=locked).update(
        annotations_needed=annotations_per_image + F("extra_annotations")
    )


@transaction.atomic
def image_request_more(*, image_id: int, extra: int = 1, now: datetime | None = None) -> Image:
    """A reviewer asks for `extra` more annotations of one image; such images are handed out first."""
    if extra < 1:
        raise AssignmentError("ask for at least one more annotation")
    image = Image.objects.select_for_update().get(pk=image_id)
    image.extra_annotations += extra
    image.annotations_needed += extra
    image.more_requested_at = _now(now)
    image.save(update_fields=["extra_annotations", "annotations_needed", "more_requested_at"])
    logger.info("image %s: %s more annotation(s) requested", image_id, extra)
    return image
