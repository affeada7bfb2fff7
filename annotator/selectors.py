"""Reads shared by views, APIs and tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db import connection, models
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Least

from annotator.models import Annotation, Dataset, Image, LabelClass
from annotator.pg_prepared import execute_prepared

REFERENCES_PER_CLASS = 3


def _count_of(model: type[models.Model]) -> Subquery:
    rows = model.objects.filter(dataset=OuterRef("pk")).order_by().values("dataset")
    return Subquery(rows.annotate(n=Count("id")).values("n"), output_field=models.IntegerField())


def dataset_list_with_counts() -> QuerySet[Dataset]:
    """Datasets with their image and class counts (two correlated counts, not a join of images × classes)."""
    return Dataset.objects.annotate(
        image_count=Coalesce(_count_of(Image), 0), class_count=Coalesce(_count_of(LabelClass), 0)
    )


def datasets_annotated_by(user: AbstractBaseUser) -> QuerySet[Dataset]:
    return Dataset.objects.filter(annotators=user)


def annotates_dataset(user: AbstractBaseUser, dataset_id: int) -> bool:
    """Whether an admin assigned this user to annotate the dataset (the role is checked separately); read
    from what `dataset_by_slug` primed on the user when it loaded this dataset."""
    primed = getattr(user, "_relabel_annotates", {})
    if dataset_id in primed:
        return primed[dataset_id]
    return Dataset.annotators.through.objects.filter(dataset_id=dataset_id, user_id=user.pk).exists()


_DATASET_FIELDS = [f.attname for f in Dataset._meta.concrete_fields]
_DATASET_BY_SLUG_SQL = f"""
SELECT {", ".join(f"d.{connection.ops.quote_name(f.column)}" for f in Dataset._meta.concrete_fields)},
       EXISTS (SELECT 1 FROM {Dataset.annotators.through._meta.db_table} m WHERE m.dataset_id = d.id AND m.user_id = %s)
FROM {Dataset._meta.db_table} d WHERE d.slug = %s
"""


def dataset_by_slug(slug: str, user: AbstractBaseUser) -> Dataset | None:
    """The dataset named in a URL, with whether `user` annotates it primed for `annotates_dataset`: one
    query (raw SQL, since composing the ORM's two cost more than running them, on every hot request)."""
    with connection.cursor() as cursor:
        execute_prepared(cursor, _DATASET_BY_SLUG_SQL, [user.pk, slug])
        row = cursor.fetchone()
    if row is None:
        return None
    dataset = Dataset.from_db(connection.alias, _DATASET_FIELDS, row[:-1])
    if user.is_authenticated:
        user._relabel_annotates = {**getattr(user, "_relabel_annotates", {}), dataset.pk: row[-1]}
    return dataset


def _url(name: str) -> str | None:
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


def vocabulary_of(dataset: Dataset) -> QuerySet[LabelClass]:
    return LabelClass.objects.filter(dataset=dataset).order_by("index").only("key", "name", "synonyms", "gloss")


@dataclass(frozen=True)
class Progress:
    mine_today: int
    mine_total: int
    images: int
    images_complete: int
    annotations_done: int
    annotations_needed: int


def progress_of(*, dataset: Dataset, annotator: AbstractBaseUser, since: datetime) -> Progress:
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


def annotations_of(*, annotator: AbstractBaseUser, dataset: Dataset | None = None) -> QuerySet[Annotation]:
    """The annotator's own annotations, newest first."""
    annotations = Annotation.objects.of(annotator).select_related("image").order_by("-created_at", "-id")
    return annotations.filter(dataset=dataset) if dataset is not None else annotations
