from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from annotator.models import Dataset
from annotator.permissions import access_annotating, access_dataset_annotation, require_dataset
from annotator.selectors import dataset_list_with_counts, datasets_annotated_by


@login_required
def home(request: HttpRequest) -> HttpResponse:
    annotating = (
        set(datasets_annotated_by(request.user).values_list("pk", flat=True))
        if access_annotating(request.user)
        else set()
    )
    return render(request, "home.html", {"datasets": dataset_list_with_counts(), "annotating": annotating})


@require_dataset(access_dataset_annotation)
def workbench(request: HttpRequest, dataset: Dataset) -> HttpResponse:
    """The page is a shell; workbench.js fetches images, candidates and the vocabulary from the API."""
    return render(request, "annotator/workbench.html", {"dataset": dataset})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
