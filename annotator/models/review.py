"""The review audit trail: every adjudication, revision, revert and request for more annotations."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from annotator.models.datasets import Dataset
from annotator.models.images import Image
from config.text_rules import NOTE_MAX_LENGTH, length_constraint


class Adjudication(models.Model):
    """One reviewer decision about one image; append-only (a database trigger refuses updates).

    The image's `Consensus` row holds the current outcome; these rows are its history, newest last. Label
    sets are LabelClass ids. `labels_before` / `labels_after` are the effective sets around the action
    (empty after an exclusion: the image leaves metrics and releases).
    """

    class Action(models.TextChoices):
        SET = "set", "Set the label set"
        EXCLUDE_BAD = "exclude-bad", "Excluded: bad image"
        EXCLUDE_AMBIGUOUS = "exclude-ambiguous", "Excluded: ambiguous"
        REVERT = "revert", "Reverted to the computed consensus"
        MORE = "more", "Asked for more annotations"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="adjudications")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="adjudications")
    created_at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    status_before = models.CharField(max_length=12)
    status_after = models.CharField(max_length=12)
    labels_before = ArrayField(models.BigIntegerField(), default=list, blank=True)
    labels_after = ArrayField(models.BigIntegerField(), default=list, blank=True)
    note = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    # Made by the client: a retry of the same decision (same reviewer and UUID) writes nothing.
    client_uuid = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reviewer", "client_uuid"], name="adjudication_unique_client_uuid"),
            # NOT VALID in the database (migration 0012): new notes are bounded, the history is never rewritten.
            length_constraint("note", NOTE_MAX_LENGTH, "adjudication_note_length"),
            models.CheckConstraint(
                condition=Q(action__in=["set", "exclude-bad", "exclude-ambiguous", "revert", "more"]),
                name="adjudication_action_known",
            ),
            models.CheckConstraint(
                condition=~Q(action__in=["exclude-bad", "exclude-ambiguous"]) | Q(labels_after=[]),
                name="adjudication_excluded_has_no_labels",
            ),
        ]
        indexes = [
            models.Index(fields=["image", "created_at"], name="adjudication_image_idx"),
            models.Index(fields=["dataset", "created_at"], name="adjudication_dataset_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.image_id} {self.action} by {self.reviewer_id}"

    @property
    def excludes(self) -> bool:
        return self.action in (self.Action.EXCLUDE_BAD, self.Action.EXCLUDE_AMBIGUOUS)
