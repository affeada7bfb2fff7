"""Small input and output serializers of the annotation API. Nothing here names a candidate's source,
the original label, or anyone else's answer: annotation stays blind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from config.request_input import MAX_SQL_INT

MAX_SECONDS_PER_ANSWER = 3600.0
MAX_ID = MAX_SQL_INT  # PostgreSQL bigint: larger ids are refused as input (400), not sent to the database


def _id_field(**kwargs: object) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


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
            prototype = cls.__new__(cls)
            serializers.Serializer.__init__(prototype)
            fields = BindingDict(prototype)
            for name, field in prototype.get_fields().items():
                fields[name] = field
            SharedFields._shared_fields[cls] = fields
        return fields


class UtcDateTimeField(serializers.DateTimeField):
    """DRF's ISO 8601 rendering of an aware datetime in UTC (`…Z`), without its per-value lookup of the
    current time zone (the settings' zone is UTC; the values are aware, from the database or `now()`)."""

    def to_representation(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Output(SharedFields, serializers.Serializer):
    """A response serializer with shared bound fields (see `SharedFields`)."""


class MessageOutput(Output):
    detail = serializers.CharField()


class ImageOutput(Output):
    id = serializers.IntegerField()
    file_name = serializers.CharField()
    display_url = serializers.CharField(allow_null=True, help_text="Large display copy (or the original).")
    original_url = serializers.CharField(allow_null=True, help_text="The original file, for zooming.")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)


class CandidateOutput(Output):
    id = serializers.IntegerField(help_text="LabelClass id, as sent back in `classes`.")
    key = serializers.CharField(help_text="Stable class identifier, e.g. a WordNet id.")
    name = serializers.CharField()
    synonyms = serializers.ListField(child=serializers.CharField())
    gloss = serializers.CharField()
    references = serializers.ListField(
        child=serializers.CharField(), help_text="Up to three thumbnails of other images of this class."
    )


class ItemOutput(Output):
    """An image to annotate and its candidate classes, in this annotator's display order."""

    image = ImageOutput()
    candidates = CandidateOutput(many=True)
    lease_expires_at = UtcDateTimeField(
        allow_null=True, help_text="Submit or skip before this time; null when revising an earlier answer."
    )


class NextInput(SharedFields, serializers.Serializer):
    exclude = serializers.ListField(
        child=_id_field(),
        required=False,
        default=list,
        max_length=10,
        help_text="Image ids the client already holds (the image on screen), to prefetch the one after.",
    )


class AnswerInput(SharedFields, serializers.Serializer):
    classes = serializers.ListField(
        child=_id_field(), required=False, default=list, max_length=100,
        help_text="Chosen class ids: candidates and classes found through the vocabulary search.",
    )  # fmt: skip
    none_fits = serializers.BooleanField(required=False, default=False, help_text="No candidate fits.")
    unsure = serializers.BooleanField(required=False, default=False)
    bad_image = serializers.BooleanField(required=False, default=False, help_text="Broken, not a photo, offensive.")
    seconds = serializers.FloatField(required=False, default=0.0, min_value=0.0, max_value=MAX_SECONDS_PER_ANSWER)
    client_uuid = serializers.UUIDField(help_text="Made by the client; a retry with the same value writes nothing.")


class SubmitInput(AnswerInput):
    image = _id_field(help_text="The id of an image leased to you.")


class AnnotationOutput(Output):
    id = serializers.IntegerField()
    image = serializers.IntegerField(source="image_id")
    file_name = serializers.CharField(source="image.key")
    classes = serializers.ListField(child=serializers.IntegerField())
    shown = serializers.ListField(child=serializers.IntegerField(), help_text="Candidate ids shown, in order.")
    none_fits = serializers.BooleanField()
    unsure = serializers.BooleanField()
    bad_image = serializers.BooleanField()
    seconds = serializers.FloatField()
    revision_count = serializers.IntegerField()
    client_uuid = serializers.UUIDField()
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()


class AnnotationDetailOutput(AnnotationOutput):
    item = ItemOutput(help_text="The image and the candidates as shown, to revise the answer.")


class VocabularyEntryOutput(Output):
    id = serializers.IntegerField()
    key = serializers.CharField()
    name = serializers.CharField()
    synonyms = serializers.ListField(child=serializers.CharField())
    gloss = serializers.CharField()


class ProgressOutput(Output):
    mine_today = serializers.IntegerField()
    mine_total = serializers.IntegerField()
    images = serializers.IntegerField()
    images_complete = serializers.IntegerField(help_text="Images with all the annotations they need.")
    annotations_done = serializers.IntegerField()
    annotations_needed = serializers.IntegerField()
