from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from evaluation.models import MetricSnapshot, PredictionSet, ReferenceLabelSet, Release


@admin.register(PredictionSet)
class PredictionSetAdmin(admin.ModelAdmin):
    list_display = ["name", "dataset", "source_format", "k", "has_scores", "use_for_candidates", "created_at"]
    list_filter = ["dataset", "use_for_candidates", "has_scores"]
    search_fields = ["name"]
    readonly_fields = ["source_file", "source_format", "source_sha256", "n_images", "k", "has_scores", "scores_file"]


@admin.register(ReferenceLabelSet)
class ReferenceLabelSetAdmin(admin.ModelAdmin):
    list_display = ["name", "dataset", "n_images", "n_labelled", "n_labels", "created_at"]
    list_filter = ["dataset"]


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(admin.ModelAdmin):
    """Read-only: snapshots are history (the database refuses updates too)."""

    list_display = ["prediction_set", "label_source", "reference_set", "pool_size", "watermark", "created_at"]
    list_filter = ["label_source", "prediction_set__dataset"]
    list_select_related = ["prediction_set", "reference_set"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MetricSnapshot]:
        return super().get_queryset(request).select_related(*self.list_select_related)  # str(snapshot): the title

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    """Read-only: releases are built by the service, immutable once ready (the database refuses updates), and
    not deleted here, since that would leave their stored files behind."""

    list_display = ["dataset", "version", "state", "aggregation", "threshold", "n_labelled", "n_pending", "created_at"]
    list_filter = ["state", "dataset"]
    list_select_related = ["dataset"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Release]:
        return super().get_queryset(request).select_related(*self.list_select_related)  # str(release): the title

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
