"""Datasets, their class vocabularies and their images."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class Dataset(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    annotations_per_image = models.PositiveSmallIntegerField(
        default=3, help_text="How many independent annotations each image needs (overlap N)."
    )
    consensus_threshold = models.FloatField(
        default=0.5, help_text="A class is valid when its yes-share reaches this value (τ)."
    )
    candidate_count = models.PositiveSmallIntegerField(
        default=5, help_text="Top-k classes taken from each selected prediction set as candidates."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(annotations_per_image__gte=1), name="dataset_overlap_at_least_one"
            ),
            models.CheckConstraint(
                condition=Q(consensus_threshold__gt=0) & Q(consensus_threshold__lte=1),
                name="dataset_threshold_in_unit_interval",
            ),
            models.CheckConstraint(condition=Q(candidate_count__gte=1), name="dataset_candidates_at_least_one"),
        ]

    def __str__(self) -> str:
        return self.name


class LabelClass(models.Model):
    """One class of a dataset's vocabulary. `index` is the order models use; `key` (the wnid) is the identity."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="classes")
    index = models.PositiveIntegerField()
    key = models.CharField(max_length=100, help_text="Stable identifier, e.g. the WordNet id n01440764.")
    name = models.CharField(max_length=200)
    synonyms = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    gloss = models.TextField(blank=True)

    class Meta:
        ordering = ["dataset", "index"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "index"], name="labelclass_unique_index"),
            models.UniqueConstraint(fields=["dataset", "key"], name="labelclass_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.index} {self.name} ({self.key})"


class ImageQuerySet(models.QuerySet["Image"]):
    def with_file(self) -> ImageQuerySet:
        return self.exclude(original="")


class Image(models.Model):
    """One image. `position` is dataset order (sorted file names), the order ReaL-format files use."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="images")
    key = models.CharField(max_length=255, help_text="File name, e.g. ILSVRC2012_val_00000001.JPEG.")
    position = models.PositiveIntegerField()
    # Images imported with --no-files (e.g. answers collected elsewhere) have empty file fields.
    original = models.FileField(max_length=500, blank=True)
    display = models.FileField(max_length=500, blank=True)
    thumbnail = models.FileField(max_length=500, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    original_label = models.ForeignKey(
        LabelClass, on_delete=models.RESTRICT, null=True, blank=True, related_name="original_images"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["dataset", "position"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "key"], name="image_unique_key"),
            models.UniqueConstraint(fields=["dataset", "position"], name="image_unique_position"),
            models.CheckConstraint(
                condition=Q(sha256="") | Q(sha256__regex=r"^[0-9a-f]{64}$"), name="image_sha256_hex"
            ),
            models.CheckConstraint(
                condition=(Q(width__isnull=True) & Q(height__isnull=True))
                | (Q(width__gt=0) & Q(height__gt=0)),
                name="image_size_positive",
            ),
        ]
        indexes = [
            # Reference thumbnails of a class, and per-class statistics.
            models.Index(fields=["dataset", "original_label"], name="image_dataset_label_idx"),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def has_file(self) -> bool:
        return bool(self.original)




class Candidate(models.Model):
    """A class annotators are asked about for an image: its original label or a model's top-k proposal.

    Annotators never see `source` or `score` (it would anchor them); what each annotator was
    actually shown is recorded with their annotation, so recomputing candidates loses nothing.
    """

    class Source(models.TextChoices):
        ORIGINAL = "original", "Original label"
        MODEL = "model", "Model proposal"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="candidates")
    label_class = models.ForeignKey(LabelClass, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=16, choices=Source.choices)
    score = models.FloatField(null=True, blank=True, help_text="Best model score or rank-based weight, if any.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "label_class"], name="candidate_unique_class_per_image"),
        ]

    def __str__(self) -> str:
        return f"{self.image_id}:{self.label_class_id}"
