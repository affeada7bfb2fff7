"""Annotators' answers: annotations, their revisions, and the per-class votes derived from them."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from annotator.models.datasets import Dataset, LabelClass
from annotator.models.images import Image


class AnnotationQuerySet(models.QuerySet["Annotation"]):
    def of(self, user: models.Model) -> AnnotationQuerySet:
        return self.filter(annotator=user)


class Annotation(models.Model):
    """One annotator's current answer for one image. Every submit and revise appends an AnnotationRevision;
    the Vote rows always mirror the current answer."""

    # No single-column indexes where a composite one leads with the column (fewer writes per submit).
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations", db_index=False)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations", db_index=False
    )
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    classes = ArrayField(models.BigIntegerField(), default=list, blank=True, help_text="Chosen LabelClass ids.")
    shown = ArrayField(
        models.BigIntegerField(), default=list, blank=True, help_text="Candidate class ids shown, in display order."
    )
    none_fits = models.BooleanField(default=False)
    unsure = models.BooleanField(default=False)
    bad_image = models.BooleanField(default=False)
    seconds = models.FloatField(default=0, help_text="Time spent on the image, over all revisions.")
    client_uuid = models.UUIDField(help_text="Client-generated id of the first submission (idempotent retries).")
    revision_count = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AnnotationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "annotator"], name="annotation_one_per_image_annotator"),
            models.UniqueConstraint(fields=["annotator", "client_uuid"], name="annotation_unique_client_uuid"),
            models.CheckConstraint(condition=Q(seconds__gte=0), name="annotation_seconds_non_negative"),
            models.CheckConstraint(
                condition=~(Q(none_fits=True) & ~Q(classes=[])), name="annotation_none_fits_has_no_classes"
            ),
        ]
        indexes = [
            # The annotator's own annotations; with the image, so the review queue's annotator filter reads an
            # annotator's images from the index alone (an index-only scan), not every annotation's.
            models.Index(fields=["annotator", "dataset", "created_at"], include=["image"], name="annotation_mine_idx")
        ]

    def __str__(self) -> str:
        # Read by people (the admin's titles): load image and annotator with it (AnnotationAdmin does).
        return f"{self.image.key} by {self.annotator.get_username()}"


class AnnotationRevision(models.Model):
    """History: one row per submit or revise, never changed. Number 1 is the first submission."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="revisions", db_index=False)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    number = models.PositiveSmallIntegerField()
    classes = ArrayField(models.BigIntegerField(), default=list, blank=True)
    none_fits = models.BooleanField(default=False)
    unsure = models.BooleanField(default=False)
    bad_image = models.BooleanField(default=False)
    seconds = models.FloatField(default=0)
    client_uuid = models.UUIDField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["annotation", "number"]
        constraints = [
            models.UniqueConstraint(fields=["annotation", "number"], name="revision_unique_number"),
            models.UniqueConstraint(fields=["annotator", "client_uuid"], name="revision_unique_client_uuid"),
        ]

    def __str__(self) -> str:
        return f"{self.annotation_id} #{self.number}"


class Vote(models.Model):
    """One annotator's answer about one class for one image. Classes never shown to them get no row."""

    class Answer(models.TextChoices):
        YES = "yes", "Yes (chosen)"
        NO = "no", "No (shown, not chosen)"
        MAYBE = "maybe", "Maybe (shown, not chosen, annotator unsure)"

    # No single-column indexes on image and class: the unique constraint and vote_class_answer_idx lead with
    # them, and every index costs time on bulk imports (925k votes for ReaL).
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="votes", db_index=False)
    label_class = models.ForeignKey(LabelClass, on_delete=models.RESTRICT, related_name="votes", db_index=False)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="votes")
    answer = models.CharField(max_length=5, choices=Answer.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["image", "label_class", "annotator"], name="vote_one_per_image_class_annotator"
            ),
            models.CheckConstraint(condition=Q(answer__in=["yes", "no", "maybe"]), name="vote_answer_known"),
        ]
        indexes = [models.Index(fields=["label_class", "answer"], name="vote_class_answer_idx")]

    def __str__(self) -> str:
        return f"{self.image_id}:{self.label_class_id} {self.answer} by {self.annotator_id}"


# --------------------------------------------------------------------------- consensus and agreement
