"""Prediction set API: list and register prediction sets (multipart), read their metric snapshots."""

from __future__ import annotations

from contextlib import AbstractContextManager

from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.models import Dataset
from config.api_errors import refused, validated
from config.authenticated import AuthenticatedRequest
from config.text_rules import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, refuse_bidi_controls
from evaluation.models import MetricSnapshot, PredictionSet, ReferenceLabelSet
from evaluation.permissions import CanUploadPredictions, CanViewEvaluation
from evaluation.selectors.prediction_sets import SUMMARY_KEYS, prediction_sets_of
from evaluation.services.prediction_sets import (
    EvaluationInputError,
    UploadTooLargeError,
    prediction_set_create,
    upload_body_check,
)


class PredictionSetOutput(serializers.ModelSerializer):
    dataset: serializers.SlugRelatedField[Dataset] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    uploaded_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = PredictionSet
        fields = [
            "id", "dataset", "name", "description", "source_format", "source_sha256", "n_images", "k",
            "has_scores", "use_for_candidates", "uploaded_by", "created_at",
        ]  # fmt: skip


class PredictionSetInput(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX_LENGTH, validators=[refuse_bidi_controls])
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=DESCRIPTION_MAX_LENGTH)
    file = serializers.FileField()
    use_for_candidates = serializers.BooleanField(required=False, default=False)


class PredictionSetListCreateApi(APIView):
    """GET: the dataset's prediction sets. POST (multipart): register one; 400 names the offending rows."""

    parser_classes = [MultiPartParser, FormParser]

    def get_permissions(self) -> list[BasePermission]:
        return [CanUploadPredictions()] if self.request.method == "POST" else [CanViewEvaluation()]

    @extend_schema(responses=PredictionSetOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        dataset = get_object_or_404(Dataset, slug=slug)
        return Response(PredictionSetOutput(prediction_sets_of(dataset).select_related("dataset"), many=True).data)

    @extend_schema(
        request=PredictionSetInput,
        responses={
            201: PredictionSetOutput,
            400: OpenApiResponse(description="Refused; for the file's content, `rows` names the offending rows."),
            413: OpenApiResponse(description="Larger than RELABEL_MAX_UPLOAD_BYTES."),
        },
    )
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        dataset = get_object_or_404(Dataset, slug=slug)
        with _too_large():  # before the body is parsed and spooled to disk
            upload_body_check(content_length=int(request.META.get("CONTENT_LENGTH") or 0))
        data = validated(PredictionSetInput(data=request.data))
        with refused(EvaluationInputError), _too_large():  # the inner one first: a file too large is a 413
            prediction_set = prediction_set_create(
                dataset=dataset,
                name=data["name"],
                description=data["description"],
                source=data["file"],
                uploaded_by=request.user,
                use_for_candidates=data["use_for_candidates"],
            )
        return Response(PredictionSetOutput(prediction_set).data, status=status.HTTP_201_CREATED)


class SnapshotOutput(serializers.ModelSerializer):
    reference_set: serializers.SlugRelatedField[ReferenceLabelSet] = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    metrics = serializers.SerializerMethodField()

    class Meta:
        model = MetricSnapshot
        fields = [
            "id", "label_source", "reference_set", "pool_size", "watermark", "metrics_version", "created_at", "seconds",
            "metrics",
        ]  # fmt: skip

    def get_metrics(self, snapshot: MetricSnapshot) -> dict:
        full = self.context.get("full", False)
        return snapshot.values if full else {key: snapshot.values.get(key) for key in SUMMARY_KEYS}


class SnapshotListApi(APIView):
    """The append-only metric history of a prediction set, newest first; `?full=1` adds per-class values."""

    permission_classes = [CanViewEvaluation]

    @extend_schema(responses=SnapshotOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        prediction_set = get_object_or_404(PredictionSet, pk=pk)
        snapshots = prediction_set.snapshots.select_related("reference_set").order_by("-created_at", "-id")
        full = request.query_params.get("full") in ("1", "true")
        return Response(SnapshotOutput(snapshots, many=True, context={"full": full}).data)


def _too_large() -> AbstractContextManager[None]:
    return refused(UploadTooLargeError, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, code="too_large")
