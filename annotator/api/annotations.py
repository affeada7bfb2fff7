"""The annotation API: next image, skip, submit, revise, my annotations, progress, vocabulary.

One view per operation: parse, check access (annotator.permissions), call one service or selector. The small
input and output serializers come first; nothing in them names a candidate's source, the original label, or
anyone else's answer: annotation stays blind."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.models import Dataset
from annotator.permissions import CanAnnotate, access_dataset_annotation, access_vocabulary, dataset_or_403
from annotator.selectors.annotations import annotations_of, item_for, progress_of
from annotator.selectors.datasets import vocabulary_of
from annotator.services.annotations import AnnotationInputError, Answer, annotation_revise, annotation_submit
from annotator.services.assignment import AssignmentError, image_skip, lease_next
from config.api_errors import refused, validated
from config.authenticated import AuthenticatedRequest
from config.request_input import MAX_SQL_INT, query_int
from config.serializers import Output, SharedFields, UtcDateTimeField

MAX_SECONDS_PER_ANSWER = 3600.0
MAX_ID = MAX_SQL_INT  # PostgreSQL bigint: larger ids are refused as input (400), not sent to the database


def _id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


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


ANNOTATION_LIST_LIMIT = 500


def _answer(data: dict) -> Answer:
    return Answer(
        classes=data["classes"], none_fits=data["none_fits"], unsure=data["unsure"],
        bad_image=data["bad_image"], seconds=data["seconds"],
    )  # fmt: skip


class AnnotationApiView(APIView):
    permission_classes = [CanAnnotate]


class NextImageApi(AnnotationApiView):
    """Lease the next image for me (or return the one I already hold). 204 when nothing is left for me."""

    @extend_schema(
        request=NextInput,
        responses={200: ItemOutput, 204: None, 409: OpenApiResponse(description="I already hold two leases.")},
    )
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_dataset_annotation)
        data = validated(NextInput(data=request.data))
        with refused(AssignmentError, status=status.HTTP_409_CONFLICT, code="conflict"):
            lease = lease_next(dataset=dataset, annotator=request.user, exclude=set(data["exclude"]))
        if lease is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            ItemOutput(item_for(image=lease.image, shown=lease.shown, lease_expires_at=lease.expires_at)).data
        )


class SkipApi(AnnotationApiView):
    """Give a leased image back without answering; it is not handed to me again."""

    @extend_schema(request=None, responses={204: None, 400: OpenApiResponse(description="Not leased to me.")})
    def post(self, request: AuthenticatedRequest, image_id: int) -> Response:
        with refused(AssignmentError):
            image_skip(image_id=image_id, annotator=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotationListSubmitApi(AnnotationApiView):
    """GET: my own annotations, newest first. POST: submit my answer for a leased image (idempotent)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("dataset", OpenApiTypes.STR, description="Dataset slug"),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"At most {ANNOTATION_LIST_LIMIT}; default 50"),
        ],
        responses=AnnotationOutput(many=True),
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        dataset = None
        if slug := request.query_params.get("dataset"):
            dataset = get_object_or_404(Dataset, slug=slug)
        limit = query_int(request.query_params, "limit", default=50, minimum=1, maximum=ANNOTATION_LIST_LIMIT)
        annotations = annotations_of(annotator=request.user, dataset=dataset)[:limit]
        return Response(AnnotationOutput(annotations, many=True).data)

    @extend_schema(
        request=SubmitInput,
        responses={201: AnnotationOutput, 200: AnnotationOutput, 400: OpenApiResponse(description="Refused.")},
        description="201 when stored; 200 with the first result when `client_uuid` was already submitted.",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = validated(SubmitInput(data=request.data))
        with refused(AnnotationInputError):
            annotation, created = annotation_submit(
                annotator=request.user, image_id=data["image"], answer=_answer(data), client_uuid=data["client_uuid"]
            )
        return Response(AnnotationOutput(annotation).data, status=201 if created else 200)


class AnnotationDetailReviseApi(AnnotationApiView):
    """GET: one of my annotations with its image and the candidates as shown. PUT: revise it (idempotent)."""

    @extend_schema(responses={200: AnnotationDetailOutput, 404: OpenApiResponse(description="Not one of mine.")})
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        annotation = get_object_or_404(annotations_of(annotator=request.user), pk=pk)
        item = item_for(image=annotation.image, shown=annotation.shown, lease_expires_at=None)
        setattr(annotation, "item", item)  # noqa: B010 (for the output serializer; not a field of the model)
        return Response(AnnotationDetailOutput(annotation).data)

    @extend_schema(
        request=AnswerInput,
        responses={
            200: AnnotationOutput,
            400: OpenApiResponse(description="Refused."),
            404: OpenApiResponse(description="Not one of mine."),
        },
    )
    def put(self, request: AuthenticatedRequest, pk: int) -> Response:
        get_object_or_404(annotations_of(annotator=request.user), pk=pk)
        data = validated(AnswerInput(data=request.data))
        with refused(AnnotationInputError):
            annotation, _ = annotation_revise(
                annotator=request.user, annotation_id=pk, answer=_answer(data), client_uuid=data["client_uuid"]
            )
        return Response(AnnotationOutput(annotation).data)


class ProgressApi(AnnotationApiView):
    """My count today and in total, and the dataset's completion."""

    @extend_schema(responses=ProgressOutput)
    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_dataset_annotation)
        since = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        return Response(ProgressOutput(progress_of(dataset=dataset, annotator=request.user, since=since)).data)


class VocabularyApi(APIView):
    """The dataset's classes in index order, for the workbench's search (name, synonyms, key)."""

    @extend_schema(responses=VocabularyEntryOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_vocabulary)
        response = Response(VocabularyEntryOutput(vocabulary_of(dataset), many=True).data)
        response["Cache-Control"] = "private, max-age=300"
        return response
