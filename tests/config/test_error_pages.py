"""Error pages with debug off, as the demo and production run: 400, 403, 404 and 500 in the site's style (JSON
under /api/), the 500 page without touching the database, and refusals logged in one line, not a traceback."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

pytestmark = pytest.mark.django_db


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("internal detail 4711")


def _refuse(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


# This module is also the URLconf of the tests that need a failing view (pytest.mark.urls): the site's routes
# and error handlers, plus two views that fail.
urlpatterns = [path("test-boom/", _boom), path("api/test-boom/", _boom), path("", include("config.urls"))]
handler400 = "config.views.bad_request"
handler403 = "config.error_pages.permission_denied"
handler404 = "config.error_pages.page_not_found"
handler500 = "config.views.server_error"


@contextmanager
def console_log() -> Iterator[io.StringIO]:
    """What the console handler of settings.LOGGING writes (its filters and formatter included)."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def _site_page(response, status: int, title: str) -> str:
    """The response's HTML, after checking it is the site's styled page for `status`, headed `title`."""
    html = response.content.decode()
    assert response.status_code == status
    assert title in html and 'class="topbar"' in html and "relabel.css" in html
    return html


def test_a_missing_page_is_a_404_in_the_sites_style_that_lists_no_url_patterns(client, reviewer):
    client.force_login(reviewer)
    html = _site_page(client.get("/no-such-page/"), 404, "Page not found")
    assert "rita" in html and 'href="/"' in html  # the signed-in user's bar and a way home
    assert "URLconf" not in html and "urlpatterns" not in html and "Traceback" not in html


def test_an_unknown_api_path_answers_json(client):
    response = client.get("/api/no-such-endpoint/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_refused_page_is_a_403_in_the_sites_style(client, annotator):
    client.force_login(annotator)
    assert "anna" in _site_page(client.get("/review/"), 403, "No access")


def test_a_refusal_is_logged_in_one_line_with_who_and_where(client, annotator):
    client.force_login(annotator)
    with console_log() as log:
        assert client.get("/review/").status_code == 403
        assert client.get("/no-such-page/").status_code == 404
    lines = log.getvalue().splitlines()
    assert "Traceback" not in log.getvalue()
    assert len(lines) == 2, lines
    assert "Forbidden" in lines[0] and "/review/" in lines[0] and "anna" in lines[0] and "GET" in lines[0]
    assert "Not Found" in lines[1] and "/no-such-page/" in lines[1]


@pytest.mark.urls("tests.config.test_error_pages")
def test_a_bug_is_a_500_page_in_the_sites_style_that_reads_nothing_from_the_database(
    annotator, django_assert_num_queries
):
    client = Client(raise_request_exception=False)
    client.force_login(annotator)
    with console_log() as log, django_assert_num_queries(0):
        html = _site_page(client.get("/test-boom/"), 500, "Something went wrong")
    assert "internal detail 4711" not in html and "Traceback" not in html
    assert "Traceback" in log.getvalue() and "RuntimeError: internal detail 4711" in log.getvalue()  # logged
    api = client.get("/api/test-boom/")
    assert api.status_code == 500 and "detail" in api.json()


def test_a_bad_request_is_a_400_page_in_the_sites_style_logged_in_one_line(client):
    with console_log() as log:
        _site_page(client.get("/", HTTP_HOST="evil.example"), 400, "Bad request")
    assert "Traceback" not in log.getvalue() and "evil.example" in log.getvalue()
    assert len(log.getvalue().splitlines()) == 1


def test_a_refused_csrf_check_is_a_403_page_that_says_what_to_do(annotator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)
    assert "reload the page" in _site_page(client.post("/accounts/logout/"), 403, "Form expired")
