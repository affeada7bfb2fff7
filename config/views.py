from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views import defaults
from django.views.static import serve

from annotator.permissions import User
from config.api_errors import error_response
from config.error_pages import json_error
from config.middleware import client_error, database_unavailable, is_connection_loss
from config.safe_paths import UnsafePathError, media_path
from evaluation.permissions import access_evaluation, access_releases

logger = logging.getLogger(__name__)


def _lost_connection_in(exception: BaseException | None) -> BaseException | None:
    """The connection loss behind `exception`, following its chain (Django turns a failed session save into
    an UpdateError and then a 400 SessionInterrupted)."""
    seen = 0
    while exception is not None and seen < 10:
        if is_connection_loss(exception):
            return exception
        exception, seen = exception.__cause__ or exception.__context__, seen + 1
    return None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a lost database connection outside a view (a middleware) answers 503 like one inside a
    view (config.middleware); anything else is the site's 500 page (JSON under /api/)."""
    if lost := _lost_connection_in(sys.exc_info()[1]):
        return database_unavailable(request, lost)
    return json_error(request, 500) or defaults.server_error(request)  # templates/500.html: no database


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: a session that could not be saved because the connection was lost is a 503, not the
    'session was deleted' 400 Django makes of it."""
    if lost := _lost_connection_in(exception):
        return database_unavailable(request, lost)
    return json_error(request, 400) or defaults.bad_request(request, exception)


def healthz(request: HttpRequest) -> JsonResponse:
    """Up, and the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def ping(request: HttpRequest) -> HttpResponse:
    """The cheapest Django response: the floor the benchmark compares the API with."""
    return HttpResponse("ok", content_type="text/plain")


def client_address(request: HttpRequest) -> str | None:
    """The client's address for login throttling (AXES_CLIENT_IP_CALLABLE). Behind RELABEL_TRUSTED_PROXIES
    reverse proxies, each of which appends the address it saw to X-Forwarded-For, the client is the entry
    that many places from the right (entries further left are whatever the client sent, and untrusted);
    without proxies, or a header shorter than that, the socket's address."""
    proxies = settings.RELABEL_TRUSTED_PROXIES
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def login_locked_out(request: HttpRequest, response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    """What django-axes answers while a username and address are locked out: 429 saying why and for how long
    (a page, or JSON for the API's token endpoint), even to the right password."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    context = {
        "username": (credentials or {}).get("username") or request.POST.get("username", ""),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": seconds // 60,
    }
    if request.path.startswith("/api/"):
        detail = (
            f"Too many failed logins: {settings.AXES_FAILURE_LIMIT} in a row from this address, so logging in "
            f"is locked for {seconds // 60} minutes. Try again later, or ask an admin to unlock the account."
        )
        locked: HttpResponse = error_response(detail, "locked_out", 429)
    else:
        locked = render(request, "registration/locked_out.html", context, status=429)
    locked["Retry-After"] = str(seconds)
    return locked


def _signed_in(user: User) -> bool:
    return user.is_authenticated


def _staff(user: User) -> bool:
    return user.is_authenticated and user.is_staff


# Who may read local media, by top-level folder. Images are shown to every signed-in user; prediction sets
# and reference labels (under evaluation/) are labels or derive from them, so annotators must not fetch them
# by URL. A folder not listed here is staff-only until someone classifies it.
MEDIA_ACCESS: dict[str, Callable[[User], bool]] = {
    "datasets": _signed_in,
    "evaluation": access_evaluation,
    # Release files are downloaded through the API; the folder follows the same rule.
    "releases": access_releases,
}


@login_required
def media_serve(request: HttpRequest, path: str) -> HttpResponseBase:
    """Local media (with S3 storage, URLs point at the bucket instead). The rule is chosen by the first folder
    of the normalised path, the same path the file is served from; any traversal is refused (400)."""
    try:
        name = media_path(path)
    except UnsafePathError as error:
        logger.warning("media path %r refused for %s: %s", path[:200], request.user, error)
        return client_error(request, f"Media path refused: {error}.")
    check = MEDIA_ACCESS.get(name.split("/", 1)[0], _staff)
    if not check(request.user):
        raise PermissionDenied
    return serve(request, name, document_root=str(settings.MEDIA_ROOT))
