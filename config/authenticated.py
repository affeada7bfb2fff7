"""Request types for code that only a signed-in user reaches, so that `request.user` is typed as a User.

Every API view requires a signed-in user (IsAuthenticated is the default permission, and every role check
requires one too), and pages are behind login_required; the type only states what those checks ensure.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from rest_framework.request import Request


class AuthenticatedRequest(Request):
    user: User


class AuthenticatedHttpRequest(HttpRequest):
    user: User
