"""One view per operation: parse, check access (annotator.permissions), call one service or selector."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api import serializers as io
from annotator.models import Dataset
from annotator.permissions import CanAnnotate, access_dataset_annotation, access_vocabulary, dataset_or_403
from annotator.selectors import annotations_of, item_for, progress_of, vocabulary_of
from annotator.services.annotations import AnnotationInputError, Answer, annotation_revise, annotation_submit
from annotator.services.assignment import AssignmentError, image_skip, lease_next
from config.request_input import query_int

ANNOTATION_LIST_LIMIT = 500


def _bad_request(message: str) -> Response:
    return Response({"detail": message}, status=status.HTTP_400_BAD_REQUEST)


def _parse(serializer: serializers.Serializer) -> dict:
    """Validated data, or a 400 whose `detail` names every offending field."""
    if not serializer.is_valid():
        raise _InputError(_describe(serializer.errors))
    return serializer.validated_data


def _describe(errors: object, prefix: str = "") -> str:
    if isinstance(errors, dict):
        return "; ".join(_describe(value, f"{prefix}.{key}" if prefix else str(key)) for key, value in errors.items())
    if isinstance(errors, list) and errors and not isinstance(errors[0], str):
        return "; ".join(_describe(value, prefix) for value in errors if value)
    return f"{prefix}: {' '.join(map(str, errors))}" if prefix else " ".join(map(str, errors))


class _InputError(Exception):
    pass


def _answer(data: dict) -> Answer:
    return Answer(
        classes=data["classes"], none_fits=data["none_fits"], unsure=data["unsure"],
        bad_image=data["bad_image"], seconds=data["seconds"],
    )  # fmt: skip


class AnnotationApiView(APIView):
    permission_classes = [CanAnnotate]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _InputError | AnnotationInputError):
            return _bad_request(str(exc))
        return super().handle_exception(exc)


class NextImageApi(AnnotationApiView):
    """Lease the next image for me (or return the one I already hold). 204 when nothing is left for me."""

    @extend_schema(request=io.NextInput, responses={200: io.ItemOutput, 204: None, 409: io.MessageOutput})
    def post(self, request: Request, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_dataset_annotation)
        data = _parse(io.NextInput(data=request.data))
        try:
            lease = lease_next(dataset=dataset, annotator=request.user, exclude=set(data["exclude"]))
        except AssignmentError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        if lease is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            io.ItemOutput(item_for(image=lease.image, shown=lease.shown, lease_expires_at=lease.expires_at)).data
        )


class SkipApi(AnnotationApiView):
    """Give a leased image back without answering; it is not handed to me again."""

    @extend_schema(request=None, responses={204: None, 400: io.MessageOutput})
    def post(self, request: Request, image_id: int) -> Response:
        try:
            image_skip(image_id=image_id, annotator=request.user)
        except AssignmentError as error:
            return _bad_request(str(error))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotationListSubmitApi(AnnotationApiView):
    """GET: my own annotations, newest first. POST: submit my answer for a leased image (idempotent)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("dataset", OpenApiTypes.STR, description="Dataset slug"),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"At most {ANNOTATION_LIST_LIMIT}; default 50"),
        ],
        responses=io.AnnotationOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        dataset = None
        if slug := request.query_params.get("dataset"):
            dataset = get_object_or_404(Dataset, slug=slug)
        limit = query_int(request.query_params, "limit", default=50, minimum=1, maximum=ANNOTATION_LIST_LIMIT)
        annotations = annotations_of(annotator=request.user, dataset=dataset)[:limit]
        return Response(io.AnnotationOutput(annotations, many=True).data)

    @extend_schema(
        request=io.SubmitInput,
        responses={201: io.AnnotationOutput, 200: io.AnnotationOutput, 400: io.MessageOutput},
        description="201 when stored; 200 with the first result when `client_uuid` was already submitted.",
    )
    def post(self, request: Request) -> Response:
        data = _parse(io.SubmitInput(data=request.data))
        annotation, created = annotation_submit(
            annotator=request.user, image_id=data["image"], answer=_answer(data), client_uuid=data["client_uuid"]
        )
        return Response(io.AnnotationOutput(annotation).data, status=201 if created else 200)


class AnnotationDetailReviseApi(AnnotationApiView):
    """GET: one of my annotations with its image and the candidates as shown. PUT: revise it (idempotent)."""

    @extend_schema(responses={200: io.AnnotationDetailOutput, 404: io.MessageOutput})
    def get(self, request: Request, pk: int) -> Response:
        annotation = get_object_or_404(annotations_of(annotator=request.user), pk=pk)
        annotation.item = item_for(image=annotation.image, shown=annotation.shown, lease_expires_at=None)
        return Response(io.AnnotationDetailOutput(annotation).data)

    @extend_schema(
        request=io.AnswerInput, responses={200: io.AnnotationOutput, 400: io.MessageOutput, 404: io.MessageOutput}
    )
    def put(self, request: Request, pk: int) -> Response:
        get_object_or_404(annotations_of(annotator=request.user), pk=pk)
        data = _parse(io.AnswerInput(data=request.data))
        annotation, _ = annotation_revise(
            annotator=request.user, annotation_id=pk, answer=_answer(data), client_uuid=data["client_uuid"]
        )
        return Response(io.AnnotationOutput(annotation).data)


class ProgressApi(AnnotationApiView):
    """My count today and in total, and the dataset's completion."""

    @extend_schema(responses=io.ProgressOutput)
    def get(self, request: Request, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_dataset_annotation)
        since = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        return Response(io.ProgressOutput(progress_of(dataset=dataset, annotator=request.user, since=since)).data)


class VocabularyApi(APIView):
    """The dataset's classes in index order, for the workbench's search (name, synonyms, key)."""

    @extend_schema(responses=io.VocabularyEntryOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_vocabulary)
        response = Response(io.VocabularyEntryOutput(vocabulary_of(dataset), many=True).data)
        response["Cache-Control"] = "private, max-age=300"
        return response
