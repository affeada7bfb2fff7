"""Request bodies over Django's limits get a clear answer naming the limit, never a bare 400 or a 500."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from annotator.models import Annotation

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(annotator) -> APIClient:
    client = APIClient()
    client.force_login(annotator)
    return client


def test_a_json_body_over_the_limit_gets_a_413_naming_it_and_writes_nothing(api):
    body = json.dumps({"image": 1, "classes": list(range(settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 4)), "unsure": True})
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = api.generic("POST", "/api/annotations/", body, content_type="application/json")
    assert response.status_code == 413
    assert "larger than the limit of 10 MiB" in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_a_form_with_too_many_fields_gets_a_400_that_says_so(client, researcher):
    client.force_login(researcher)
    fields = {f"f{i}": "1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = client.post("/accounts/logout/", fields)
    assert response.status_code == 400
    assert f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields" in response.content.decode()


def test_a_body_within_the_limit_is_read_and_validated_as_usual(api):
    response = api.generic("POST", "/api/annotations/", json.dumps({"image": 1}), content_type="application/json")
    assert response.status_code == 400 and "client_uuid" in response.json()["detail"]
