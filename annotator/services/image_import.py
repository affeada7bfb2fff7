"""Importing images into a dataset: labels resolved first, files decoded, rows written in batches."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Max

from annotator.core.image_files import ImageFileError, ProcessedImage, process_image_bytes
from annotator.core.import_sources import ImageSpec, ImportSourceError
from annotator.models import Dataset, Image, LabelClass
from annotator.pg_copy import ReferencedRowMissingError, copy_escape, copy_text, foreign_keys_checked_in_bulk

logger = logging.getLogger(__name__)


class UnknownClassError(ValueError):
    """Labels that are not in the dataset's vocabulary; the message names each file and line."""


@dataclass
class ImportReport:
    created: int = 0
    skipped_existing: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.created} imported, {self.skipped_existing} already present, "
            f"{len(self.failed)} failed, in {self.seconds:.1f} s"
        )


def images_import(
    *,
    dataset: Dataset,
    specs: list[ImageSpec],
    with_files: bool = True,
    batch_size: int = 256,
    workers: int = 1,
    max_pixels: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Import images; safe to re-run (images already present are skipped).

    Every image name and label is checked before anything is written: one unknown class or unusable name
    refuses the whole import, naming its file and line. Unreadable files are reported and skipped. With
    files, each batch is written in its own transaction, so an interrupted import keeps whole batches and a
    re-run completes it; file-less records are written by one COPY in one transaction (all or nothing).
    """
    started = time.monotonic()
    _check_keys(specs)
    label_ids = _resolve_labels(dataset, specs)
    report = ImportReport()
    existing = set(Image.objects.filter(dataset=dataset).values_list("key", flat=True))
    positions = _positions(dataset, [s.key for s in specs])
    todo = sorted((s for s in specs if s.key not in existing), key=lambda s: s.key)
    report.skipped_existing = len(specs) - len(todo)
    if progress and report.skipped_existing:
        progress(report.skipped_existing)
    if not with_files:
        report.created = _records_copy(dataset, todo, positions, label_ids)
        if progress:
            progress(report.created)
        todo = []
    pool = ProcessPoolExecutor(max_workers=workers) if with_files and workers > 1 else None
    try:
        for batch in _batches(todo, batch_size):
            _import_batch(dataset, batch, positions, label_ids, report, pool, with_files, max_pixels)
            if progress:
                progress(len(batch))
    finally:
        if pool is not None:
            pool.shutdown()
    if report.created >= ANALYZE_AFTER:
        _analyze_images()
    report.seconds = time.monotonic() - started
    return report


# Fresh statistics after a big import: on stale ones the planner read the whole dataset for each
# "next image" pick (90 ms instead of 1 ms at 50,000 images) until autovacuum caught up.
ANALYZE_AFTER = 1000


def _analyze_images() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Image._meta.db_table}")


def _import_batch(
    dataset: Dataset,
    batch: list[ImageSpec],
    positions: dict[str, int],
    label_ids: dict[str, int | None],
    report: ImportReport,
    pool: ProcessPoolExecutor | None,
    with_files: bool,
    max_pixels: int | None,
) -> None:
    if with_files:
        jobs = [(spec.path, max_pixels) for spec in batch]
        processed: list[ProcessedImage | str | None] = list(
            pool.map(_process_one, jobs, chunksize=8) if pool else map(_process_one, jobs)
        )
    else:
        processed = [None] * len(batch)
    rows: list[Image] = []
    stored: list[str] = []
    try:
        for spec, result in zip(batch, processed, strict=True):
            if isinstance(result, str):
                report.failed.append((spec.source, result))
                logger.warning("skipped %s: %s", spec.source, result)
                continue
            image = Image(
                dataset=dataset,
                key=spec.key,
                position=positions[spec.key],
                original_label_id=label_ids[spec.key],
                annotations_needed=dataset.annotations_first_needed,
            )
            if result is not None and spec.path is not None:
                _store_files(image, dataset, spec.path, result, stored)
            rows.append(image)
        with transaction.atomic():
            Image.objects.bulk_create(rows)
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise
    report.created += len(rows)


# The record columns that differ between images; every other column is the same for all of them.
_VARYING = ("key", "position", "original_label")


def _records_copy(
    dataset: Dataset, specs: list[ImageSpec], positions: dict[str, int], label_ids: dict[str, int | None]
) -> int:
    """File-less records by one COPY in one transaction. Python-side per-row work is a string format: the
    constant columns (defaults, counters, `created_at`) come from one model instance prepared by Django's own
    fields, so they are what `bulk_create` would write."""
    template = Image(dataset=dataset, key="", position=0, annotations_needed=dataset.annotations_per_image)
    fields = {f.name: f for f in Image._meta.concrete_fields if not f.primary_key}
    constant = [f for name, f in fields.items() if name not in _VARYING]
    values = [f.get_db_prep_save(f.pre_save(template, add=True), connection) for f in constant]
    suffix = "\t".join(map(_copy_field, values)) + "\n"
    columns = [str(fields[name].column) for name in _VARYING] + [str(f.column) for f in constant]
    lines = (f"{copy_escape(s.key)}\t{positions[s.key]}\t{_copy_field(label_ids[s.key])}\t{suffix}" for s in specs)
    classes = sorted({label for s in specs if (label := label_ids[s.key]) is not None})
    try:
        with transaction.atomic(), foreign_keys_checked_in_bulk(((Dataset, [dataset.pk]), (LabelClass, classes))):
            copy_text(Image._meta.db_table, columns, lines)
    except ReferencedRowMissingError as error:
        missing = f"{error}: a class or the dataset was deleted during the import; nothing was imported"
        raise UnknownClassError(missing) from None
    return len(specs)


def _copy_field(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return copy_escape(str(value))


KEY_MAX_LENGTH = Image._meta.get_field("key").max_length or 255


def _check_keys(specs: list[ImageSpec]) -> None:
    """Image names the database can hold; the first that it cannot refuses the import, named by file and line."""
    for spec in specs:
        if problem := _key_problem(spec.key):
            raise ImportSourceError(f"{spec.source}: {problem}; nothing was imported")


def _key_problem(key: str) -> str | None:
    if not key:
        return "an empty image name"
    if len(key) > KEY_MAX_LENGTH:
        return f"an image name of {len(key):,} characters (at most {KEY_MAX_LENGTH})"
    if "\x00" in key:
        return "a NUL character in the image name"
    return None


def _resolve_labels(dataset: Dataset, specs: list[ImageSpec]) -> dict[str, int | None]:
    by_key = dict(LabelClass.objects.filter(dataset=dataset).values_list("key", "id"))
    by_index = dict(LabelClass.objects.filter(dataset=dataset).values_list("index", "id"))
    resolved: dict[str, int | None] = {}
    unknown: list[str] = []
    for spec in specs:
        if spec.label is None or spec.label == "":
            resolved[spec.key] = None
        elif spec.label in by_key:
            resolved[spec.key] = by_key[spec.label]
        elif spec.label.isdigit() and int(spec.label) in by_index:
            resolved[spec.key] = by_index[int(spec.label)]
        else:
            unknown.append(f"{spec.source}: unknown class {spec.label!r}")
    if unknown:
        more = f" (and {len(unknown) - 10} more)" if len(unknown) > 10 else ""
        raise UnknownClassError(
            f"{len(unknown)} label(s) are not in the vocabulary of {dataset.slug!r}; nothing was imported: "
            + "; ".join(unknown[:10])
            + more
        )
    return resolved


def _positions(dataset: Dataset, keys: list[str]) -> dict[str, int]:
    """Dataset order = sorted file names, so ReaL-format files line up.

    A re-run that fills gaps (files skipped earlier) keeps every position; images added later
    that would reorder existing ones are appended after the current end instead.
    """
    existing = dict(Image.objects.filter(dataset=dataset).values_list("key", "position"))
    ranked = sorted(set(keys) | set(existing))
    ranks = {key: rank for rank, key in enumerate(ranked)}
    if all(ranks[key] == position for key, position in existing.items()):
        return ranks
    start = (Image.objects.filter(dataset=dataset).aggregate(m=Max("position"))["m"] or 0) + 1
    new = sorted(set(keys) - set(existing))
    return {**existing, **{key: start + offset for offset, key in enumerate(new)}}


def _batches(items: list[ImageSpec], size: int) -> Iterator[list[ImageSpec]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _process_one(job: tuple[Path | None, int | None]) -> ProcessedImage | str:
    """A ProcessedImage, or the reason the file was skipped (a str: picklable across processes)."""
    path, max_pixels = job
    if path is None:
        return "no file"
    try:
        return process_image_bytes(path.read_bytes(), max_pixels=max_pixels)
    except FileNotFoundError:
        return "file not found"
    except IsADirectoryError:
        return "is a directory"
    except ImageFileError as exc:
        return str(exc)


def _store_files(image: Image, dataset: Dataset, path: Path, result: ProcessedImage, stored: list[str]) -> None:
    base = f"datasets/{dataset.slug}"
    stem = image.key
    image.original.name = _save(f"{base}/originals/{image.key}", path.read_bytes(), stored)
    image.display.name = _save(f"{base}/display/{stem}.jpg", result.display_jpeg, stored)
    image.thumbnail.name = _save(f"{base}/thumbnails/{stem}.jpg", result.thumbnail_jpeg, stored)
    image.width, image.height, image.sha256 = result.width, result.height, result.sha256


def _save(name: str, data: bytes, stored: list[str]) -> str:
    saved = default_storage.save(name, ContentFile(data))
    stored.append(saved)
    return saved
