from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from annotator.core.redundancy import RedundancyRule
from annotator.models import Annotation, Dataset, Image, LabelClass, Pilot
from annotator.services.assignment import dataset_overlap_raise, dataset_redundancy_set
from annotator.services.pilots import pilot_create, pilot_deactivate

REDUNDANCY_FIELDS = ("redundancy", "redundancy_min", "redundancy_max", "redundancy_confidence")


class DatasetForm(forms.ModelForm):
    """The admin supplies model and fields; this only refuses lowering N."""

    def clean_annotations_per_image(self) -> int:
        value = self.cleaned_data["annotations_per_image"]
        if self.instance.pk and value < Dataset.objects.get(pk=self.instance.pk).annotations_per_image:
            raise forms.ValidationError("Annotations per image can only be raised once annotation has started.")
        return value

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if all(cleaned.get(name) is not None for name in REDUNDANCY_FIELDS[1:]):
            try:
                RedundancyRule(cleaned["redundancy_min"], cleaned["redundancy_max"], cleaned["redundancy_confidence"])
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return cleaned


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    form = DatasetForm
    list_display = [
        "name", "slug", "annotations_per_image", "redundancy", "queue_order", "consensus_threshold", "candidate_count",
        "created_at",
    ]  # fmt: skip
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]
    filter_horizontal = ["annotators"]

    def save_model(self, request: HttpRequest, obj: Dataset, form: forms.ModelForm, change: bool) -> None:
        raised = change and "annotations_per_image" in form.changed_data
        if raised:
            # Every image's `annotations_needed` follows N; the service updates both together.
            new_value = obj.annotations_per_image
            obj.annotations_per_image = form.initial["annotations_per_image"]
        redundancy = change and any(name in form.changed_data for name in REDUNDANCY_FIELDS)
        if redundancy:
            # Every image's need follows the setting; the service updates both together and recounts.
            wanted = {name: getattr(obj, name) for name in REDUNDANCY_FIELDS}
            for name in REDUNDANCY_FIELDS:
                setattr(obj, name, form.initial[name])
        super().save_model(request, obj, form, change)
        if raised:
            dataset_overlap_raise(dataset=obj, annotations_per_image=new_value)
        if redundancy:
            dataset_redundancy_set(
                dataset=obj, redundancy=wanted["redundancy"], minimum=wanted["redundancy_min"],
                maximum=wanted["redundancy_max"], confidence=wanted["redundancy_confidence"],
            )  # fmt: skip


@admin.register(LabelClass)
class LabelClassAdmin(admin.ModelAdmin):
    list_display = ["index", "key", "name", "dataset"]
    list_filter = ["dataset"]
    search_fields = ["key", "name", "synonyms"]
    list_select_related = ["dataset"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["key", "position", "dataset", "original_label", "annotation_count", "annotations_needed"]
    list_filter = ["dataset"]
    search_fields = ["key", "sha256"]
    list_select_related = ["dataset", "original_label"]
    raw_id_fields = ["original_label"]
    # Assignment counters are kept by the annotation services only.
    readonly_fields = [
        "sha256", "width", "height", "created_at", "annotations_needed", "extra_annotations", "more_requested_at",
        "annotation_count", "lease_count",
    ]  # fmt: skip


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    """Read-only: answers change through the annotators' own revisions, which keep the history."""

    list_display = ["image", "annotator", "dataset", "none_fits", "unsure", "bad_image", "revision_count", "updated_at"]
    list_filter = ["dataset", "none_fits", "unsure", "bad_image"]
    list_select_related = ["image", "annotator", "dataset"]
    search_fields = ["image__key", "annotator__username"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Annotation]:
        # The change page's title is str(annotation) (image and annotator): the list's joins on every page.
        return super().get_queryset(request).select_related(*self.list_select_related)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Annotation | None = None) -> bool:
        return False


class PilotForm(forms.ModelForm):
    """A new pilot: dataset, n, mode and an optional seed; the service draws the images."""

    seed = forms.IntegerField(required=False, min_value=0, help_text="Empty: a random seed, stored.")

    class Meta:
        model = Pilot
        fields = ["dataset", "n", "mode", "seed"]

    def clean(self) -> dict:
        data = super().clean() or {}
        dataset, n = data.get("dataset"), data.get("n")
        if dataset is not None and n is not None and n > Image.objects.filter(dataset=dataset).count():
            self.add_error("n", "The pilot cannot hold more images than the dataset.")
        return data


@admin.register(Pilot)
class PilotAdmin(admin.ModelAdmin):
    form = PilotForm
    list_display = ["pk", "dataset", "n", "mode", "seed", "active", "created_at", "created_by"]
    list_filter = ["dataset", "active"]
    actions = ["retire"]

    def get_readonly_fields(self, request: HttpRequest, obj: Pilot | None = None) -> list[str]:
        # A pilot's sample is fixed once drawn: only retiring it (the action) changes it.
        return ["dataset", "n", "mode", "seed", "active", "created_by", "created_at"] if obj else []

    def save_model(self, request: HttpRequest, obj: Pilot, form: forms.ModelForm, change: bool) -> None:
        if change:
            return
        user = request.user if isinstance(request.user, User) else None  # the admin only lets staff in
        created = pilot_create(
            dataset=obj.dataset, n=obj.n, mode=obj.mode, seed=form.cleaned_data.get("seed"), created_by=user
        )
        obj.pk, obj.seed, obj.created_at = created.pk, created.seed, created.created_at

    @admin.action(description="Retire the selected pilots (the queue stops handing their images out first)")
    def retire(self, request: HttpRequest, queryset: QuerySet[Pilot]) -> None:
        for pilot in queryset:
            pilot_deactivate(pilot=pilot)
