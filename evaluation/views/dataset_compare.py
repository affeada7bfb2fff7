"""The dataset comparison page, its CSV, and the chooser the evaluation pages link to."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render

from annotator.models import Dataset
from evaluation.core.dataset_compare_table import COMPARED, COMPARED_BY_KEY, DECOMPOSABLE, MULTILABEL_METRICS
from evaluation.permissions import access_candidate_selection, access_evaluation, require
from evaluation.selectors.dataset_compare import (
    ComparisonInputError,
    comparison_query,
    dataset_comparison,
    dataset_comparison_csv,
)


@require(access_evaluation)
def dataset_compare_choose(request: HttpRequest) -> HttpResponse:
    """`?a=SLUG&b=SLUG` from the evaluation pages' "Compare" form, to the comparison's own address."""
    a, b = request.GET.get("a", ""), request.GET.get("b", "")
    if not a or not b:
        return render(request, "evaluation/dataset_compare.html", {"error": "Choose two datasets."}, status=400)
    get_object_or_404(Dataset, slug=a)
    get_object_or_404(Dataset, slug=b)
    return redirect("dataset_compare:compare", slug=a, other=b)


@require(access_evaluation)
def dataset_compare_page(request: HttpRequest, slug: str, other: str) -> HttpResponse:
    dataset_a, dataset_b = get_object_or_404(Dataset, slug=slug), get_object_or_404(Dataset, slug=other)
    context: dict = {"dataset_a": dataset_a, "dataset_b": dataset_b}
    try:
        comparison = dataset_comparison(dataset_a, dataset_b, comparison_query(request.GET))
    except ComparisonInputError as error:
        context["error"] = str(error)
        return render(request, "evaluation/dataset_compare.html", context, status=400)
    context |= {
        "c": comparison,
        "compared": COMPARED,
        "first_multilabel": next(i for i, m in enumerate(COMPARED) if m.multilabel),
        "n_multilabel": len(MULTILABEL_METRICS),
        "metric_choices": [COMPARED_BY_KEY[key] for key in MULTILABEL_METRICS],
        "decompose_choices": [COMPARED_BY_KEY[key] for key in DECOMPOSABLE],
        "can_select_candidates": access_candidate_selection(request.user),
        "query_string": _without(request.GET.copy(), "edit_pairs").urlencode(),
        # Every set of A with a choice among all of B's is n² options: drawn only when asked for.
        "editing_pairs": bool(request.GET.get("edit_pairs")),
    }
    return render(request, "evaluation/dataset_compare.html", context)


def _without(params: QueryDict, key: str) -> QueryDict:
    params.pop(key, None)
    return params


@require(access_evaluation)
def dataset_compare_csv(request: HttpRequest, slug: str, other: str) -> HttpResponse:
    dataset_a, dataset_b = get_object_or_404(Dataset, slug=slug), get_object_or_404(Dataset, slug=other)
    try:
        comparison = dataset_comparison(dataset_a, dataset_b, comparison_query(request.GET), with_charts=False)
    except ComparisonInputError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(dataset_comparison_csv(comparison), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{dataset_a.slug}-vs-{dataset_b.slug}.csv"'
    return response
