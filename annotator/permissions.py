"""Who may annotate what: every access decision of the workbench and its API lives here.

Annotating a dataset needs the annotator role (staff hold every role) and an admin's assignment to that
dataset. The vocabulary is also readable by reviewers and researchers. An annotator only ever reads their
own annotations (the API answers 404 for anyone else's), which keeps annotation blind.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeGuard

from django.contrib.auth import models as auth
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from annotator.models import Dataset
from annotator.roles import ANNOTATOR, RESEARCHER, REVIEWER, has_role
from annotator.selectors.datasets import annotates_dataset, dataset_by_slug

User = auth.User | AnonymousUser
DatasetCheck = Callable[[User, Dataset], bool]


def access_annotating(user: User) -> TypeGuard[auth.User]:
    """May use the annotation endpoints at all (which datasets is checked per dataset)."""
    return has_role(user, ANNOTATOR)


def access_dataset_annotation(user: User, dataset: Dataset) -> bool:
    return access_annotating(user) and annotates_dataset(user, dataset.pk)


def access_vocabulary(user: User, dataset: Dataset) -> bool:
    return has_role(user, REVIEWER) or has_role(user, RESEARCHER) or access_dataset_annotation(user, dataset)


class CanAnnotate(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return access_annotating(request.user)


def dataset_or_403(user: User, slug: str, check: DatasetCheck) -> Dataset:
    """The dataset named in the URL (404 if none), if `check` allows this user (else 403)."""
    dataset = dataset_by_slug(slug, user)
    if dataset is None:
        raise Http404("No dataset matches the given query.")
    if not check(user, dataset):
        raise PermissionDenied
    return dataset


ViewFunction = Callable[..., HttpResponse]


def require_dataset(check: DatasetCheck) -> Callable[[ViewFunction], ViewFunction]:
    """Page decorator for views taking `slug`: sign-in first (redirect), then `check` (403).
    The view receives the dataset instead of the slug."""

    def decorator(view: ViewFunction) -> ViewFunction:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, slug: str, *args: object, **kwargs: object) -> HttpResponse:
            return view(request, dataset_or_403(request.user, slug, check), *args, **kwargs)

        return wrapped

    return decorator


def access_consensus(user: User, dataset: Dataset | None = None) -> bool:
    """Consensus and agreement figures: reviewers, researchers and staff. Never annotators as such, whose
    annotation must stay blind to what others answered."""
    return has_role(user, REVIEWER) or has_role(user, RESEARCHER)


class CanViewConsensus(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return access_consensus(request.user)


def access_dataset_settings(user: User, dataset: Dataset | None = None) -> bool:
    """Changing a dataset's settings (e.g. its redundancy): staff, as in the admin."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def access_review(user: User, dataset: Dataset | None = None) -> bool:
    """The review queue, adjudication and every image's full annotation history (with annotator names):
    reviewers and staff. Researchers see aggregate figures only; annotators nothing of others' answers."""
    return has_role(user, REVIEWER)


class CanReview(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return access_review(request.user)
