"""Error answers with debug off: the site's own 400/403/404/500 pages (templates/4xx.html, 500.html), and
the API's error body (config.api_errors) under /api/. Refusals are logged in one line (config.log_filters).

The 500 and 400 pages are standalone (templates/errors/standalone.html): they read neither the user nor the
session, since the database may be what failed. 403 and 404 pages extend base.html, with the user's bar.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from config.api_errors import error_response
from config.middleware import wants_json

# status: (detail, code) of the API's form of each error page (DRF's own wording where DRF has one)
MESSAGES = {
    400: ("Bad request.", "bad_request"),
    403: ("You do not have permission to perform this action.", "permission_denied"),
    404: ("Not found.", "not_found"),
    500: ("The server failed to answer this request; it has been logged.", "server_error"),
}


def json_error(request: HttpRequest, status: int) -> JsonResponse | None:
    """The API's form of an error page (config.api_errors' body), or None for a page request."""
    return error_response(*MESSAGES[status], status) if wants_json(request) else None


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: templates/404.html, or JSON under /api/."""
    return json_error(request, 404) or defaults.page_not_found(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403: templates/403.html, or JSON under /api/."""
    return json_error(request, 403) or defaults.permission_denied(request, exception)
