"""Submitting and revising annotations, and the votes that mirror them.

`annotation_submit` (first answer, turns a lease into an annotation) is one call of the PostgreSQL
function `relabel_annotation_submit`; `annotation_revise` (a later change) writes through `_answer_store`.
Both write the votes with `relabel_votes_write` (the one definition of how an answer becomes votes) and
recount the live consensus (issue 4) in the same transaction, with the image row locked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from annotator.models import Annotation, AnnotationRevision, Image, LabelClass
from annotator.pg_prepared import execute_prepared
from annotator.selectors.consensus import consensus_inputs_from_rows
from annotator.selectors.datasets import annotates_dataset
from annotator.services.consensus import consensus_refresh_image


class AnnotationInputError(ValueError):
    """An answer refused before anything is written; the message says what is wrong."""


@dataclass(frozen=True)
class Answer:
    classes: list[int] = field(default_factory=list)
    none_fits: bool = False
    unsure: bool = False
    bad_image: bool = False
    seconds: float = 0.0


_SUBMIT_SQL = "SELECT * FROM relabel_annotation_submit(%s, %s, %s, %s::bigint[], %s, %s, %s, %s, %s)"


@transaction.atomic
def annotation_submit(
    *, annotator: AbstractBaseUser, image_id: int, answer: Answer, client_uuid: uuid.UUID
) -> tuple[Annotation, bool]:
    """Store the annotator's first answer for a leased image; returns (annotation, created).

    Idempotent: a retry with the same `client_uuid` writes nothing and returns the first result.
    The lease becomes the annotation (its slot becomes a completed one) and records what was shown.
    One call of `relabel_annotation_submit` (migration 0010) checks and writes, then the live consensus
    is recounted in the same transaction. Locking: it takes the image row first, so retries and concurrent
    submits of the image serialise; the replay check runs after the lock, so it sees a concurrent retry
    that committed while we waited.
    """
    _validate_shape(answer)
    now = timezone.now()
    with connection.cursor() as cursor:
        execute_prepared(cursor, _SUBMIT_SQL, [
            image_id, annotator.pk, client_uuid, list(answer.classes), answer.none_fits, answer.unsure,
            answer.bad_image, answer.seconds, now,
        ])  # fmt: skip
        rows = cursor.fetchall()
    outcome, annotation_id, dataset_id, key, shown, unknown = rows[0][:6]
    if outcome == "replay":
        return Annotation.objects.select_related("image").get(pk=annotation_id), False
    if outcome == "uuid_reused":
        raise AnnotationInputError(f"client_uuid {client_uuid} was already used for another image")
    if outcome == "not_member":
        raise AnnotationInputError(f"image {image_id} is not in a dataset you annotate")
    if outcome == "already_annotated":
        raise AnnotationInputError(f"you already annotated image {image_id}; revise annotation {annotation_id} instead")
    if outcome == "not_leased":
        raise AnnotationInputError(
            f"image {image_id} is not leased to you (the lease expired and was handed out again, or it was "
            "never handed to you); ask for the next image"
        )
    if outcome == "unknown_classes":
        raise AnnotationInputError(f"class {', '.join(map(str, unknown))} is not in this dataset's vocabulary")
    image = Image.from_db(connection.alias, ["id", "dataset_id", "key"], [image_id, dataset_id, key])  # rest deferred
    annotation = Annotation(
        id=annotation_id, image=image, annotator=annotator, dataset_id=dataset_id, classes=list(answer.classes),
        shown=shown, none_fits=answer.none_fits, unsure=answer.unsure, bad_image=answer.bad_image,
        seconds=answer.seconds, client_uuid=client_uuid, revision_count=1, created_at=now, updated_at=now,
    )  # fmt: skip
    annotation._state.adding = False
    # Issue 4: same transaction, image row locked; the function returned the image's votes after its writes.
    consensus_refresh_image(image_id=image_id, inputs=consensus_inputs_from_rows(image_id, [r[6:] for r in rows]))
    return annotation, True


@transaction.atomic
def annotation_revise(
    *, annotator: AbstractBaseUser, annotation_id: int, answer: Answer, client_uuid: uuid.UUID
) -> tuple[Annotation, bool]:
    """Replace the annotator's answer (and votes) for an image they annotated; history keeps every revision.

    Idempotent by `client_uuid` like `annotation_submit`. Locking: the image row, then the annotation.
    """
    current = Annotation.objects.filter(pk=annotation_id, annotator=annotator).first()
    if current is None:
        raise AnnotationInputError(f"annotation {annotation_id} is not one of yours")
    if replay := _replay(annotator, client_uuid, current.image_id):
        return replay, False
    image = Image.objects.select_for_update().get(pk=current.image_id)
    annotation = Annotation.objects.select_for_update().get(pk=annotation_id)
    if replay := _replay(annotator, client_uuid, image.pk):
        return replay, False
    if not annotates_dataset(annotator, image.dataset_id):
        raise AnnotationInputError(f"image {image.pk} is not in a dataset you annotate")
    _validate(answer, image.dataset_id)
    _answer_store(annotation, answer, client_uuid, number=annotation.revision_count + 1)
    return annotation, True


_REPLAY_SQL = f"""
SELECT r.annotation_id, a.image_id FROM {AnnotationRevision._meta.db_table} r
JOIN {Annotation._meta.db_table} a ON a.id = r.annotation_id
WHERE r.annotator_id = %s AND r.client_uuid = %s
"""


def _replay(annotator: AbstractBaseUser, client_uuid: uuid.UUID, image_id: int) -> Annotation | None:
    """The annotation a submit or revise with this `client_uuid` already wrote, if any (the common case,
    none, costs one index lookup)."""
    with connection.cursor() as cursor:
        cursor.execute(_REPLAY_SQL, [annotator.pk, client_uuid])
        row = cursor.fetchone()
    if row is None:
        return None
    annotation_id, replayed_image_id = row
    if replayed_image_id != image_id:
        raise AnnotationInputError(f"client_uuid {client_uuid} was already used for another image")
    return Annotation.objects.select_related("image").get(pk=annotation_id)


def _validate_shape(answer: Answer) -> None:
    """The rules an answer must meet whatever the dataset (checked before the database is asked)."""
    repeated = sorted({c for c in answer.classes if answer.classes.count(c) > 1})
    if repeated:
        raise AnnotationInputError(f"class {', '.join(map(str, repeated))} chosen more than once")
    if not answer.classes and not (answer.none_fits or answer.unsure or answer.bad_image):
        raise AnnotationInputError("choose at least one class, or answer 'none fits', 'unsure' or 'bad image'")
    if answer.none_fits and answer.classes:
        raise AnnotationInputError("'none fits' cannot be combined with chosen classes")


def _validate(answer: Answer, dataset_id: int) -> None:
    _validate_shape(answer)
    known = set(LabelClass.objects.filter(dataset_id=dataset_id, pk__in=answer.classes).values_list("pk", flat=True))
    unknown = [c for c in answer.classes if c not in known]
    if unknown:
        raise AnnotationInputError(f"class {', '.join(map(str, unknown))} is not in this dataset's vocabulary")


def _answer_store(annotation: Annotation, answer: Answer, client_uuid: uuid.UUID, *, number: int) -> None:
    """Write a revised answer, its revision and its votes. Call with the image row locked."""
    annotation.classes = list(answer.classes)
    annotation.none_fits, annotation.unsure, annotation.bad_image = answer.none_fits, answer.unsure, answer.bad_image
    annotation.seconds = (annotation.seconds or 0) + answer.seconds
    annotation.revision_count = number
    annotation.save()
    AnnotationRevision.objects.create(
        annotation=annotation,
        annotator_id=annotation.annotator_id,
        number=number,
        classes=annotation.classes,
        none_fits=answer.none_fits,
        unsure=answer.unsure,
        bad_image=answer.bad_image,
        seconds=answer.seconds,
        client_uuid=client_uuid,
    )
    with connection.cursor() as cursor:  # the votes, replacing the earlier ones (migration 0010)
        cursor.execute(
            "SELECT relabel_votes_write(%s, %s, %s, %s::bigint[], %s::bigint[], %s, %s, true)",
            [annotation.pk, annotation.image_id, annotation.annotator_id, annotation.shown, annotation.classes,
             answer.unsure, answer.bad_image],
        )  # fmt: skip
    consensus_refresh_image(image_id=annotation.image_id)  # issue 4: same transaction, image row locked
