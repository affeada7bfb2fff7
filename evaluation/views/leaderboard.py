"""Leaderboard pages: the datasets under evaluation, one dataset's leaderboard and its CSV."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from annotator.models import Dataset
from evaluation.permissions import access_candidate_selection, access_evaluation, access_prediction_upload, require
from evaluation.selectors.label_pools import label_source_choices, label_source_pick
from evaluation.selectors.leaderboard import DEFAULT_LEADERBOARD_SORT, leaderboard_csv_for, leaderboard_for


@require(access_evaluation)
def evaluation_index(request: HttpRequest) -> HttpResponse:
    datasets = Dataset.objects.annotate(
        n_prediction_sets=Count("prediction_sets", distinct=True),
        n_reference_sets=Count("reference_label_sets", distinct=True),
    ).order_by("name")
    return render(request, "evaluation/index.html", {"datasets": datasets})


@require(access_evaluation)
def leaderboard(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, slug=slug)
    choices = label_source_choices(dataset)
    source = label_source_pick(dataset, choices, request.GET.get("labels"))
    sort = request.GET.get("sort", DEFAULT_LEADERBOARD_SORT)
    board = leaderboard_for(dataset, source, sort=sort, variant=request.GET.get("asma", ""))
    context = {
        "dataset": dataset,
        "choices": choices,
        "source": source,
        "board": board,
        "sort": board.sort,
        "can_upload": access_prediction_upload(request.user),
        "can_select_candidates": access_candidate_selection(request.user),
        "other_datasets": Dataset.objects.exclude(pk=dataset.pk).order_by("name").only("slug", "name"),
    }
    return render(request, "evaluation/leaderboard.html", context)


@require(access_evaluation)
def leaderboard_csv(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, slug=slug)
    source = label_source_pick(dataset, label_source_choices(dataset), request.GET.get("labels"))
    response = HttpResponse(leaderboard_csv_for(dataset, source), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{dataset.slug}-leaderboard-{source.slug}.csv"'
    return response
