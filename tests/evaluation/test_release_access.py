"""Role × endpoint for releases: researchers and staff only; annotators, reviewers, outsiders get 403."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evaluation.models import Release
from tests.builders.releases import built_release, voted_dataset
from tests.evaluation.access_checks import assert_reached_as_allowed

ALLOWED = {"researcher", "staff"}
PERSONAS = ["annotator", "reviewer", "researcher", "staff", "outsider", "anonymous"]


@pytest.fixture
def two_releases(db, tmp_path, django_capture_on_commit_callbacks):
    dataset = voted_dataset(tmp_path)
    return dataset, [built_release(dataset, django_capture_on_commit_callbacks) for _ in range(2)]


def _endpoints(dataset, first, second) -> dict[str, tuple[str, str, dict, bool]]:
    """name → (method, url, data, is API)."""
    return {
        "index page": ("get", reverse("releases:releases-index"), {}, False),
        "list page": ("get", reverse("releases:releases", args=[dataset.slug]), {}, False),
        "create form": ("post", reverse("releases:releases", args=[dataset.slug]), {"threshold": "0.6"}, False),
        "detail page": ("get", reverse("releases:release", args=[first.pk]), {}, False),
        "compare page": ("get", reverse("releases:release-compare", args=[dataset.slug]), {}, False),
        "API list": ("get", reverse("releases:api-releases", args=[dataset.slug]), {}, True),
        "API create": ("post", reverse("releases:api-releases", args=[dataset.slug]), {"threshold": 0.6}, True),
        "API detail": ("get", reverse("releases:api-release", args=[first.pk]), {}, True),
        "API progress": ("get", reverse("releases:api-release-progress", args=[first.pk]), {}, True),
        "API file": ("get", reverse("releases:api-release-file", args=[first.pk, "real"]), {}, True),
        "API zip": ("get", reverse("releases:api-release-file", args=[first.pk, "zip"]), {}, True),
        "API compare": ("get", reverse("releases:api-release-compare", args=[first.pk, second.pk]), {}, True),
    }


ENDPOINTS = [
    "index page", "list page", "create form", "detail page", "compare page", "API list", "API create", "API detail",
    "API progress", "API file", "API zip", "API compare",
]  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_each_role_reaches_exactly_the_release_endpoints_it_may(request, client, two_releases, persona, endpoint):
    dataset, (first, second) = two_releases
    method, url, data, is_api = _endpoints(dataset, first, second)[endpoint]
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    response = getattr(client, method)(url, data)
    assert_reached_as_allowed(response, persona, ALLOWED, is_api)
    created = persona in ALLOWED and endpoint in ("create form", "API create")
    assert Release.objects.count() == (3 if created else 2)


@pytest.mark.parametrize("persona", ["annotator", "outsider", "reviewer", "researcher", "staff"])
def test_the_releases_link_shows_only_for_those_who_may_follow_it(request, client, db, persona):
    client.force_login(request.getfixturevalue(persona))
    html = client.get(reverse("datasets:home")).content.decode()
    assert (f'href="{reverse("releases:releases-index")}"' in html) == (persona in ALLOWED)
