"""API of consensus and agreement figures and the redundancy and queue-order settings: reviewers, researchers and
staff only (annotators get 403); changing a setting: staff."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.models import Dataset, Image
from annotator.permissions import CanViewConsensus, access_consensus, access_dataset_settings, dataset_or_403
from annotator.selectors.consensus import agreement_overview
from annotator.services.assignment import (
    QUEUE_ORDERS,
    REDUNDANCY_KINDS,
    AssignmentError,
    dataset_queue_order_set,
    dataset_redundancy_set,
)
from annotator.services.dawid_skene import dawid_skene_request
from config.api_errors import refused, validated


class AgreementOutput(serializers.Serializer):
    dataset = serializers.CharField()
    status = serializers.DictField(child=serializers.IntegerField(), help_text="Images per consensus status, now.")
    snapshot_created_at = serializers.DateTimeField(allow_null=True)
    figures = serializers.DictField(allow_null=True, help_text="The latest agreement snapshot (see README).")
    dawid_skene = serializers.DictField(allow_null=True, help_text="The latest Dawid–Skene run.")
    answers_per_image = serializers.DictField(
        allow_null=True,
        help_text="Completed annotations per image as of the latest agreement snapshot (null before one): "
        "`histogram` {count: images}, `mean` over started images, `n_images`, `redundancy` (fixed or adaptive).",
    )


class AgreementApi(APIView):
    """GET the latest agreement figures; POST to refit Dawid–Skene and recompute them (asynchronously; the
    request is kept in the database until a run answers it)."""

    permission_classes = [CanViewConsensus]

    @extend_schema(responses=AgreementOutput)
    def get(self, request: Request, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_consensus)
        return Response(AgreementOutput(agreement_overview(dataset)).data)

    @extend_schema(request=None, responses={202: None})
    def post(self, request: Request, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_consensus)
        dawid_skene_request(dataset=dataset)
        return Response({"queued": "annotator.dawid_skene_run"}, status=status.HTTP_202_ACCEPTED)


class RedundancyInput(serializers.Serializer):
    redundancy = serializers.ChoiceField(choices=list(REDUNDANCY_KINDS))
    minimum = serializers.IntegerField(min_value=1, max_value=100, default=2)
    maximum = serializers.IntegerField(min_value=1, max_value=100, default=5)
    confidence = serializers.FloatField(min_value=0.5, max_value=1.0, default=0.95)


class RedundancyOutput(serializers.Serializer):
    redundancy = serializers.CharField()
    minimum = serializers.IntegerField(source="redundancy_min")
    maximum = serializers.IntegerField(source="redundancy_max")
    confidence = serializers.FloatField(source="redundancy_confidence")
    annotations_per_image = serializers.IntegerField(help_text="N, under fixed redundancy.")


class RedundancyApi(APIView):
    """GET the dataset's redundancy setting (fixed, or adaptive with minimum, maximum and confidence); PUT to change
    it (staff): every image's need follows and the consensus is recounted (see README, "Adaptive redundancy")."""

    permission_classes = [CanViewConsensus]

    @extend_schema(responses=RedundancyOutput)
    def get(self, request: Request, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_consensus)
        return Response(RedundancyOutput(dataset).data)

    @extend_schema(request=RedundancyInput, responses=RedundancyOutput)
    def put(self, request: Request, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_dataset_settings)
        data = validated(RedundancyInput(data=request.data))
        with refused(AssignmentError):
            dataset_redundancy_set(dataset=dataset, **data)
        return Response(RedundancyOutput(dataset).data)


class QueueOrderInput(serializers.Serializer):
    queue_order = serializers.ChoiceField(choices=list(QUEUE_ORDERS))


class QueueOrderOutput(serializers.Serializer):
    queue_order = serializers.CharField()
    images_with_score = serializers.IntegerField(help_text="Images with a model score (from the selected sets).")


class QueueOrderApi(APIView):
    """GET the order of the dataset's fresh images in the hand-out (`position` or `model_guided`) and how many
    images have a model score; PUT `{"queue_order": …}` to change it (staff). See README, "Model-guided order"."""

    permission_classes = [CanViewConsensus]

    @staticmethod
    def _output(dataset: Dataset) -> dict:
        scored = Image.objects.filter(dataset=dataset, model_score__isnull=False).count()
        return QueueOrderOutput({"queue_order": dataset.queue_order, "images_with_score": scored}).data

    @extend_schema(responses=QueueOrderOutput)
    def get(self, request: Request, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_consensus)
        return Response(self._output(dataset))

    @extend_schema(request=QueueOrderInput, responses=QueueOrderOutput)
    def put(self, request: Request, slug: str) -> Response:
        dataset = dataset_or_403(request.user, slug, access_dataset_settings)
        data = validated(QueueOrderInput(data=request.data))
        with refused(AssignmentError):
            dataset_queue_order_set(dataset=dataset, queue_order=data["queue_order"])
        return Response(self._output(dataset))
