"""Submitting and revising annotations, and the votes that mirror them.

One path writes answers: `annotation_submit` (first answer, turns a lease into an annotation) and
`annotation_revise` (a later change) both end in `_answer_store`, which replaces the annotator's votes for
the image. Live consensus (issue 4) hooks in there, in the same transaction, with the image row locked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from annotator.models import Annotation, AnnotationRevision, Dataset, Image, LabelClass, Lease, Vote
from annotator.selectors import annotates_dataset
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


def vote_answers(*, shown: list[int], answer: Answer) -> dict[int, str]:
    """Class id -> vote. Chosen classes (shown or found through search) are yes; shown and not chosen are
    no, or maybe when the annotator is unsure. A bad image with nothing chosen judged no class: no votes."""
    if answer.bad_image and not answer.classes:
        return {}
    unchosen = Vote.Answer.MAYBE if answer.unsure else Vote.Answer.NO
    votes = {class_id: unchosen.value for class_id in shown}
    votes.update({class_id: Vote.Answer.YES.value for class_id in answer.classes})
    return votes


# The image row locked, with everything the submit checks about it and this annotator, in one statement.
# The lease needs no lock of its own: every writer of leases holds the image row first.
_LOCK_FOR_SUBMIT_SQL = f"""
SELECT i.dataset_id, i.key,
       EXISTS (SELECT 1 FROM {Dataset.annotators.through._meta.db_table} m
               WHERE m.dataset_id = i.dataset_id AND m.user_id = %(user)s),
       l.id, l.shown,
       (SELECT a.id FROM {Annotation._meta.db_table} a WHERE a.image_id = i.id AND a.annotator_id = %(user)s)
FROM {Image._meta.db_table} i
LEFT JOIN {Lease._meta.db_table} l ON l.image_id = i.id AND l.annotator_id = %(user)s
WHERE i.id = %(image)s
FOR UPDATE OF i
"""

# The lease becomes the annotation: its slot turns from a held one into a completed one.
_LEASE_TO_ANNOTATION_SQL = f"""
WITH gone AS (DELETE FROM {Lease._meta.db_table} WHERE id = %(lease)s RETURNING image_id)
UPDATE {Image._meta.db_table} i SET annotation_count = i.annotation_count + 1, lease_count = i.lease_count - 1
FROM gone WHERE i.id = gone.image_id
"""


@transaction.atomic
def annotation_submit(
    *, annotator: AbstractBaseUser, image_id: int, answer: Answer, client_uuid: uuid.UUID
) -> tuple[Annotation, bool]:
    """Store the annotator's first answer for a leased image; returns (annotation, created).

    Idempotent: a retry with the same `client_uuid` writes nothing and returns the first result.
    The lease becomes the annotation (its slot becomes a completed one) and records what was shown.
    Locking: takes the image row first, so retries and concurrent submits of the image serialise; the
    replay check runs after the lock, so it sees a concurrent retry that committed while we waited.
    """
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_FOR_SUBMIT_SQL, {"image": image_id, "user": annotator.pk})
        row = cursor.fetchone()
    if replay := _replay(annotator, client_uuid, image_id):
        return replay, False
    if row is None or not row[2]:
        raise AnnotationInputError(f"image {image_id} is not in a dataset you annotate")
    dataset_id, key, _, lease_id, shown, existing_id = row
    if lease_id is None:
        if existing_id is not None:
            raise AnnotationInputError(
                f"you already annotated image {image_id}; revise annotation {existing_id} instead"
            )
        raise AnnotationInputError(
            f"image {image_id} is not leased to you (the lease expired and was handed out again, or it was "
            "never handed to you); ask for the next image"
        )
    _validate(answer, dataset_id)
    image = Image.from_db(
        connection.alias, ["id", "dataset_id", "key"], [image_id, dataset_id, key]
    )  # the rest deferred
    annotation = Annotation(
        image=image, annotator=annotator, dataset_id=dataset_id, shown=shown, client_uuid=client_uuid
    )
    _answer_store(annotation, answer, client_uuid, number=1)
    with connection.cursor() as cursor:
        cursor.execute(_LEASE_TO_ANNOTATION_SQL, {"lease": lease_id})
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


def _validate(answer: Answer, dataset_id: int) -> None:
    repeated = sorted({c for c in answer.classes if answer.classes.count(c) > 1})
    if repeated:
        raise AnnotationInputError(f"class {', '.join(map(str, repeated))} chosen more than once")
    known = set(LabelClass.objects.filter(dataset_id=dataset_id, pk__in=answer.classes).values_list("pk", flat=True))
    unknown = [c for c in answer.classes if c not in known]
    if unknown:
        raise AnnotationInputError(f"class {', '.join(map(str, unknown))} is not in this dataset's vocabulary")
    if not answer.classes and not (answer.none_fits or answer.unsure or answer.bad_image):
        raise AnnotationInputError("choose at least one class, or answer 'none fits', 'unsure' or 'bad image'")
    if answer.none_fits and answer.classes:
        raise AnnotationInputError("'none fits' cannot be combined with chosen classes")


def _answer_store(annotation: Annotation, answer: Answer, client_uuid: uuid.UUID, *, number: int) -> None:
    """Write the answer, its revision and its votes. Call with the image row locked."""
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
    if number > 1:  # a first answer has no votes to replace (every vote belongs to an annotation)
        Vote.objects.filter(image_id=annotation.image_id, annotator_id=annotation.annotator_id).delete()
    Vote.objects.bulk_create(
        Vote(
            image_id=annotation.image_id,
            label_class_id=class_id,
            annotator_id=annotation.annotator_id,
            annotation=annotation,
            answer=vote,
        )
        for class_id, vote in vote_answers(shown=annotation.shown, answer=answer).items()
    )
    consensus_refresh_image(image_id=annotation.image_id)  # issue 4: same transaction, image row locked
