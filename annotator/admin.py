from django.contrib import admin

from annotator.models import Dataset, Image, LabelClass


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "annotations_per_image", "consensus_threshold", "candidate_count", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]


@admin.register(LabelClass)
class LabelClassAdmin(admin.ModelAdmin):
    list_display = ["index", "key", "name", "dataset"]
    list_filter = ["dataset"]
    search_fields = ["key", "name", "synonyms"]
    list_select_related = ["dataset"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["key", "position", "dataset", "original_label", "width", "height"]
    list_filter = ["dataset"]
    search_fields = ["key", "sha256"]
    list_select_related = ["dataset", "original_label"]
    raw_id_fields = ["original_label"]
    readonly_fields = ["sha256", "width", "height", "created_at"]
