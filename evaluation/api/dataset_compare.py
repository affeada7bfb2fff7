"""Dataset comparison API: the page's table as JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.models import Dataset
from config.api_errors import ApiError
from evaluation.core.dataset_compare_table import PairRow
from evaluation.permissions import CanViewEvaluation
from evaluation.selectors.dataset_compare import (
    ComparisonInputError,
    ComparisonSide,
    comparison_query,
    dataset_comparison,
)


class ComparisonOutput(serializers.Serializer):
    dataset_a = serializers.DictField()
    dataset_b = serializers.DictField()
    metric = serializers.CharField(help_text="The multi-label metric charted against A")
    decomposed = serializers.CharField(help_text="The metric whose gap is decomposed by |Y| bin")
    rows = serializers.ListField(child=serializers.DictField(), help_text="One per pair of prediction sets")
    unpaired_a = serializers.ListField(child=serializers.DictField())
    unpaired_b = serializers.ListField(child=serializers.DictField())
    rank_correlations = serializers.ListField(child=serializers.DictField())


def _side(side: ComparisonSide) -> dict[str, Any]:
    return {
        "slug": side.dataset.slug,
        "name": side.dataset.name,
        "label_source": side.source.slug,
        "label_source_name": side.source.name,
        "has_label_sets": side.labelled,
        "multilabel_share": side.share if side.labelled else None,
        "label_mix": side.label_mix,
    }


def _row(row: PairRow) -> dict[str, Any]:
    return {
        "model_a": {"id": row.pair.id_a, "name": row.pair.name_a},
        "model_b": {"id": row.pair.id_b, "name": row.pair.name_b},
        "metrics": {key: None if cell is None else asdict(cell) for key, cell in row.cells.items()},
        "decomposition": None
        if row.decomposition is None
        else asdict(row.decomposition) | {"gap": row.decomposition.gap},
    }


class DatasetCompareApi(APIView):
    """Every pair of prediction sets of two datasets that share a vocabulary, side by side: each metric on A and
    B with 95% intervals and the gap B − A (Newcombe interval), the decomposition of one metric's gap by |Y| bin,
    rank correlations, and each side's label mix. Multi-label metrics are null where a side's label source has
    no label sets. Parameters as on the page."""

    permission_classes = [CanViewEvaluation]

    @extend_schema(
        responses=ComparisonOutput,
        parameters=[
            OpenApiParameter("labels_a", str, description="A's label source (as on the leaderboard)"),
            OpenApiParameter("labels_b", str, description="B's label source"),
            OpenApiParameter("metric", str, description="real_at_1, vtk_strict, vtk_frac, asma_strict, asma_frac"),
            OpenApiParameter("decompose", str, description="top1, real_at_1, vtk_strict, vtk_frac"),
            OpenApiParameter("pair", str, many=True, description="A_ID:B_ID (A_ID: for none); default: by name"),
        ],
    )
    def get(self, request: Request, slug: str, other: str) -> Response:
        dataset_a, dataset_b = get_object_or_404(Dataset, slug=slug), get_object_or_404(Dataset, slug=other)
        try:
            c = dataset_comparison(dataset_a, dataset_b, comparison_query(request.query_params), with_charts=False)
        except ComparisonInputError as error:
            raise ApiError(str(error), fields={error.field: [str(error)]}) from error
        body = {
            "dataset_a": _side(c.a),
            "dataset_b": _side(c.b),
            "metric": c.query.metric,
            "decomposed": c.query.decompose,
            "rows": [_row(row) for row in c.rows],
            "unpaired_a": [{"id": pk, "name": name} for pk, name in c.unpaired_a],
            "unpaired_b": [{"id": pk, "name": name} for pk, name in c.unpaired_b],
            "rank_correlations": [
                {"metric": r.metric.key, "n": r.n, "spearman": r.spearman, "kendall_tau_b": r.kendall}
                for r in c.correlations
            ],
        }
        return Response(ComparisonOutput(body).data)
