"""The annotation workbench page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotator.models import Dataset
from annotator.permissions import access_dataset_annotation, require_dataset


@require_dataset(access_dataset_annotation)
def workbench(request: HttpRequest, dataset: Dataset) -> HttpResponse:
    """The page is a shell; workbench.js fetches images, candidates and the vocabulary from the API."""
    return render(request, "annotator/workbench.html", {"dataset": dataset})
