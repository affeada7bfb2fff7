"""Who may see and change evaluation: every access decision of the app lives here.

Evaluation shows numbers derived from the consensus; annotators must not see them (they would anchor
their judgements), so only researchers, reviewers and staff may look. Registering prediction sets and
choosing candidate sources changes what annotators are asked: researchers and staff.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth import models as auth
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from annotator.roles import RESEARCHER, REVIEWER, has_role

User = auth.User | AnonymousUser
ViewFunction = Callable[..., HttpResponse]


def access_evaluation(user: User) -> bool:
    return has_role(user, RESEARCHER) or has_role(user, REVIEWER)


def access_prediction_upload(user: User) -> bool:
    return has_role(user, RESEARCHER)


def access_candidate_selection(user: User) -> bool:
    return has_role(user, RESEARCHER)


def access_pilot_create(user: User) -> bool:
    """A new pilot changes what the queue hands out first: researchers and staff."""
    return has_role(user, RESEARCHER)


def access_releases(user: User) -> bool:
    """Listing, downloading, creating and comparing releases: researchers and staff (admins). Reviewers as such
    see the live consensus already; annotators must stay blind to it."""
    return has_role(user, RESEARCHER)


class CanUseReleases(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return access_releases(request.user)


class CanViewEvaluation(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return access_evaluation(request.user)


class CanUploadPredictions(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return access_prediction_upload(request.user)


def require(check: Callable[[User], bool]) -> Callable[[ViewFunction], ViewFunction]:
    """Page decorator: sign-in first (redirect), then `check` (403)."""

    def decorator(view: ViewFunction) -> ViewFunction:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
