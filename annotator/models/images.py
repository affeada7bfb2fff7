"""Images, their candidate classes, and the leases and skips of the annotation queue."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from annotator.models.datasets import Dataset, LabelClass


class ImageQuerySet(models.QuerySet["Image"]):
    def with_file(self) -> ImageQuerySet:
        return self.exclude(original="")


class Image(models.Model):
    """One image. `position` is dataset order (sorted file names), the order ReaL-format files use."""

    # Indexed by the composite indexes below, which all lead with it (fewer writes per counter update).
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="images", db_index=False)
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
    # Assignment state, maintained by annotator.services.assignment and .annotations (never by signals).
    # `annotations_needed` = the dataset's N + `extra_annotations`; the counters let "next image" read one
    # partial index instead of counting annotations and leases per request.
    annotations_needed = models.PositiveSmallIntegerField(default=3)
    extra_annotations = models.PositiveSmallIntegerField(default=0, help_text="Asked for by a reviewer.")
    more_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="When a reviewer last asked for more annotations; such images go first."
    )
    # Set by annotator.services.pilots for the images of the dataset's active pilot, which the hand-out gives first,
    # in this (seeded random) order, so the pilot images settled so far are a random part of the pilot.
    pilot_rank = models.PositiveIntegerField(
        null=True, blank=True, help_text="Hand-out order within the dataset's active pilot; empty outside it."
    )
    # Set by evaluation.services.model_scores from the candidate prediction sets (evaluation.core.model_score);
    # a dataset with the model-guided queue order hands out its fresh images by it, highest first.
    model_score = models.FloatField(
        null=True,
        blank=True,
        help_text="How likely the label set differs from the original label, from the models (0 … 1); empty "
        "without a selected prediction set covering the image. Never shown to annotators.",
    )
    annotation_count = models.PositiveSmallIntegerField(default=0, help_text="Completed annotations.")
    lease_count = models.PositiveSmallIntegerField(default=0, help_text="Leases not yet reclaimed.")
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
                condition=(Q(width__isnull=True) & Q(height__isnull=True)) | (Q(width__gt=0) & Q(height__gt=0)),
                name="image_size_positive",
            ),
            # No image ever goes past N: completed annotations plus live leases stay within what is needed.
            models.CheckConstraint(
                condition=Q(annotations_needed__gte=1)
                & Q(annotations_needed__gte=F("annotation_count") + F("lease_count")),
                name="image_counts_within_needed",
            ),
        ]
        indexes = [
            # Per-class statistics (the reference thumbnails read image_reference_idx below).
            models.Index(fields=["dataset", "original_label"], name="image_dataset_label_idx"),
            # The reference thumbnails the workbench shows beside each candidate (annotator.selectors.annotations):
            # the first few images of the class with a thumbnail, read in order instead of sorting the class.
            models.Index(
                fields=["dataset", "original_label", "position"],
                condition=~Q(thumbnail=""),
                name="image_reference_idx",
            ),
            # "Next image": open images in hand-out order (see annotator.services.assignment).
            models.Index(
                F("dataset"),
                F("more_requested_at").asc(nulls_last=True),
                F("annotations_needed") - F("annotation_count") - F("lease_count"),
                F("position"),
                condition=Q(annotations_needed__gt=F("annotation_count") + F("lease_count")),
                name="image_open_queue_idx",
            ),
            # "Next image" past the head of that queue: images nobody has annotated or holds, by position.
            models.Index(
                F("dataset"),
                F("position"),
                condition=Q(annotation_count=0, lease_count=0, more_requested_at__isnull=True),
                name="image_fresh_queue_idx",
            ),
            # Model-guided order (Dataset.queue_order): the open images someone has begun or a reviewer asked
            # for, in hand-out order, then the fresh images by model score, highest first, then by position.
            models.Index(
                F("dataset"),
                F("more_requested_at").asc(nulls_last=True),
                F("annotations_needed") - F("annotation_count") - F("lease_count"),
                F("position"),
                condition=Q(annotations_needed__gt=F("annotation_count") + F("lease_count"))
                & (Q(annotation_count__gt=0) | Q(lease_count__gt=0) | Q(more_requested_at__isnull=False)),
                name="image_begun_queue_idx",
            ),
            models.Index(
                F("dataset"),
                F("model_score").desc(nulls_last=True),
                F("position"),
                condition=Q(annotation_count=0, lease_count=0, more_requested_at__isnull=True),
                name="image_guided_fresh_queue_idx",
            ),
            # The same two, for the images of the active pilot, which the hand-out gives first, in pilot order.
            models.Index(
                F("dataset"),
                F("more_requested_at").asc(nulls_last=True),
                F("annotations_needed") - F("annotation_count") - F("lease_count"),
                F("pilot_rank"),
                condition=Q(annotations_needed__gt=F("annotation_count") + F("lease_count"), pilot_rank__isnull=False),
                name="image_pilot_open_queue_idx",
            ),
            models.Index(
                F("dataset"),
                F("pilot_rank"),
                condition=Q(
                    annotation_count=0, lease_count=0, more_requested_at__isnull=True, pilot_rank__isnull=False
                ),
                name="image_pilot_fresh_queue_idx",
            ),
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


class Lease(models.Model):
    """An image handed out to one annotator until `expires_at`; it holds one of the image's N slots.

    Expired leases are reclaimed (deleted, slot freed) by `annotator.services.assignment`; until then the
    holder may still submit. `shown` is what the annotator is shown, in display order.
    """

    # Indexed by the constraint and indexes below, which lead with each of them.
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="leases", db_index=False)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases", db_index=False
    )
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+", db_index=False)
    shown = ArrayField(models.BigIntegerField(), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image", "annotator"], name="lease_one_per_image_annotator")]
        indexes = [
            models.Index(fields=["dataset", "expires_at"], name="lease_dataset_expiry_idx"),
            models.Index(fields=["annotator", "dataset", "expires_at"], name="lease_annotator_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.image_id} → {self.annotator_id} until {self.expires_at:%H:%M:%S}"


class Skip(models.Model):
    """An image an annotator skipped; it is never handed to them again."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="+")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image", "annotator"], name="skip_one_per_image_annotator")]

    def __str__(self) -> str:
        return f"{self.image_id} skipped by {self.annotator_id}"
