"""API of consensus and agreement figures: reviewers, researchers and staff only (annotators get 403)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.permissions import CanViewConsensus, access_consensus, dataset_or_403
from annotator.selectors.consensus import agreement_overview
from annotator.services.dawid_skene import dawid_skene_request


class AgreementOutput(serializers.Serializer):
    dataset = serializers.CharField()
    status = serializers.DictField(child=serializers.IntegerField(), help_text="Images per consensus status, now.")
    snapshot_created_at = serializers.DateTimeField(allow_null=True)
    figures = serializers.DictField(allow_null=True, help_text="The latest agreement snapshot (see README).")
    dawid_skene = serializers.DictField(allow_null=True, help_text="The latest Dawid–Skene run.")
    answers_per_image = serializers.DictField(
        help_text="Completed annotations per image: `histogram` {count: images}, `mean` over started images, "
        "`n_images`, `redundancy` (fixed or adaptive)."
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
