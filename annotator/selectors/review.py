"""Reads of the review screen and an image's history (pages, APIs and tests share them); the queue itself is
annotator.selectors.review_queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict, overload

from django.contrib.postgres.aggregates import ArrayAgg
from django.core.files.storage import default_storage
from django.db.models import Q, QuerySet, Value

from annotator.core.redundancy import open_reason
from annotator.models import (
    Adjudication,
    Annotation,
    AnnotationRevision,
    Candidate,
    Consensus,
    Dataset,
    Image,
    LabelClass,
    Vote,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


def class_names(class_ids: set[int]) -> dict[int, LabelClass]:
    rows = LabelClass.objects.filter(pk__in=class_ids).only("key", "name", "index").order_by()
    return {c.pk: c for c in rows}


def _url(name: str | None) -> str | None:
    return default_storage.url(name) if name else None


@overload
def _label(label_class: LabelClass) -> dict[str, Any]: ...
@overload
def _label(label_class: LabelClass | None) -> dict[str, Any] | None: ...
def _label(label_class: LabelClass | None) -> dict[str, Any] | None:
    if label_class is None:
        return None
    return {"id": label_class.pk, "key": label_class.key, "name": label_class.name}


# --- the review screen -------------------------------------------------------------------------------------


def review_detail(image: Image) -> dict:
    """Everything a reviewer judges one image by (five queries after the image): its consensus, each
    annotator's answer (chosen and *maybe* classes) with their name, per class the answers, yes-share and
    Dawid–Skene posterior, the original label, the model proposals (candidates) with their rank, and the
    adjudication history.

    `classes` lists every class anyone was asked about or chose, the model proposals and the current final
    set: original label first, then by yes-share and model rank."""
    consensus = Consensus.objects.filter(image=image).first()
    annotations = list(_annotations_with_maybe(image).select_related("annotator").order_by("annotator__username"))
    proposals = dict(
        Candidate.objects.filter(image=image, source=Candidate.Source.MODEL).values_list("label_class_id", "score")
    )
    counts = consensus.counts if consensus else {}
    final = consensus.labels if consensus else []
    ids = {int(c) for c in counts} | set(proposals) | set(final) | {c for a in annotations for c in a.classes}
    ids |= {c for a in annotations for c in a.maybe}
    if image.original_label_id:
        ids.add(image.original_label_id)
    names = class_names(ids)
    shares = consensus.shares if consensus else {}
    posterior = (consensus.ds_posterior or {}) if consensus else {}
    computed = _computed_labels(image.dataset, consensus)
    classes = [
        {
            **_label(names[c]),
            "answers": dict(zip(("yes", "no", "maybe"), counts.get(str(c), [0, 0, 0]), strict=True)),
            "yes_share": shares.get(str(c)),
            "ds_posterior": posterior.get(str(c)),
            "original": c == image.original_label_id,
            "model_proposal": c in proposals,
            "model_rank": _rank(proposals.get(c)),
            "computed": c in computed,
            "final": c in final,
            "chosen_by": [a.annotator.username for a in annotations if c in a.classes],
        }
        for c in ids
        if c in names
    ]
    classes.sort(key=lambda r: (not r["original"], -(r["yes_share"] or 0), r["model_rank"] or 99, r["name"]))
    return {
        "image": _image(image),
        "original_label": _label(names.get(image.original_label_id)) if image.original_label_id else None,
        "consensus": _consensus(consensus, computed),
        "annotations": [_annotation(a, names) for a in annotations],
        "classes": classes,
        "history": adjudication_history(image),
    }


def _computed_labels(dataset: Dataset, consensus: Consensus | None) -> list[int]:
    """What the votes say, whatever a reviewer decided: the dataset's aggregation's label set."""
    if consensus is None:
        return []
    return consensus.ds_labels if dataset.aggregation == "dawid_skene" else consensus.majority_labels


def _rank(score: float | None) -> int | None:
    """Candidates store the best rank weight 1/(rank + 1); this is the 1-based rank back."""
    return round(1 / score) if score else None


def _image(image: Image) -> dict:
    return {
        "id": image.pk,
        "dataset": image.dataset.slug,
        "file_name": image.key,
        "display_url": _url(image.display.name) or _url(image.original.name),
        "original_url": _url(image.original.name),
        "width": image.width,
        "height": image.height,
        "annotations_needed": image.annotations_needed,
        "annotation_count": image.annotation_count,
        "more_requested_at": image.more_requested_at,
    }


def _consensus(consensus: Consensus | None, computed: list[int]) -> dict:
    if consensus is None:
        return {"status": Consensus.Status.PENDING, "labels": [], "computed_labels": [], "adjudicated": False,
                "excluded": False, "dispute_reasons": [], "agreement": None, "open_reason": None,
                "open_classes": []}  # fmt: skip
    return {
        "status": consensus.status,
        "labels": consensus.labels,
        "computed_labels": computed,
        "adjudicated": consensus.adjudicated,
        "excluded": consensus.excluded,
        "dispute_reasons": consensus.dispute_reasons,
        "agreement": consensus.agreement,
        "open_reason": _open_reason(consensus),
        "open_classes": consensus.open_classes,
    }


def _open_reason(consensus: Consensus) -> str | None:
    """Adaptive redundancy: why the image is (still) handed out or not ("undecided after 3 answers"); None under
    fixed redundancy."""
    if not consensus.redundancy_state:
        return None
    return open_reason(consensus.redundancy_state, consensus.annotation_count, len(consensus.open_classes))


class _Maybe(TypedDict):
    maybe: list[int]


def _annotations_with_maybe(image: Image) -> QuerySet[WithAnnotations[Annotation, _Maybe]]:
    """The image's annotations, each with `maybe`: the classes answered *maybe*, from its votes (in the same
    query). Imported answers keep their maybes only there: they carry no workbench flags."""
    maybe = ArrayAgg(
        "votes__label_class_id",
        filter=Q(votes__answer=Vote.Answer.MAYBE),
        order_by="votes__label_class__index",
        default=Value([]),
    )
    return Annotation.objects.filter(image=image).annotate(maybe=maybe)


def _maybe_of_revision(revision: AnnotationRevision, current: dict[int, list[int]]) -> list[int]:
    """The classes a revision answered *maybe*: the votes for the annotation's latest revision; for an earlier
    one, what the submit wrote then (shown and not chosen, when the annotator said unsure; nothing for a bad
    image with nothing chosen: relabel_votes_write, migration 0010)."""
    annotation = revision.annotation
    if revision.number == annotation.revision_count:
        return current.get(revision.annotator_id, [])
    if not revision.unsure or (revision.bad_image and not revision.classes):
        return []
    return [c for c in annotation.shown if c not in revision.classes]


def _answer(classes: list[int], maybe: list[int], asked: int, names: dict[int, LabelClass]) -> dict:
    """An answer's classes as shown to reviewers: chosen, *maybe*, and how many were asked (so an answer that
    chose nothing reads "none of the N classes asked", not a blank)."""
    return {
        "classes": [_label(names[c]) for c in classes if c in names],
        "maybe": [_label(names[c]) for c in maybe if c in names],
        "asked": asked,
    }


def _annotation(annotation: WithAnnotations[Annotation, _Maybe], names: dict[int, LabelClass]) -> dict:
    return {
        "annotator": annotation.annotator.username,
        **_answer(annotation.classes, annotation.maybe, len(annotation.shown), names),
        "none_fits": annotation.none_fits,
        "unsure": annotation.unsure,
        "bad_image": annotation.bad_image,
        "seconds": annotation.seconds,
        "revisions": annotation.revision_count,
        "updated_at": annotation.updated_at,
    }


def adjudication_history(image: Image) -> list[dict]:
    """The image's adjudications, oldest first, with reviewer names and class names (two queries)."""
    rows = list(Adjudication.objects.filter(image=image).select_related("reviewer").order_by("created_at", "id"))
    names = class_names({c for row in rows for c in (*row.labels_before, *row.labels_after)})
    return [
        {
            "id": row.pk,
            "reviewer": row.reviewer.username,
            "created_at": row.created_at,
            "action": row.action,
            "action_display": row.get_action_display(),
            "status_before": row.status_before,
            "status_after": row.status_after,
            "labels_before": [_label(names[c]) for c in row.labels_before if c in names],
            "labels_after": [_label(names[c]) for c in row.labels_after if c in names],
            "note": row.note,
        }
        for row in rows
    ]


def annotation_history(image: Image) -> list[dict]:
    """Every revision of every annotation of the image, oldest first, with annotator names and each revision's
    *maybe* answers (three queries)."""
    revisions = list(
        AnnotationRevision.objects.filter(annotation__image=image)
        .select_related("annotator", "annotation")
        .order_by("created_at", "id")
    )
    current = dict(_annotations_with_maybe(image).values_list("annotator_id", "maybe"))
    maybe = {r.pk: _maybe_of_revision(r, current) for r in revisions}
    names = class_names({c for r in revisions for c in (*r.classes, *maybe[r.pk])})
    return [
        {
            "annotator": r.annotator.username,
            "number": r.number,
            "created_at": r.created_at,
            **_answer(r.classes, maybe[r.pk], len(r.annotation.shown), names),
            "none_fits": r.none_fits,
            "unsure": r.unsure,
            "bad_image": r.bad_image,
            "seconds": r.seconds,
        }
        for r in revisions
    ]
