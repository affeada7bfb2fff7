"""Failures that are the client's or the database's, not bugs: a lost database connection answers 503 with
Retry-After (and is closed so the retry reconnects); an oversized request body answers 413 naming the limit;
input no endpoint accepts (a NUL character, an integer out of range) answers 400 saying what is wrong."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from config.api_errors import error_response
from config.request_input import RequestInputError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
MESSAGE = "The database is unavailable for a moment; nothing was saved. Please retry."


class _ExceptionMiddleware:
    """Answers some exceptions a view raises (process_exception); everything else passes through."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "json" in request.headers.get("Accept", "")


class DatabaseUnavailableMiddleware(_ExceptionMiddleware):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_connection_loss(exception):
            return None
        return database_unavailable(request, exception)


def database_unavailable(request: HttpRequest, exception: BaseException) -> HttpResponse:
    """503 with Retry-After for a request whose database connection was lost; the broken connection is closed."""
    logger.warning("database connection lost during %s %s: %s", request.method, request.path, exception)
    _close_broken_connections()
    if wants_json(request):
        response: HttpResponse = error_response(MESSAGE, "database_unavailable", 503)
    else:
        # Standalone template: base.html would read the user (and so the database) again.
        response = HttpResponse(render_to_string("503.html", {"message": MESSAGE}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def is_connection_loss(exception: BaseException | None) -> bool:
    return isinstance(exception, OperationalError | InterfaceError) and connection_lost(exception)


# SQLSTATEs of a lost or refused connection: class 08, and the server shutting down or terminating the backend.
_CONNECTION_STATES = {"57P01", "57P02", "57P03"}


def connection_lost(exception: Exception) -> bool:
    """Whether a database error means the connection is gone. psycopg reports a connection that broke
    without a server message with no SQLSTATE. Other operational errors (a deadlock, a serialization
    failure, a statement timeout) on a live connection stay 500s: they are bugs to see."""
    cause = exception.__cause__ or exception
    code = getattr(cause, "pgcode", None)
    return code is None or code.startswith("08") or code in _CONNECTION_STATES


def _close_broken_connections() -> None:
    """Close connections that no longer work, so the next request opens a new one (gunicorn's request
    signals would do so too; the test client disconnects them)."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        try:
            usable = connection.is_usable()
        except DatabaseError:
            usable = False
        if not usable:
            connection.close()


class RequestTooLargeMiddleware(_ExceptionMiddleware):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE (or with too many fields) answers 413 with the limit named,
    instead of Django's bare 400 page. Files in multipart uploads do not count towards it."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 2**20
            message = (
                f"The request body is larger than the limit of {limit:.0f} MiB for fields and JSON "
                "(files go up as multipart uploads, limited by RELABEL_MAX_UPLOAD_BYTES)."
            )
            status = 413
        elif isinstance(exception, TooManyFieldsSent):
            message = f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields."
            status = 400
        else:
            return None
        return client_error(request, message, status)


def client_error(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    """A refusal of the client's input that says what is wrong: the API's error body under /api/
    (config.api_errors), else the site's standalone error page (templates/400.html, which reads nothing from the
    database) with the message."""
    if wants_json(request):
        return error_response(message, "too_large" if status == 413 else "invalid", status)
    return HttpResponse(render_to_string("400.html", {"message": message, "status": status}), status=status)


_FORM = "application/x-www-form-urlencoded"


class RequestInputMiddleware(_ExceptionMiddleware):
    """Input no endpoint accepts is a 400 saying what is wrong, before any view or lookup runs: a NUL
    character in the path, a query parameter, a cookie or a form body (PostgreSQL text cannot hold one, so
    any lookup with it failed with a 500). A RequestInputError from a view (config.request_input: an
    integer query parameter out of range) answers the same way."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if problem := _nul_character_in(request):
            return client_error(request, problem)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestInputError):
            return client_error(request, str(exception))
        return None


def _nul_character_in(request: HttpRequest) -> str | None:
    refusal = "{} contains a NUL character (\\x00), which no field accepts"
    if "\x00" in request.path_info:
        return refusal.format("The URL path")
    sources = [("query parameter", request.GET), ("cookie", request.COOKIES)]
    # Form bodies are small (DATA_UPLOAD_MAX_MEMORY_SIZE) and read here only when well within the limits;
    # files (multipart) are checked by the forms and serializers that read them.
    if request.method == "POST" and request.content_type == _FORM:
        # Over a limit, the view reads the body again and RequestTooLargeMiddleware answers.
        with suppress(RequestDataTooBig, TooManyFieldsSent):
            sources.append(("form field", request.POST))
    for kind, values in sources:
        pairs = values.lists() if hasattr(values, "lists") else ((k, [v]) for k, v in values.items())
        for name, items in pairs:
            if "\x00" in name or any("\x00" in item for item in items):
                return refusal.format(f"The {kind} {name.replace(chr(0), '?')[:40]!r}")
    return None
