"""Submitting and revising annotations, and the votes that mirror them.

Both are one call of the PostgreSQL function `relabel_annotation_write` (annotator/db/sql/), the one home of
their rules: replay by `client_uuid`, membership, the lease (first answer) or ownership (revision), the
vocabulary; and of how an answer becomes an annotation, its revision and its votes. Then the live consensus is
recounted from the rows the function returns, in the same transaction, with the image row still locked.
Here: the rules an answer's shape must meet whatever the dataset, and the refusals' messages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from annotator.models import Annotation, Image
from annotator.pg_prepared import execute_prepared, fetchall_named
from annotator.selectors.consensus import consensus_inputs_from_rows
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


# The write's own columns, then the consensus inputs' (relabel_consensus_row) expanded for reading by name.
_WRITE_SQL = (
    "SELECT w.r_outcome, w.r_annotation, w.r_image, w.r_dataset, w.r_key, w.r_shown, w.r_unknown, (w.r_inputs).*"
    " FROM relabel_annotation_write(%s, %s, %s, %s, %s::bigint[], %s, %s, %s, %s, %s) AS w"
)

# What the function's refusals say; formatted with its row and the request's client_uuid.
_REFUSALS = {
    "not_yours": "annotation {r_annotation} is not one of yours",
    "uuid_reused": "client_uuid {client_uuid} was already used for another image",
    "not_member": "image {r_image} is not in a dataset you annotate",
    "already_annotated": "you already annotated image {r_image}; revise annotation {r_annotation} instead",
    "not_leased": (
        "image {r_image} is not leased to you (the lease expired and was handed out again, or it was never handed "
        "to you); ask for the next image"
    ),
    "unknown_classes": "class {unknown} is not in this dataset's vocabulary",
}


@transaction.atomic
def annotation_submit(
    *, annotator: User, image_id: int, answer: Answer, client_uuid: uuid.UUID
) -> tuple[Annotation, bool]:
    """Store the annotator's first answer for a leased image; returns (annotation, created).

    Idempotent: a retry with the same `client_uuid` writes nothing and returns the first result (created False).
    The lease becomes the annotation (its slot becomes a completed one) and records what was shown.
    Locking: `relabel_annotation_write` takes the image row first, so retries and concurrent submits of the image
    serialise, and checks for a replay after the lock, so it sees a concurrent retry that committed meanwhile.
    """
    now = timezone.now()
    rows = _write(annotator=annotator, image_id=image_id, annotation_id=None, answer=answer, client_uuid=client_uuid,
                  now=now)  # fmt: skip
    result = rows[0]
    if result["r_outcome"] == "replay":
        return Annotation.objects.select_related("image").get(pk=result["r_annotation"]), False
    image = Image.from_db(  # the rest deferred
        connection.alias, ["id", "dataset_id", "key"], [image_id, result["r_dataset"], result["r_key"]]
    )
    annotation = Annotation(
        id=result["r_annotation"], image=image, annotator=annotator, dataset_id=result["r_dataset"],
        classes=list(answer.classes), shown=result["r_shown"], none_fits=answer.none_fits, unsure=answer.unsure,
        bad_image=answer.bad_image, seconds=answer.seconds, client_uuid=client_uuid, revision_count=1,
        created_at=now, updated_at=now,
    )  # fmt: skip
    annotation._state.adding = False
    return annotation, True


@transaction.atomic
def annotation_revise(
    *, annotator: User, annotation_id: int, answer: Answer, client_uuid: uuid.UUID
) -> tuple[Annotation, bool]:
    """Replace the annotator's answer (and votes) for an image they annotated; history keeps every revision.
    Returns (annotation, created).

    Idempotent by `client_uuid` like `annotation_submit`, under the same rules but the lease's. Locking: the image
    row, then the annotation.
    """
    rows = _write(annotator=annotator, image_id=None, annotation_id=annotation_id, answer=answer,
                  client_uuid=client_uuid, now=timezone.now())  # fmt: skip
    annotation = Annotation.objects.select_related("image").get(pk=rows[0]["r_annotation"])
    return annotation, rows[0]["r_outcome"] == "stored"


def _write(
    *, annotator: User, image_id: int | None, annotation_id: int | None, answer: Answer,
    client_uuid: uuid.UUID, now: datetime,
) -> list[dict[str, Any]]:  # fmt: skip
    """One call of `relabel_annotation_write`; its rows when it stored the answer (the live consensus recounted)
    or found it stored already. Raises AnnotationInputError for every refusal."""
    _validate_shape(answer)
    with connection.cursor() as cursor:
        execute_prepared(cursor, _WRITE_SQL, [
            image_id, annotation_id, annotator.pk, client_uuid, list(answer.classes), answer.none_fits,
            answer.unsure, answer.bad_image, answer.seconds, now,
        ])  # fmt: skip
        rows = fetchall_named(cursor)
    result = rows[0]
    if result["r_outcome"] in _REFUSALS:
        unknown = ", ".join(map(str, result["r_unknown"] or ()))
        raise AnnotationInputError(
            _REFUSALS[result["r_outcome"]].format(**result, client_uuid=client_uuid, unknown=unknown)
        )
    if result["r_outcome"] == "stored":
        # The function returned the image's votes after its writes; the image row is still locked.
        inputs = consensus_inputs_from_rows(result["r_image"], rows)
        consensus_refresh_image(image_id=result["r_image"], inputs=inputs)
    return rows


def _validate_shape(answer: Answer) -> None:
    """The rules an answer must meet whatever the dataset (checked before the database is asked)."""
    repeated = sorted({c for c in answer.classes if answer.classes.count(c) > 1})
    if repeated:
        raise AnnotationInputError(f"class {', '.join(map(str, repeated))} chosen more than once")
    if not answer.classes and not (answer.none_fits or answer.unsure or answer.bad_image):
        raise AnnotationInputError("choose at least one class, or answer 'none fits', 'unsure' or 'bad image'")
    if answer.none_fits and answer.classes:
        raise AnnotationInputError("'none fits' cannot be combined with chosen classes")
