"""Reads of the annotation workbench and its API: the item shown for one image, progress, my annotations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Least

from annotator.models import Annotation, Dataset, Image, LabelClass
from annotator.pg_prepared import execute_prepared

REFERENCES_PER_CLASS = 3


def _url(name: str | None) -> str | None:
    return default_storage.url(name) if name else None


@dataclass(frozen=True)
class ItemImage:
    id: int
    file_name: str
    display_url: str | None
    original_url: str | None
    width: int | None
    height: int | None


def item_image(image: Image) -> ItemImage:
    """Needs the image's key, files and size loaded (the lease hand-out returns them with the pick)."""
    return ItemImage(
        id=image.pk,
        file_name=image.key,
        display_url=_url(image.display.name) or _url(image.original.name),
        original_url=_url(image.original.name),
        width=image.width,
        height=image.height,
    )


# Each class shown, with up to REFERENCES_PER_CLASS + 1 images whose original label it is, by position
# (from the index on (dataset, original_label)).
_CLASSES_SQL = f"""
SELECT c.id, c.key, c.name, c.synonyms, c.gloss, r.ids, r.thumbnails
FROM unnest(%(classes)s::bigint[]) AS u(id)
JOIN {LabelClass._meta.db_table} c ON c.id = u.id
CROSS JOIN LATERAL (
    SELECT array_agg(x.id ORDER BY x.position) AS ids, array_agg(x.thumbnail ORDER BY x.position) AS thumbnails
    FROM (
        SELECT i.id, i.thumbnail, i.position FROM {Image._meta.db_table} i
        WHERE i.dataset_id = %(dataset)s AND i.original_label_id = c.id AND i.thumbnail <> ''
        ORDER BY i.position LIMIT {REFERENCES_PER_CLASS + 1}
    ) x
) r
"""


def _references(image_id: int, ref_ids: list[int], thumbnails: list[str]) -> list[str]:
    """Every class shows at most one image fewer than it has, whether or not the image being annotated is
    among them: otherwise a small class with one thumbnail missing would give the original label away."""
    others = [name for ref_id, name in zip(ref_ids, thumbnails, strict=True) if ref_id != image_id]
    return [default_storage.url(name) for name in others[: max(len(ref_ids) - 1, 0)][:REFERENCES_PER_CLASS]]


def classes_for_display(*, dataset_id: int, class_ids: list[int], image_id: int) -> list[dict]:
    """Name, synonyms, gloss and reference thumbnails (of other images) of each class, in the order given
    (one query)."""
    if not class_ids:
        return []
    with connection.cursor() as cursor:
        execute_prepared(cursor, _CLASSES_SQL, {"classes": list(class_ids), "dataset": dataset_id})
        rows = {row[0]: row for row in cursor.fetchall()}
    return [
        {
            "id": class_id,
            "key": key,
            "name": name,
            "synonyms": synonyms,
            "gloss": gloss,
            "references": _references(image_id, ref_ids or [], thumbnails or []),
        }
        for class_id in class_ids
        if class_id in rows
        for _, key, name, synonyms, gloss, ref_ids, thumbnails in [rows[class_id]]
    ]


def item_for(*, image: Image, shown: list[int], lease_expires_at: datetime | None) -> dict:
    """What the workbench shows for one image: the image and its candidates in display order (one query;
    `image` needs its key, files and size loaded). Nothing in it tells a candidate's source, the original
    label, or another annotator's answer."""
    return {
        "image": item_image(image),
        "candidates": classes_for_display(dataset_id=image.dataset_id, class_ids=shown, image_id=image.pk),
        "lease_expires_at": lease_expires_at,
    }


@dataclass(frozen=True)
class Progress:
    mine_today: int
    mine_total: int
    images: int
    images_complete: int
    annotations_done: int
    annotations_needed: int


def progress_of(*, dataset: Dataset, annotator: User, since: datetime) -> Progress:
    """My counts today and in total, and the dataset's completion (two aggregate queries)."""
    mine = (
        Annotation.objects.of(annotator)
        .filter(dataset=dataset)
        .aggregate(total=Count("id"), today=Count("id", filter=Q(created_at__gte=since)))
    )
    pool = Image.objects.filter(dataset=dataset).aggregate(
        images=Count("id"),
        complete=Count("id", filter=Q(annotation_count__gte=F("annotations_needed"))),
        done=Sum(Least("annotation_count", "annotations_needed")),
        needed=Sum("annotations_needed"),
    )
    return Progress(
        mine_today=mine["today"],
        mine_total=mine["total"],
        images=pool["images"],
        images_complete=pool["complete"],
        annotations_done=pool["done"] or 0,
        annotations_needed=pool["needed"] or 0,
    )


def annotations_of(*, annotator: User, dataset: Dataset | None = None) -> QuerySet[Annotation]:
    """The annotator's own annotations, newest first."""
    annotations = Annotation.objects.of(annotator).select_related("image").order_by("-created_at", "-id")
    return annotations.filter(dataset=dataset) if dataset is not None else annotations
