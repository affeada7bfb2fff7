"""Registering prediction sets and choosing which of them propose candidates."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import slugify

from annotator.models import Dataset
from config.safe_paths import upload_file_name
from config.text_rules import DESCRIPTION_MAX_LENGTH, TextInputError, clean_name, clean_text
from evaluation.core.arrays import STORED_TOP_K, to_npy_bytes
from evaluation.core.prediction_formats import PredictionFormatError, parse_predictions
from evaluation.models import PredictionArrays, PredictionSet
from evaluation.selectors.label_pools import dataset_order

logger = logging.getLogger(__name__)

STORED_NAME_CHARS = 80  # of a set's slugified name in its storage folder (storage names hold 500 characters)


class EvaluationInputError(ValueError):
    """Input refused before anything was stored; ``rows`` name offending rows where there are any."""

    def __init__(self, message: str, rows: list[int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rows = rows or []


class UploadTooLargeError(EvaluationInputError):
    """A file over RELABEL_MAX_UPLOAD_BYTES (HTTP 413)."""


def upload_size_check(*, size: int) -> None:
    limit = settings.RELABEL_MAX_UPLOAD_BYTES
    if size > limit:
        raise UploadTooLargeError(
            f"the file is {size / 2**20:.1f} MiB, larger than the upload limit of {limit / 2**20:.1f} MiB "
            f"(RELABEL_MAX_UPLOAD_BYTES)"
        )


# Multipart framing around the file: a body this much over the limit holds a file over the limit.
MULTIPART_SLACK = 64 * 1024


def upload_body_check(*, content_length: int) -> None:
    """Refuse a request body clearly above RELABEL_MAX_UPLOAD_BYTES (UploadTooLargeError) before Django parses
    and spools it to disk: views call it with the request's Content-Length before reading the body."""
    if content_length > settings.RELABEL_MAX_UPLOAD_BYTES + MULTIPART_SLACK:
        upload_size_check(size=content_length)


def set_name_and_description(name: str, description: str, *, what: str) -> tuple[str, str]:
    """The name (required, at most NAME_MAX_LENGTH characters, no bidi controls) and the description (at most
    DESCRIPTION_MAX_LENGTH, bidi controls removed) of a prediction or reference set, else EvaluationInputError."""
    try:
        name = clean_name(name)
        description = clean_text(description, what="description", max_length=DESCRIPTION_MAX_LENGTH)
    except TextInputError as error:
        raise EvaluationInputError(str(error)) from None
    if not name:
        raise EvaluationInputError(f"{what} needs a name")
    return name, description


def source_read(source: File) -> tuple[bytes, str]:
    """The bytes and base name of an uploaded or local file, refusing files over the upload limit."""
    upload_size_check(size=source.size)
    source.seek(0)
    return source.read(), upload_file_name(source.name)


@transaction.atomic
def prediction_set_create(
    *,
    dataset: Dataset,
    name: str,
    source: File,
    description: str = "",
    uploaded_by: User | None = None,
    use_for_candidates: bool = False,
) -> PredictionSet:
    """Validate a prediction file completely, then store it and enqueue its first evaluation.

    `source` is an upload or any Django `File`; its size is checked against RELABEL_MAX_UPLOAD_BYTES before
    it is read. Nothing is written unless the whole file is valid (`EvaluationInputError` names the first
    offending rows). Files written to storage are removed again if the transaction fails.
    """
    name, description = set_name_and_description(name, description, what="a prediction set")
    if PredictionSet.objects.filter(dataset=dataset, name=name).exists():
        raise EvaluationInputError(f"dataset {dataset.slug!r} already has a prediction set named {name!r}")
    data, filename = source_read(source)
    order = dataset_order(dataset)
    if not len(order) or not order.num_classes:
        raise EvaluationInputError(f"dataset {dataset.slug!r} has no images or no classes yet")
    try:
        parsed = parse_predictions(data, filename, image_keys=order.keys, num_classes=order.num_classes, k=STORED_TOP_K)
    except PredictionFormatError as error:
        raise EvaluationInputError(f"{filename}: {error.message}", error.rows) from None

    stored: list[str] = []
    try:
        prefix = f"evaluation/{dataset.slug}/{slugify(name)[:STORED_NAME_CHARS] or 'predictions'}"
        source_name = _save(f"{prefix}/{filename}", data, stored)
        scores_name = ""
        if parsed.scores is not None:
            scores_name = _save(f"{prefix}/scores.npy", to_npy_bytes(parsed.scores), stored)
        prediction_set = PredictionSet.objects.create(
            dataset=dataset,
            name=name,
            description=description,
            source_file=source_name,
            source_format=parsed.format,
            source_sha256=hashlib.sha256(data).hexdigest(),
            n_images=len(order),
            k=parsed.topk.shape[1],
            has_scores=parsed.scores is not None,
            scores_file=scores_name,
            use_for_candidates=use_for_candidates,
            uploaded_by=uploaded_by,
        )
        PredictionArrays.objects.create(
            prediction_set=prediction_set,
            topk=to_npy_bytes(parsed.topk.astype(np.int32)),
            topk_scores=to_npy_bytes(parsed.topk_scores) if parsed.topk_scores is not None else None,
        )
    except BaseException:
        for name_in_storage in stored:
            default_storage.delete(name_in_storage)
        raise
    transaction.on_commit(lambda: _enqueue_after_upload(prediction_set))
    logger.info("prediction set %s (%s) registered for %s", prediction_set.pk, name, dataset.slug)
    return prediction_set


def _enqueue_after_upload(prediction_set: PredictionSet) -> None:
    from evaluation.tasks import candidates_recompute_task, prediction_set_evaluate_task

    prediction_set_evaluate_task.delay(prediction_set.pk)
    if prediction_set.use_for_candidates:
        candidates_recompute_task.delay(prediction_set.dataset_id)


def _save(name: str, data: bytes, stored: list[str]) -> str:
    saved = default_storage.save(name, ContentFile(data))
    stored.append(saved)
    return saved


@transaction.atomic
def candidate_sources_select(*, dataset: Dataset, prediction_sets: Iterable[PredictionSet]) -> bool:
    """Make exactly `prediction_sets` the dataset's candidate sources; recompute candidates if that changed.

    Returns whether the selection changed.
    """
    chosen = {p.pk for p in prediction_sets}
    foreign = chosen - set(PredictionSet.objects.filter(dataset=dataset, pk__in=chosen).values_list("pk", flat=True))
    if foreign:
        raise EvaluationInputError(f"prediction sets {sorted(foreign)} do not belong to dataset {dataset.slug!r}")
    in_dataset = PredictionSet.objects.filter(dataset=dataset)
    changed = in_dataset.filter(pk__in=chosen, use_for_candidates=False).update(use_for_candidates=True)
    changed += in_dataset.exclude(pk__in=chosen).filter(use_for_candidates=True).update(use_for_candidates=False)
    if changed:
        from evaluation.tasks import candidates_recompute_task

        transaction.on_commit(lambda: candidates_recompute_task.delay(dataset.pk))
    return bool(changed)
