"""Submitting and revising annotations, and the votes that mirror them.

One path writes answers: `annotation_submit` (first answer, turns a lease into an annotation) and
`annotation_revise` (a later change) both end in `_answer_store`, which replaces the annotator's votes for
the image. Live consensus (issue 4) hooks in there, in the same transaction, with the image row locked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from annotator.models import Annotation, AnnotationRevision, Image, LabelClass, Lease, Vote
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


@transaction.atomic
def annotation_submit(
    *, annotator: AbstractBaseUser, image_id: int, answer: Answer, client_uuid: uuid.UUID
) -> tuple[Annotation, bool]:
    """Store the annotator's first answer for a leased image; returns (annotation, created).

    Idempotent: a retry with the same `client_uuid` writes nothing and returns the first result.
    The lease becomes the annotation (its slot becomes a completed one) and records what was shown.
    Locking: takes the image row first, so retries and concurrent submits of the image serialise.
    """
    if replay := _replay(annotator, client_uuid, image_id):
        return replay, False
    image = Image.objects.select_for_update().filter(pk=image_id).first()
    if replay := _replay(annotator, client_uuid, image_id):  # a concurrent retry committed while we waited
        return replay, False
    if image is None or not annotates_dataset(annotator, image.dataset_id):
        raise AnnotationInputError(f"image {image_id} is not in a dataset you annotate")
    lease = Lease.objects.filter(image=image, annotator=annotator).first()
    if lease is None:
        if existing := Annotation.objects.filter(image=image, annotator=annotator).first():
            raise AnnotationInputError(
                f"you already annotated image {image_id}; revise annotation {existing.pk} instead"
            )
        raise AnnotationInputError(
            f"image {image_id} is not leased to you (the lease expired and was handed out again, or it was "
            "never handed to you); ask for the next image"
        )
    _validate(answer, image.dataset_id)
    annotation = Annotation(
        image=image, annotator=annotator, dataset_id=image.dataset_id, shown=lease.shown, client_uuid=client_uuid
    )
    _answer_store(annotation, answer, client_uuid, number=1)
    lease.delete()
    Image.objects.filter(pk=image.pk).update(
        annotation_count=F("annotation_count") + 1, lease_count=F("lease_count") - 1
    )
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


def _replay(annotator: AbstractBaseUser, client_uuid: uuid.UUID, image_id: int) -> Annotation | None:
    revision = (
        AnnotationRevision.objects.filter(annotator=annotator, client_uuid=client_uuid)
        .select_related("annotation")
        .first()
    )
    if revision is None:
        return None
    if revision.annotation.image_id != image_id:
        raise AnnotationInputError(f"client_uuid {client_uuid} was already used for another image")
    return revision.annotation


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
