"""Error answers with debug off: the site's own 400/403/404/500 pages (templates/4xx.html, 500.html), JSON
under /api/, and refusals logged in one line.

The 500 and 400 pages are standalone (templates/errors/standalone.html): they read neither the user nor the
session, since the database may be what failed. 403 and 404 pages extend base.html, with the user's bar.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.functional import SimpleLazyObject, empty
from django.views import defaults

from config.middleware import wants_json

MESSAGES = {
    400: "Bad request.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    500: "The server failed to answer this request; it has been logged.",
}


def json_error(request: HttpRequest, status: int) -> JsonResponse | None:
    """The API's form of an error page (DRF's own `detail`), or None for a page request."""
    return JsonResponse({"detail": MESSAGES[status]}, status=status) if wants_json(request) else None


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: templates/404.html, or JSON under /api/."""
    return json_error(request, 404) or defaults.page_not_found(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403: templates/403.html, or JSON under /api/."""
    return json_error(request, 403) or defaults.permission_denied(request, exception)


class RefusalsInOneLine(logging.Filter):
    """A console-handler filter. Django logs a refused request (403 PermissionDenied, 400 DisallowedHost) with
    the exception's traceback; a refusal is the client's doing, not a bug, so it becomes one line saying what
    was refused: the message, method, status and, when the request already knew it, the user. 5xx records
    keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        request = getattr(record, "request", None)
        if not isinstance(status, int) or not 400 <= status < 500 or request is None:
            return True
        record.exc_info = record.exc_text = None
        who = _known_user(request)
        record.msg = f"{record.msg} [{request.method} {status}{f' {who}' if who else ''}]"
        return True


def _known_user(request: HttpRequest) -> str:
    """The username, only if the request already loaded its user: logging must not query the database."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = None if user._wrapped is empty else user._wrapped
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous" if user is not None else ""
    return f"user {user.get_username()}"
