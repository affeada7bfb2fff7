"""The annotation API's serializers: bound fields shared across instances and threads, UTC datetimes."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rest_framework import serializers

from annotator.api.annotations import AnswerInput, NextInput, SubmitInput
from config.serializers import UtcDateTimeField


def test_each_class_binds_its_fields_once_and_subclasses_keep_their_own():
    assert SubmitInput(data={}).fields is SubmitInput(data={}).fields
    assert set(SubmitInput(data={}).fields) == set(AnswerInput(data={}).fields) | {"image"}
    assert "image" not in AnswerInput(data={}).fields


def _payload(i: int) -> dict:
    """Every third payload is invalid in a different field, so a result leaking between threads shows."""
    body = {"image": i + 1, "classes": [i + 1, i + 2], "seconds": 1.5, "client_uuid": str(uuid.UUID(int=i + 1))}
    if i % 3 == 1:
        body["classes"] = [i + 1, "x"]
    elif i % 3 == 2:
        body["seconds"] = -1
    return body


def _validate(i: int) -> tuple[int, dict | None, dict | None]:
    serializer = SubmitInput(data=_payload(i))
    if serializer.is_valid():
        return i, dict(serializer.validated_data), None
    return i, None, serializer.errors


def test_shared_fields_validate_concurrently_without_crosstalk():
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(_validate, range(3000)))
    for i, data, errors in results:
        if i % 3 == 0:
            assert errors is None
            assert data["image"] == i + 1 and data["classes"] == [i + 1, i + 2]
            assert data["client_uuid"] == uuid.UUID(int=i + 1) and data["none_fits"] is False
        elif i % 3 == 1:
            assert data is None and set(errors) == {"classes"}
        else:
            assert data is None and set(errors) == {"seconds"}


def test_defaults_are_fresh_per_validation():
    first = NextInput(data={})
    assert first.is_valid()
    first.validated_data["exclude"].append(99)
    second = NextInput(data={})
    assert second.is_valid() and second.validated_data["exclude"] == []


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 27, 10, 0, 5, 123456, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 6, 30, 23, 59, 59, tzinfo=timezone(timedelta(hours=-7))),
    ],
)
def test_utc_datetime_renders_as_drf_does(value, settings):
    assert settings.TIME_ZONE == "UTC"
    assert UtcDateTimeField().to_representation(value) == serializers.DateTimeField().to_representation(value)
    assert UtcDateTimeField().to_representation(value).endswith("Z")


def test_utc_datetime_renders_none_as_null():
    assert UtcDateTimeField(allow_null=True).to_representation(None) is None
