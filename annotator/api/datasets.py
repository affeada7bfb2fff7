"""Datasets API: the list every signed-in user sees on the home page, with counts and whether I annotate each."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.permissions import access_annotating
from annotator.selectors.datasets import dataset_list_with_counts, datasets_annotated_by
from config.authenticated import AuthenticatedRequest


class DatasetOutput(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    image_count = serializers.IntegerField()
    class_count = serializers.IntegerField()
    annotations_per_image = serializers.IntegerField()
    annotating = serializers.BooleanField(help_text="Whether I am assigned to annotate it (and hold the role).")


class DatasetListApi(APIView):
    """Every dataset, as on the home page: slug, name, image and class counts."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=DatasetOutput(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        mine = set(datasets_annotated_by(request.user).values_list("pk", flat=True))
        annotator = access_annotating(request.user)
        fields = ("pk", "slug", "name", "image_count", "class_count", "annotations_per_image")
        rows = [
            {**row, "annotating": annotator and row["pk"] in mine}
            for row in dataset_list_with_counts().order_by("name").values(*fields)
        ]
        return Response(DatasetOutput(rows, many=True).data)
