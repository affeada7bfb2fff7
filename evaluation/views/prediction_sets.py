"""Prediction set pages: one set's metrics, the upload form, and choosing which sets propose candidates.
The forms parse and bound input; services do the work."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotator.models import Dataset
from config.authenticated import AuthenticatedHttpRequest
from config.text_rules import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, refuse_bidi_controls
from evaluation.models import PredictionSet
from evaluation.permissions import access_candidate_selection, access_evaluation, access_prediction_upload, require
from evaluation.selectors.label_pools import label_source_choices, label_source_pick
from evaluation.selectors.leaderboard import class_sort_links, model_page_for
from evaluation.services.prediction_sets import (
    EvaluationInputError,
    UploadTooLargeError,
    candidate_sources_select,
    prediction_set_create,
    upload_body_check,
)

FORMAT_HELP = 'CSV (image,top5), JSONL ({"image", "classes", "scores"}), .npy (N×k classes or N×C scores) or .npz.'


class PredictionSetUploadForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        validators=[refuse_bidi_controls],
        help_text="Unique within the dataset, e.g. resnet50-torchvision.",
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=DESCRIPTION_MAX_LENGTH
    )
    file = forms.FileField(help_text=FORMAT_HELP)
    use_for_candidates = forms.BooleanField(
        required=False, help_text="Propose this model's top-k classes to annotators as candidates."
    )


class CandidateSourcesForm(forms.Form):
    prediction_sets = forms.ModelMultipleChoiceField(
        queryset=PredictionSet.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, dataset_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelMultipleChoiceField, self.fields["prediction_sets"])
        field.queryset = PredictionSet.objects.filter(dataset_id=dataset_id)


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
def prediction_set_upload(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, slug=slug)
    if request.method == "GET":
        return _upload_page(request, dataset, PredictionSetUploadForm())
    try:  # before the body is parsed and spooled to disk
        upload_body_check(content_length=int(request.META.get("CONTENT_LENGTH") or 0))
    except UploadTooLargeError as error:
        # An unbound form cannot take add_error(); the page shows `upload_error` above the form instead.
        return _upload_page(request, dataset, PredictionSetUploadForm(), status=413, upload_error=error.message)
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
    return redirect("prediction_sets:prediction-set", pk=prediction_set.pk)


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
        return redirect("leaderboard:leaderboard", slug=dataset.slug)
    changed = candidate_sources_select(dataset=dataset, prediction_sets=form.cleaned_data["prediction_sets"])
    if changed:
        messages.success(request, "Candidate sources changed; candidates are being recomputed.")
    else:
        messages.info(request, "Candidate sources unchanged.")
    return redirect("leaderboard:leaderboard", slug=dataset.slug)
