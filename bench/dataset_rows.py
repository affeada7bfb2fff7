"""A benchmark dataset's rows in every table, found by walking the models' foreign keys from `Dataset`.

The ORM's cascade collects every object before deleting it (1.3 M images, 6.5 M annotations, 20 M votes at the
growth run's largest size); here each table is one statement with a sub-select on its foreign key. Django's
foreign-key constraints are deferred to the commit, so the order of the statements inside one transaction does
not matter. Used to drop a workload and to attribute each table's size on disk to one dataset.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection, models, transaction

from annotator.models import Dataset


def _reverse_relations(model: type[models.Model]) -> Iterator[models.ForeignObjectRel]:
    for field in model._meta.get_fields(include_hidden=True):
        if field.auto_created and not field.concrete and (field.one_to_many or field.one_to_one):
            yield field  # type: ignore[misc]


def dataset_tables(dataset_id: int) -> list[tuple[type[models.Model], str, str]]:
    """(model, WHERE clause selecting the dataset's rows, on_delete name) for every table that hangs off the
    dataset, shortest foreign-key path first (a table reachable twice is listed once)."""
    found: list[tuple[type[models.Model], str, str]] = [(Dataset, f"id = {int(dataset_id)}", "CASCADE")]
    seen: set[type[models.Model]] = {Dataset}
    queue: list[tuple[type[models.Model], str]] = [(Dataset, f"id = {int(dataset_id)}")]
    while queue:
        parent, where = queue.pop(0)
        for relation in _reverse_relations(parent):
            child = relation.related_model
            rule = getattr(relation.on_delete, "__name__", "")
            if child in seen or rule not in ("CASCADE", "SET_NULL"):
                # RESTRICT / PROTECT (votes on a class): such rows go with their image, on a CASCADE path; any
                # left would fail the deferred foreign-key check at the commit, and nothing is deleted.
                continue
            seen.add(child)
            child_where = (
                f"{relation.field.column} IN (SELECT {parent._meta.pk.column} FROM {parent._meta.db_table} "
                f"WHERE {where})"
            )
            found.append((child, child_where, rule))
            if rule == "CASCADE":
                queue.append((child, child_where))
    return found


def dataset_row_counts(dataset_id: int) -> dict[str, int]:
    """Table name → the dataset's rows in it."""
    counts = {}
    with connection.cursor() as cursor:
        for model, where, rule in dataset_tables(dataset_id):
            if rule == "CASCADE":
                cursor.execute(f"SELECT count(*) FROM {model._meta.db_table} WHERE {where}")
                counts[model._meta.db_table] = cursor.fetchone()[0]
    return counts


@transaction.atomic
def drop_dataset(dataset_id: int | None) -> None:
    """Delete a dataset and everything hanging off it, one statement per table."""
    if dataset_id is None:
        return
    with connection.cursor() as cursor:
        for model, where, rule in reversed(dataset_tables(dataset_id)):
            table = model._meta.db_table
            if rule == "CASCADE":
                cursor.execute(f"DELETE FROM {table} WHERE {where}")
            else:  # SET_NULL
                (column,) = [f.column for f in model._meta.concrete_fields if where.startswith(f"{f.column} IN")]
                cursor.execute(f"UPDATE {table} SET {column} = NULL WHERE {where}")


def consensus_make_stale(dataset_id: int) -> None:
    """Make every stored consensus row of the dataset differ from what its votes give (as after a change of the
    dataset's rules), so that the next full recompute rewrites every row."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE annotator_consensus SET counts = '{}' WHERE dataset_id = %s", [dataset_id])
