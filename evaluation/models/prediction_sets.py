"""Prediction sets: one model's ranked predictions for every image of a dataset.

Arrays are stored compactly as `.npy` bytes (bytea) in one-to-one side tables, so loading a set's N×k
ranking is one read of one row and listing sets never pulls megabytes. Full N×C score matrices (for mAP)
are `.npy` files in Django storage, read only when metrics are computed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from annotator.models import Dataset
from config.text_rules import (
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    length_constraint,
    no_bidi_controls_constraint,
    refuse_bidi_controls,
)


class PredictionSet(models.Model):
    """One model's ranked predictions for every image of a dataset (dataset order = ascending position)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="prediction_sets")
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[refuse_bidi_controls])
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    source_file = models.FileField(max_length=500, help_text="The uploaded file, exactly as received.")
    source_format = models.CharField(max_length=8, help_text="csv, jsonl, npy or npz.")
    source_sha256 = models.CharField(max_length=64)
    n_images = models.PositiveIntegerField(help_text="Images covered: the dataset's images at upload time.")
    k = models.PositiveSmallIntegerField(help_text="Ranked classes stored per image.")
    has_scores = models.BooleanField(default=False, help_text="A full N×C score matrix is stored (mean AP, LRAP).")
    scores_file = models.FileField(max_length=500, blank=True, help_text="N×C float32 .npy in dataset order.")
    use_for_candidates = models.BooleanField(
        default=False, help_text="Its top-k classes become candidates annotators are asked about."
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dataset", "name"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="predictionset_unique_name"),
            no_bidi_controls_constraint("name", "predictionset_name_no_bidi"),
            length_constraint("description", DESCRIPTION_MAX_LENGTH, "predictionset_description_length"),
            models.CheckConstraint(condition=Q(k__gte=1), name="predictionset_k_at_least_one"),
            models.CheckConstraint(
                condition=Q(has_scores=False, scores_file="") | (Q(has_scores=True) & ~Q(scores_file="")),
                name="predictionset_scores_file_iff_has_scores",
            ),
        ]
        indexes = [
            models.Index(fields=["dataset"], condition=Q(use_for_candidates=True), name="predictionset_candidates_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class PredictionArrays(models.Model):
    """The stored ranking of a prediction set: `.npy` bytes of N×k int32 classes (and N×k float32 scores)."""

    prediction_set = models.OneToOneField(
        PredictionSet, on_delete=models.CASCADE, primary_key=True, related_name="arrays"
    )
    topk = models.BinaryField()
    topk_scores = models.BinaryField(null=True, blank=True)

    def __str__(self) -> str:
        return f"arrays of {self.prediction_set_id}"
