"""Refusing oversized uploads before Django parses (and spools to disk) the whole request body."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from evaluation.services.prediction_sets import EvaluationInputError, upload_size_check

# Multipart framing around the file: a body this much over the limit holds a file over the limit.
MULTIPART_SLACK = 64 * 1024


def oversized_body_error(request: HttpRequest) -> str | None:
    """The size error for a request body clearly above RELABEL_MAX_UPLOAD_BYTES, else None."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length <= settings.RELABEL_MAX_UPLOAD_BYTES + MULTIPART_SLACK:
        return None
    try:
        upload_size_check(size=length)
    except EvaluationInputError as error:
        return error.message
    return None
