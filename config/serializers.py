"""Serializer plumbing the APIs share: bound fields built once per class, and UTC datetimes rendered fast."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict


class SharedFields:
    """Bound fields built once per serializer class and shared by every instance (mix in before Serializer).

    DRF deep-copies each declared field whenever a serializer is made, which cost more than rendering an
    item, or validating an answer, on the annotation hot path. Sharing is safe when the fields keep no
    state between calls and nothing reads the serializer's context: rendering (`Output`) and the plain
    input serializers below (no context-dependent defaults or validators; errors live on the serializer,
    not on its fields). Validation runs concurrently in many threads on one bound set:
    tests/annotator/test_api_serializers.py checks that it stays correct.
    """

    _shared_fields: ClassVar[dict[type, BindingDict]] = {}

    @property
    def fields(self) -> BindingDict:  # DRF: a cached_property per instance
        cls = type(self)
        fields = SharedFields._shared_fields.get(cls)
        if fields is None:
            # A Serializer: SharedFields is only mixed into serializers.
            prototype = cast("serializers.Serializer[Any]", cls.__new__(cls))
            serializers.Serializer.__init__(prototype)
            fields = BindingDict(prototype)
            for name, field in prototype.get_fields().items():
                fields[name] = field
            SharedFields._shared_fields[cls] = fields
        return fields


class UtcDateTimeField(serializers.DateTimeField):
    """DRF's ISO 8601 rendering of an aware datetime in UTC (`…Z`), without its per-value lookup of the
    current time zone (the settings' zone is UTC; the values are aware, from the database or `now()`)."""

    # As DRF's own DateTimeField, None for None; the stub types the result as str.
    def to_representation(self, value: datetime | None) -> str | None:  # type: ignore[override]
        if value is None:
            return None
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Output(SharedFields, serializers.Serializer):
    """A response serializer with shared bound fields (see `SharedFields`)."""
