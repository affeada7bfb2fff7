"""Reads of datasets: the list with counts, who annotates which, the dataset named in a URL, its vocabulary."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, models
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from annotator.models import Dataset, Image, LabelClass
from annotator.pg_prepared import execute_prepared


def _count_of(model: type[Image] | type[LabelClass]) -> Subquery:
    rows = model.objects.filter(dataset=OuterRef("pk")).order_by().values("dataset")
    return Subquery(rows.annotate(n=Count("id")).values("n"), output_field=models.IntegerField())


def dataset_list_with_counts() -> QuerySet[Dataset]:
    """Datasets with their image and class counts (two correlated counts, not a join of images × classes)."""
    return Dataset.objects.annotate(
        image_count=Coalesce(_count_of(Image), 0), class_count=Coalesce(_count_of(LabelClass), 0)
    )


def datasets_annotated_by(user: User) -> QuerySet[Dataset]:
    return Dataset.objects.filter(annotators=user)


def annotates_dataset(user: User, dataset_id: int) -> bool:
    """Whether an admin assigned this user to annotate the dataset (the role is checked separately); read
    from what `dataset_by_slug` primed on the user when it loaded this dataset."""
    primed = getattr(user, "_relabel_annotates", {})
    if dataset_id in primed:
        return primed[dataset_id]
    return Dataset.annotators.through.objects.filter(dataset_id=dataset_id, user_id=user.pk).exists()


_DATASET_FIELDS = [f.attname for f in Dataset._meta.concrete_fields]
# A concrete field always has a column (the stubs type Field.column as optional, for every field).
_DATASET_BY_SLUG_SQL = f"""
SELECT {", ".join(f"d.{connection.ops.quote_name(cast(str, f.column))}" for f in Dataset._meta.concrete_fields)},
       EXISTS (SELECT 1 FROM {Dataset.annotators.through._meta.db_table} m WHERE m.dataset_id = d.id AND m.user_id = %s)
FROM {Dataset._meta.db_table} d WHERE d.slug = %s
"""


def dataset_by_slug(slug: str, user: User | AnonymousUser) -> Dataset | None:
    """The dataset named in a URL, with whether `user` annotates it primed for `annotates_dataset`: one
    query (raw SQL, since composing the ORM's two cost more than running them, on every hot request)."""
    with connection.cursor() as cursor:
        execute_prepared(cursor, _DATASET_BY_SLUG_SQL, [user.pk, slug])
        row = cursor.fetchone()
    if row is None:
        return None
    dataset = Dataset.from_db(connection.alias, _DATASET_FIELDS, row[:-1])
    if user.is_authenticated:
        primed = {**getattr(user, "_relabel_annotates", {}), dataset.pk: row[-1]}
        setattr(user, "_relabel_annotates", primed)  # noqa: B010 (a per-request cache, not a field of the model)
    return dataset


def vocabulary_of(dataset: Dataset) -> QuerySet[LabelClass]:
    return LabelClass.objects.filter(dataset=dataset).order_by("index").only("key", "name", "synonyms", "gloss")
