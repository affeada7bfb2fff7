"""Logging filters (LOGGING in config/settings/base.py). Loaded while Django configures logging, before the
apps are: this module imports nothing that needs them."""

from __future__ import annotations

import logging

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject, empty


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
