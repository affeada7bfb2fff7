"""The home page: every dataset with its counts, and which of them I annotate."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from annotator.permissions import access_annotating
from annotator.selectors.datasets import dataset_list_with_counts, datasets_annotated_by
from config.authenticated import AuthenticatedHttpRequest


@login_required
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    annotating = (
        set(datasets_annotated_by(request.user).values_list("pk", flat=True))
        if access_annotating(request.user)
        else set()
    )
    return render(request, "home.html", {"datasets": dataset_list_with_counts(), "annotating": annotating})
