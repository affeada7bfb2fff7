"""Pilot API: read a dataset's pilot estimates; create a new pilot (researchers and staff)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.models import Dataset, Pilot
from annotator.models.pilots import MAX_PILOT_IMAGES
from annotator.services.pilots import MAX_SEED, PilotInputError, pilot_create
from config.api_errors import ApiError, validated
from config.authenticated import AuthenticatedRequest
from evaluation.core.pilot import DEFAULT_WIDTH
from evaluation.permissions import CanViewEvaluation, access_pilot_create
from evaluation.selectors.pilots import current_pilot, pilot_report


class PilotInput(serializers.Serializer):
    n = serializers.IntegerField(min_value=1, max_value=MAX_PILOT_IMAGES)
    mode = serializers.ChoiceField(choices=Pilot.Mode.choices, default=Pilot.Mode.UNIFORM)
    seed = serializers.IntegerField(required=False, min_value=0, max_value=MAX_SEED - 1)


def width_param(raw: str | None) -> float:
    """`?width=` (the interval width the "more images" figures aim at), 0 < width < 1."""
    if raw is None or raw == "":
        return DEFAULT_WIDTH
    try:
        width = float(raw)
    except ValueError:
        width = -1.0
    if not 0 < width < 1:
        raise ApiError("width must be a number between 0 and 1, e.g. 0.05", fields={"width": ["Between 0 and 1."]})
    return width


class PilotApi(APIView):
    """GET: the current pilot (the active one, else the latest) with its estimates from the settled pilot images,
    95 % intervals and the settled images still needed for an interval `?width=` wide (default 0.05); 404 when the
    dataset has no pilot. POST (researchers and staff): draw a new pilot, which becomes the active one (201)."""

    permission_classes = [CanViewEvaluation]

    @extend_schema(
        parameters=[OpenApiParameter("width", OpenApiTypes.FLOAT, description="Target interval width, 0..1.")],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, slug: str) -> Response:
        dataset = get_object_or_404(Dataset, slug=slug)
        width = width_param(request.query_params.get("width"))
        pilot = current_pilot(dataset)
        if pilot is None:
            raise ApiError("This dataset has no pilot yet.", status=404, code="not_found")
        return Response(pilot_report(pilot, width=width))

    @extend_schema(request=PilotInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        if not access_pilot_create(request.user):
            raise ApiError("Only researchers and staff create pilots.", status=403, code="permission_denied")
        dataset = get_object_or_404(Dataset, slug=slug)
        data = validated(PilotInput(data=request.data))
        try:
            pilot = pilot_create(dataset=dataset, created_by=request.user, **data)
        except PilotInputError as error:
            raise ApiError(str(error), fields={error.field: [str(error)]}) from error
        return Response(pilot_report(pilot), status=status.HTTP_201_CREATED)
