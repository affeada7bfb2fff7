"""Leaderboard API: every model of a dataset ranked against one label source."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.models import Dataset
from evaluation.permissions import CanViewEvaluation
from evaluation.selectors.label_pools import label_source_choices, label_source_pick
from evaluation.selectors.leaderboard import DEFAULT_LEADERBOARD_SORT, leaderboard_for


class LeaderboardRowOutput(serializers.Serializer):
    id = serializers.IntegerField(source="prediction_set.pk")
    name = serializers.CharField(source="prediction_set.name")
    k = serializers.IntegerField(source="prediction_set.k")
    rank_top1 = serializers.IntegerField(allow_null=True)
    rank_real1 = serializers.IntegerField(source="rank_real", allow_null=True)
    rank_asma = serializers.IntegerField(allow_null=True)
    places_gained_real1 = serializers.IntegerField(source="rank_change", allow_null=True)
    places_gained_asma = serializers.IntegerField(source="asma_change", allow_null=True)
    metrics = serializers.DictField(allow_null=True, help_text="Latest snapshot summary, null until evaluated")


class LeaderboardOutput(serializers.Serializer):
    label_source = serializers.CharField(source="source.slug")
    label_source_name = serializers.CharField(source="source.name")
    asma_variant = serializers.CharField(source="board.variant")
    sort = serializers.CharField(source="board.sort")
    pool_size = serializers.IntegerField(source="board.pool_size", allow_null=True)
    multilabel_share = serializers.DictField(source="board.share", allow_null=True)
    rows = LeaderboardRowOutput(source="board.rows", many=True)


class LeaderboardApi(APIView):
    """Every model ranked by top-1, ReaL@1 and ASMA against one label source (`?labels=`, as on the page),
    `?asma=strict|frac`, rows in the order of `?sort=` (a column, "-" for descending; default -real1)."""

    permission_classes = [CanViewEvaluation]

    @extend_schema(responses=LeaderboardOutput)
    def get(self, request: Request, slug: str) -> Response:
        dataset = get_object_or_404(Dataset, slug=slug)
        source = label_source_pick(dataset, label_source_choices(dataset), request.query_params.get("labels"))
        board = leaderboard_for(
            dataset,
            source,
            sort=request.query_params.get("sort", DEFAULT_LEADERBOARD_SORT),
            variant=request.query_params.get("asma", ""),
            with_charts=False,
        )
        return Response(LeaderboardOutput({"source": source, "board": board}).data)
