"""Importing reference label sets (ReaL format) to evaluate models against."""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import slugify

from annotator.models import Dataset, Image, LabelClass
from evaluation.core.arrays import to_npy_bytes
from evaluation.core.reference_formats import ReferenceFormatError, parse_real_json
from evaluation.models import ReferenceLabels, ReferenceLabelSet
from evaluation.services.prediction_sets import (
    STORED_NAME_CHARS,
    EvaluationInputError,
    set_name_and_description,
    source_read,
)

logger = logging.getLogger(__name__)


@transaction.atomic
def reference_label_set_create(
    *,
    dataset: Dataset,
    name: str,
    source: File,
    description: str = "",
    created_by: User | None = None,
) -> ReferenceLabelSet:
    """Validate a ReaL-format file (one class list per image, dataset order), then store it.

    Nothing is stored when any entry is invalid. The new source is evaluated for every prediction set of
    the dataset after commit.
    """
    name, description = set_name_and_description(name, description, what="a reference label set")
    if ReferenceLabelSet.objects.filter(dataset=dataset, name=name).exists():
        raise EvaluationInputError(f"dataset {dataset.slug!r} already has a reference label set named {name!r}")
    data, filename = source_read(source)
    n_images = Image.objects.filter(dataset=dataset).count()
    num_classes = LabelClass.objects.filter(dataset=dataset).count()
    try:
        parsed = parse_real_json(data, n_images=n_images, num_classes=num_classes)
    except ReferenceFormatError as error:
        raise EvaluationInputError(f"{filename}: {error.message}", error.rows) from None
    source_name = default_storage.save(
        f"evaluation/{dataset.slug}/reference/{slugify(name)[:STORED_NAME_CHARS] or 'labels'}.json", ContentFile(data)
    )
    try:
        reference_set = ReferenceLabelSet.objects.create(
            dataset=dataset,
            name=name,
            description=description,
            source_file=source_name,
            n_images=parsed.n_images,
            n_labelled=parsed.n_labelled,
            n_labels=int(parsed.indices.size),
            created_by=created_by,
        )
        ReferenceLabels.objects.create(
            reference_set=reference_set, indptr=to_npy_bytes(parsed.indptr), indices=to_npy_bytes(parsed.indices)
        )
    except BaseException:
        default_storage.delete(source_name)
        raise
    transaction.on_commit(lambda: _enqueue_refresh(dataset))
    logger.info("reference label set %s (%s) imported for %s", reference_set.pk, name, dataset.slug)
    return reference_set


def _enqueue_refresh(dataset: Dataset) -> None:
    from evaluation.tasks import dataset_metrics_refresh_task

    dataset_metrics_refresh_task.delay(dataset.pk)
