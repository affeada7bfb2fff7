"""Release pages: the datasets' releases, one dataset's list with the create form and build progress, a
release's detail with its files, and the comparison of two releases."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from annotator.models import Dataset
from config.authenticated import AuthenticatedHttpRequest
from evaluation.core.release_compare import KINDS
from evaluation.models import Release
from evaluation.permissions import access_releases, require
from evaluation.selectors.releases import has_original_labels, ready_releases, release_compare
from evaluation.services.releases import ReleaseInputError, release_create

COMPARE_PAGE = 200


class ReleaseForm(forms.Form):
    """Parameters of a new release; blank fields take the dataset's settings."""

    aggregation = forms.ChoiceField(
        choices=[("", "Dataset's setting"), ("majority", "Majority vote"), ("dawid_skene", "Dawid–Skene")],
        required=False,
    )
    threshold = forms.FloatField(
        required=False, min_value=0.01, max_value=1.0, help_text="Majority: yes-share τ. Dawid–Skene: posterior cut."
    )
    min_annotations = forms.IntegerField(
        required=False, min_value=1, max_value=100, help_text="Images with fewer annotations are released as pending."
    )
    apply_adjudications = forms.BooleanField(
        required=False, initial=True, help_text="Reviewers' final label sets (and exclusions) replace the crowd's."
    )
    unanswered_as_original = forms.BooleanField(
        required=False,
        label="Unanswered images keep their original label",
        help_text="ReaL's convention: an image nobody answered is listed with its original label (status "
        "'original') instead of an empty list (pending). On by default when the dataset has original labels.",
    )
    # One per rendered form: submitting the same form twice (a double click, a resent POST) makes one release.
    client_uuid = forms.UUIDField(required=False, widget=forms.HiddenInput)


@require(access_releases)
def releases_index(request: HttpRequest) -> HttpResponse:
    ready = Q(releases__state=Release.State.READY)
    datasets = Dataset.objects.annotate(
        n_releases=Count("releases", filter=ready), latest=Max("releases__version", filter=ready)
    ).order_by("name")
    return render(request, "evaluation/releases_index.html", {"datasets": datasets})


@require(access_releases)
@require_http_methods(["GET", "POST"])
def release_list(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, slug=slug)
    initial = {
        "apply_adjudications": True,
        "unanswered_as_original": has_original_labels(dataset),
        "client_uuid": uuid.uuid4(),
    }
    form = ReleaseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        parameters = {key: value for key, value in form.cleaned_data.items() if value not in (None, "")}
        try:
            release, created = release_create(dataset=dataset, created_by=request.user, **parameters)
        except ReleaseInputError as error:
            form.add_error(None, str(error))
        else:
            if created:
                messages.success(request, f"Release v{release.version} is being built.")
            return redirect("releases:releases", slug=dataset.slug)
    unfinished = Release.objects.filter(dataset=dataset).exclude(state=Release.State.READY).order_by("-version")[:5]
    context = {
        "dataset": dataset,
        "releases": ready_releases(dataset),
        "unfinished": unfinished,
        "form": form,
    }
    return render(request, "evaluation/releases.html", context, status=400 if form.errors else 200)


@require(access_releases)
def release_detail(request: HttpRequest, pk: int) -> HttpResponse:
    release = get_object_or_404(ready_releases(), pk=pk)
    others = ready_releases(release.dataset).exclude(pk=release.pk).select_related(None).only("id", "version")
    context = {"release": release, "files": release.files.all(), "others": others}
    return render(request, "evaluation/release_detail.html", context)


@require(access_releases)
def release_compare_page(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, slug=slug)
    releases = list(ready_releases(dataset).select_related(None).only("id", "version", "dataset_id"))
    by_id = {str(r.pk): r for r in releases}
    before = by_id.get(request.GET.get("before", ""), releases[1] if len(releases) > 1 else None)
    after = by_id.get(request.GET.get("after", ""), releases[0] if releases else None)
    kind = request.GET.get("kind") if request.GET.get("kind") in KINDS else None
    result = None
    if before is not None and after is not None and before.pk != after.pk:
        result = release_compare(before, after, kind=kind, limit=COMPARE_PAGE)
    context = {
        "dataset": dataset,
        "releases": releases,
        "before": before,
        "after": after,
        "kind": kind,
        "kinds": KINDS,
        "result": result,
        "page_size": COMPARE_PAGE,
    }
    return render(request, "evaluation/release_compare.html", context)
