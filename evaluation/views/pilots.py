"""The pilot page: a dataset's pilot estimates with their intervals (researchers, reviewers, staff)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from annotator.models import Dataset
from config.api_errors import ApiError
from evaluation.api.pilots import width_param
from evaluation.core.pilot import DEFAULT_WIDTH
from evaluation.permissions import access_evaluation, access_pilot_create, require
from evaluation.selectors.pilots import current_pilot, pilot_report

MODEL_ROWS = (
    ("top1", "Top-1 (original label)"), ("real1", "ReaL@1"), ("vtk_strict", "Variable top-k, strict"),
    ("vtk_frac", "Variable top-k, fractional"), ("asma_strict", "ASMA, strict"), ("asma_frac", "ASMA, fractional"),
)  # fmt: skip


@require(access_evaluation)
def pilot_page(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, slug=slug)
    raw = request.GET.get("width")
    try:
        width = width_param(raw)
    except ApiError:  # a bad ?width= on the page falls back to the default instead of an error page
        width = DEFAULT_WIDTH
    pilot = current_pilot(dataset)
    report = pilot_report(pilot, width=width) if pilot else None
    models = []
    if report:
        for name, figures in report["estimates"]["prediction_sets"].items():
            models.append({"name": name, "rows": [(label, figures[key]) for key, label in MODEL_ROWS]})
    context = {
        "dataset": dataset, "pilot": pilot, "report": report, "models": models, "width": width,
        "can_create": access_pilot_create(request.user),
    }  # fmt: skip
    return render(request, "evaluation/pilot.html", context)
