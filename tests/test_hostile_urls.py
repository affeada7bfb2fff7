"""Every routed URL with hostile values in its path and query: huge integers and NUL characters.

The routes are enumerated from the root resolver (as the access matrix does), so a new URL is probed as soon
as it exists. Integers of 2^63 and more once overflowed PostgreSQL's bigint (the review queue's `class`,
`offset` and `page`: 500s), and a NUL character in any value reached a query PostgreSQL refuses (500).
Now a huge id in a path is a 404, a huge or malformed integer parameter a 400 naming its range, and a NUL
anywhere a 400 saying so; nothing answers 5xx, for staff (who reach every view) or an annotator. Every
refusal under /api/ has the API's one error body.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from django.db import transaction
from django.urls import reverse
from rest_framework.test import APIClient

from config.request_input import MAX_SQL_INT
from tests.error_contract import assert_error_body, is_api_refusal
from tests.test_access_matrix import EXPECTED, Route, World, routes, world  # noqa: F401 - `world` is a fixture

pytestmark = pytest.mark.django_db

HUGE = [str(MAX_SQL_INT + 1), "9" * 20, "9" * 60]
# Every query parameter any view reads, and one no view reads.
QUERY_PARAMETERS = [
    "dataset", "limit", "offset", "page", "class", "annotator", "status", "kind", "before", "after", "labels",
    "sort", "order", "full", "next", "q", "cursor", "unknown",
]  # fmt: skip
# Those that could reach SQL as a number (an id, an offset), and one no view reads.
NUMERIC_PARAMETERS = ["dataset", "limit", "offset", "page", "class", "annotator", "before", "after", "labels", "x"]
INTEGER_PARAMETERS = {  # URL name → its integer query parameters, each refused out of range with a 400
    "annotations:api-annotations": ["limit"],
    "review:queue": ["page", "class", "annotator"],
    "review:image": ["class", "annotator"],
    "review:api-queue": ["offset", "limit", "class", "annotator"],
    "releases:api-release-compare": ["offset", "limit"],
}
METHODS = ("get", "post", "put")


def _client(request, persona: str) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_login(request.getfixturevalue(persona))
    return client


def _send(client: APIClient, method: str, url: str):
    """One request in a savepoint rolled back afterwards (a failed query must not poison the next probe)."""
    with transaction.atomic():
        if method == "get":
            response = client.get(url)
        else:
            response = client.generic(method.upper(), url, "{}", content_type="application/json")
        transaction.set_rollback(True)
    if is_api_refusal(url, response):
        assert_error_body(response, f"{method.upper()} {url}")
    return response


def _values(route: Route, built: World, number: str) -> dict[str, str]:
    real = {"slug": built.pets.slug, "kind": "real", "path": "datasets/pets/thumbnails/0000.jpg"}
    return {name: real.get(name, number) for name in route.converters}


def _url(route: Route, values: dict[str, str]) -> str:
    """The route with its converters filled in, without reverse() (whose converters would refuse them)."""
    url = "/" + route.route
    for name, value in values.items():
        url = re.sub(rf"<(?:\w+:)?{name}>", value, url)
        url = re.sub(rf"\(\?P<{name}>[^)]*\)", value, url)
    return url.replace("^", "").replace("$", "").replace("\\Z", "")


def _numeric_routes() -> list[Route]:
    return [r for r in routes() if any(c not in ("slug", "kind", "path", "app_label", "url") for c in r.converters)]


def test_routes_with_ids_are_found():
    keys = {r.key for r in _numeric_routes()}
    assert {
        "annotations:api-annotation",
        "annotations:api-skip",
        "review:image",
        "releases:api-release-compare",
    } <= keys


@pytest.mark.parametrize("persona", ["staff", "annotator"])
def test_a_huge_id_in_any_url_is_a_404_never_a_500(request, persona):
    built, client = request.getfixturevalue("world"), _client(request, persona)
    failures = []
    for route in _numeric_routes():
        for number in HUGE:
            url = _url(route, _values(route, built, number))
            for method in METHODS:
                response = _send(client, method, url)
                # A huge id is no id (404) unless the method (405) or the persona (403) is refused first.
                allowed = (302, 403, 404, 405) if route.route.startswith("admin") else (403, 404, 405)
                if response.status_code not in allowed:
                    failures.append(f"{method.upper()} {url[:90]}: {response.status_code}")
    assert not failures, "\n".join(failures)


def _urls_of_every_route(built: World) -> list[tuple[str, str]]:
    """(URL name, URL) for every route, with real values so each view runs past its lookups."""
    urls = []
    for key, probes in EXPECTED.items():
        probe = probes[0]
        urls.append((key, reverse(key, kwargs=probe.kwargs(built))))
    return urls


MALFORMED = [*HUGE[:2], "-1", "²", "٣", " 7 ", "1e3", "0x10"]


def _failures(request, persona: str, queries: list[str], methods: tuple[str, ...], failed: Callable) -> list[str]:
    """Every route (with real values in its path) asked with each query string by each method, as `persona`:
    the answers for which `failed(response)` holds."""
    built, client = request.getfixturevalue("world"), _client(request, persona)
    failures = []
    for key, url in _urls_of_every_route(built):
        for query in queries:
            for method in methods:
                response = _send(client, method, f"{url}?{query}")
                if failed(response):
                    answer = f"{response.status_code} {response.content[:80]!r}"
                    failures.append(f"{method.upper()} {key} ?{query[:50]}: {answer}")
    return failures


def _server_error(response) -> bool:  # noqa: ANN001
    return response.status_code >= 500


def test_huge_and_malformed_integers_in_each_query_parameter_never_give_a_500(request, staff):
    """One parameter at a time (together, one refused value can hide another: an empty filter skips the
    query), as staff, who reach every view past its permission check."""
    queries = [f"{name}={value}" for name in NUMERIC_PARAMETERS for value in MALFORMED[:4]]
    failures = _failures(request, "staff", queries, ("get",), _server_error)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("persona", ["annotator", "reviewer"])
def test_huge_integers_in_every_query_parameter_never_give_a_500_for_any_method(request, persona):
    queries = ["&".join(f"{name}={value}" for name in QUERY_PARAMETERS) for value in MALFORMED]
    failures = _failures(request, persona, queries, METHODS, _server_error)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("key", "name"), [(key, name) for key, names in INTEGER_PARAMETERS.items() for name in names])
def test_an_integer_parameter_out_of_range_is_a_400_naming_it(request, key, name):
    built, client = request.getfixturevalue("world"), _client(request, "staff")
    url = reverse(key, kwargs=EXPECTED[key][0].kwargs(built))
    for value in [*HUGE, "²", "-5", "abc"]:
        response = _send(client, "get", f"{url}?{name}={value}")
        assert response.status_code == 400, (key, name, value, response.status_code)
        if "/api/" in url:
            assert response.json()["detail"].startswith(f"{name} must be a whole number from ")
        else:  # the site's 400 page, with the message
            assert f"<p>{name} must be a whole number from " in response.content.decode()


def test_in_range_integer_parameters_still_work(request, staff):
    request.getfixturevalue("world")
    client = APIClient()
    client.force_login(staff)
    assert client.get("/api/datasets/pets/review-queue/?offset=9223372036854775807").json()["results"] == []
    assert client.get("/review/pets/?page=2&class=").status_code == 200
    assert client.get("/api/annotations/?limit=500").status_code == 200


@pytest.mark.parametrize("persona", ["staff", "annotator"])
def test_a_nul_character_in_any_query_parameter_is_a_400_that_says_so(request, persona):
    queries = [query for name in QUERY_PARAMETERS for query in (f"{name}=%00", f"{name}=ab%00c", f"{name}%00=1")]

    def not_refused(response) -> bool:  # noqa: ANN001
        return response.status_code != 400 or b"contains a NUL character" not in response.content

    failures = _failures(request, persona, queries, METHODS, not_refused)
    assert not failures, "\n".join(failures[:40])


def test_a_nul_character_in_a_path_a_cookie_or_a_form_field_is_a_400_that_says_so(request, staff):
    built = request.getfixturevalue("world")
    client = APIClient(raise_request_exception=False)
    client.force_login(staff)
    release = built.releases[0].pk
    for url in (f"/api/releases/{release}/files/%00/", "/media/datasets/%00", "/review/pets%00/"):
        response = _send(client, "get", url)
        assert response.status_code == 400 and "URL path contains a NUL character" in html.unescape(
            response.content.decode()
        ), url
    for key, probes in EXPECTED.items():
        for probe in probes:
            if probe.method != "post":
                continue
            url = reverse(key, kwargs=probe.kwargs(built))
            with transaction.atomic():
                response = client.post(url, "name=a%00b&note=x", content_type="application/x-www-form-urlencoded")
                transaction.set_rollback(True)
            assert response.status_code == 400, (url, response.status_code)
            assert "form field 'name' contains a NUL character" in _text(response), url
    client.cookies["sessionid"] = "\x00abcdefghijklmnop"
    response = _send(client, "get", "/")
    assert response.status_code == 400 and "cookie 'sessionid' contains a NUL" in html.unescape(
        response.content.decode()
    )


def _text(response) -> str:
    """The refusal's words: JSON under /api/, else the 400 page's text (HTML-escaped there)."""
    return html.unescape(response.content.decode())
