"""Server-rendered evaluation pages: parse input, check access, call one selector or service, render."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotator.models import Dataset
from evaluation.forms import CandidateSourcesForm, PredictionSetUploadForm
from evaluation.leaderboard import (
    DEFAULT_LEADERBOARD_SORT,
    class_sort_links,
    leaderboard_csv_for,
    leaderboard_for,
    model_page_for,
)
from evaluation.models import PredictionSet
from evaluation.permissions import (
    access_candidate_selection,
    access_evaluation,
    access_prediction_upload,
    require,
)
from evaluation.selectors import label_source_choices, label_source_pick
from evaluation.services.prediction_sets import (
    EvaluationInputError,
    UploadTooLargeError,
    candidate_sources_select,
    prediction_set_create,
)
from evaluation.uploads import oversized_body_error


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
    }
    return render(request, "evaluation/leaderboard.html", context)


@require(access_evaluation)
def leaderboard_csv(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, slug=slug)
    source = label_source_pick(dataset, label_source_choices(dataset), request.GET.get("labels"))
    response = HttpResponse(leaderboard_csv_for(dataset, source), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{dataset.slug}-leaderboard-{source.slug}.csv"'
    return response


@require(access_evaluation)
def prediction_set_detail(request: HttpRequest, pk: int) -> HttpResponse:
    prediction_set = get_object_or_404(PredictionSet.objects.select_related("dataset", "uploaded_by"), pk=pk)
    choices = label_source_choices(prediction_set.dataset)
    source = label_source_pick(prediction_set.dataset, choices, request.GET.get("labels"))
    sort = request.GET.get("sort", "real")
    page = model_page_for(prediction_set, source, sort)
    links = class_sort_links(sort, with_ap=prediction_set.has_scores)
    context = {
        "prediction_set": prediction_set,
        "choices": choices,
        "source": source,
        "page": page,
        "sort": sort,
        "sort_links": links,
    }
    return render(request, "evaluation/prediction_set.html", context)


@require(access_prediction_upload)
@require_http_methods(["GET", "POST"])
def prediction_set_upload(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, slug=slug)
    if request.method == "GET":
        return _upload_page(request, dataset, PredictionSetUploadForm())
    if error := oversized_body_error(request):  # before the body is parsed and spooled to disk
        # An unbound form cannot take add_error(); the page shows `upload_error` above the form instead.
        return _upload_page(request, dataset, PredictionSetUploadForm(), status=413, upload_error=error)
    form = PredictionSetUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_page(request, dataset, form, status=400)
    fields = {key: form.cleaned_data[key] for key in ("name", "description", "use_for_candidates")}
    try:
        prediction_set = prediction_set_create(
            dataset=dataset, source=form.cleaned_data["file"], uploaded_by=request.user, **fields
        )
    except EvaluationInputError as error:
        form.add_error("file", error.message)
        return _upload_page(request, dataset, form, status=413 if isinstance(error, UploadTooLargeError) else 400)
    messages.success(request, f"Registered {prediction_set.name}; its metrics are being computed.")
    return redirect("evaluation:prediction-set", pk=prediction_set.pk)


def _upload_page(
    request: HttpRequest, dataset: Dataset, form: PredictionSetUploadForm, status: int = 200, upload_error: str = ""
) -> HttpResponse:
    context = {
        "dataset": dataset,
        "form": form,
        "limit_mib": settings.RELABEL_MAX_UPLOAD_BYTES / 2**20,
        "upload_error": upload_error,
    }
    return render(request, "evaluation/upload.html", context, status=status)


@require(access_candidate_selection)
@require_POST
def candidate_sources(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, slug=slug)
    form = CandidateSourcesForm(request.POST, dataset_id=dataset.pk)
    if not form.is_valid():
        messages.error(request, "Unknown prediction set selected.")
        return redirect("evaluation:leaderboard", slug=dataset.slug)
    changed = candidate_sources_select(dataset=dataset, prediction_sets=form.cleaned_data["prediction_sets"])
    if changed:
        messages.success(request, "Candidate sources changed; candidates are being recomputed.")
    else:
        messages.info(request, "Candidate sources unchanged.")
    return redirect("evaluation:leaderboard", slug=dataset.slug)
