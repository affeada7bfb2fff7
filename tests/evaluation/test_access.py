"""Role × endpoint: evaluation shows consensus-derived numbers, so annotators and outsiders get 403."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evaluation.models import PredictionSet
from evaluation.services.prediction_sets import prediction_set_create
from tests.builders.prediction_sets import TOP3, csv_bytes
from tests.evaluation.access_checks import assert_reached_as_allowed

VIEWERS = {"reviewer", "researcher", "staff"}
UPLOADERS = {"researcher", "staff"}
PERSONAS = ["annotator", "second_annotator", "reviewer", "researcher", "staff", "outsider", "anonymous"]


@pytest.fixture
def model(tiny):
    return prediction_set_create(dataset=tiny, name="model", source=ContentFile(csv_bytes(TOP3), name="m.csv"))


def _endpoints(tiny, model) -> dict[str, tuple[str, str, dict, set[str], bool]]:
    """name → (method, url, data, allowed personas, is API)."""
    upload = {"name": "new", "file": SimpleUploadedFile("new.csv", csv_bytes(TOP3))}
    return {
        "index page": ("get", reverse("leaderboard:index"), {}, VIEWERS, False),
        "leaderboard page": ("get", reverse("leaderboard:leaderboard", args=[tiny.slug]), {}, VIEWERS, False),
        "model page": ("get", reverse("prediction_sets:prediction-set", args=[model.pk]), {}, VIEWERS, False),
        "upload page": ("get", reverse("prediction_sets:upload", args=[tiny.slug]), {}, UPLOADERS, False),
        "upload form": ("post", reverse("prediction_sets:upload", args=[tiny.slug]), upload, UPLOADERS, False),
        "candidate sources": (
            "post",
            reverse("prediction_sets:candidate-sources", args=[tiny.slug]),
            {"prediction_sets": [model.pk]},
            UPLOADERS,
            False,
        ),  # fmt: skip
        "API list": ("get", reverse("prediction_sets:api-prediction-sets", args=[tiny.slug]), {}, VIEWERS, True),
        "API upload": (
            "post",
            reverse("prediction_sets:api-prediction-sets", args=[tiny.slug]),
            upload,
            UPLOADERS,
            True,
        ),
        "API snapshots": ("get", reverse("prediction_sets:api-snapshots", args=[model.pk]), {}, VIEWERS, True),
    }


ENDPOINT_NAMES = [
    "index page", "leaderboard page", "model page", "upload page", "upload form", "candidate sources",
    "API list", "API upload", "API snapshots",
]  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
def test_each_role_reaches_exactly_the_evaluation_endpoints_it_may(request, client, tiny, model, persona, endpoint):
    method, url, data, allowed, is_api = _endpoints(tiny, model)[endpoint]
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    response = getattr(client, method)(url, data)
    assert_reached_as_allowed(response, persona, allowed, is_api)
    expected_sets = 2 if persona in allowed and endpoint in ("upload form", "API upload") else 1
    assert PredictionSet.objects.count() == expected_sets


@pytest.mark.parametrize("persona", ["annotator", "outsider", "reviewer", "researcher", "staff"])
def test_the_evaluation_link_shows_only_for_those_who_may_follow_it(request, client, tiny, persona):
    client.force_login(request.getfixturevalue(persona))
    html = client.get(reverse("datasets:home")).content.decode()
    assert (f'href="{reverse("leaderboard:index")}"' in html) == (persona in VIEWERS)
