"""Reference label sets: imported label lists (e.g. the public ReaL labels) that models are evaluated against.

The lists are stored in CSR form as `.npy` bytes (bytea) in a one-to-one side table, so listing sets never
pulls megabytes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotator.models import Dataset
from config.text_rules import (
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    length_constraint,
    no_bidi_controls_constraint,
    refuse_bidi_controls,
)


class ReferenceLabelSet(models.Model):
    """An imported label set (e.g. the public ReaL labels), one list of valid classes per image."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="reference_label_sets")
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[refuse_bidi_controls])
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    source_file = models.FileField(max_length=500, blank=True)
    n_images = models.PositiveIntegerField()
    n_labelled = models.PositiveIntegerField(help_text="Images with at least one valid class.")
    n_labels = models.PositiveIntegerField(help_text="Valid (image, class) pairs.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dataset", "name"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="referencelabelset_unique_name"),
            no_bidi_controls_constraint("name", "referencelabelset_name_no_bidi"),
            length_constraint("description", DESCRIPTION_MAX_LENGTH, "referencelabelset_description_length"),
        ]

    def __str__(self) -> str:
        return self.name


class ReferenceLabels(models.Model):
    """The label lists of a reference set in CSR form: `.npy` bytes of int64 indptr (N+1) and int32 indices."""

    reference_set = models.OneToOneField(
        ReferenceLabelSet, on_delete=models.CASCADE, primary_key=True, related_name="labels"
    )
    indptr = models.BinaryField()
    indices = models.BinaryField()

    def __str__(self) -> str:
        return f"labels of {self.reference_set_id}"
