"""Releases: immutable, versioned snapshots of a dataset's consensus, with their stored files.

A release row is created in state `building`; the build writes every file to storage, hashes it, and only
then turns the row `ready` in one transaction. Lists and downloads read ready releases only, so a
half-built release is never visible. A database trigger refuses to change a ready release or its files.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from annotator.models import Dataset, DawidSkeneRun


class Release(models.Model):
    class State(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Aggregation(models.TextChoices):
        MAJORITY = "majority", "Majority vote"
        DAWID_SKENE = "dawid_skene", "Dawid–Skene"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="releases")
    version = models.PositiveIntegerField(help_text="1, 2, … per dataset, in order of creation.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.BUILDING)
    # Parameters of the label sets.
    aggregation = models.CharField(max_length=16, choices=Aggregation.choices)
    threshold = models.FloatField(help_text="Majority: yes-share ≥ τ. Dawid–Skene: posterior > threshold.")
    min_annotations = models.PositiveSmallIntegerField(help_text="Images with fewer annotations are pending.")
    apply_adjudications = models.BooleanField(default=True, help_text="Reviewers' final sets replace the crowd's.")
    unanswered_as_original = models.BooleanField(
        default=False,
        help_text="Images nobody answered get their original label (ReaL's convention), status `original`; "
        "otherwise they are pending (an empty list).",
    )
    # The Dawid–Skene run whose posteriors a Dawid–Skene release holds, and its class-prior strata (recorded
    # by the build, from the state it read); empty for a majority release.
    ds_run = models.ForeignKey(
        DawidSkeneRun, on_delete=models.RESTRICT, null=True, blank=True, related_name="+", editable=False
    )
    ds_prior = models.CharField(max_length=16, blank=True, help_text="The run's prior mode (Dataset.ds_prior).")
    # Counts, filled when the build finishes.
    n_images = models.PositiveIntegerField(default=0)
    n_labelled = models.PositiveIntegerField(default=0, help_text="Images with at least one valid class.")
    n_empty = models.PositiveIntegerField(default=0, help_text="Settled images with no valid class.")
    n_pending = models.PositiveIntegerField(default=0)
    n_excluded = models.PositiveIntegerField(default=0, help_text="Marked bad or ambiguous by a reviewer.")
    n_adjudicated = models.PositiveIntegerField(default=0)
    n_original = models.PositiveIntegerField(default=0, help_text="Not answered, released with their original label.")
    n_labels = models.PositiveIntegerField(default=0, help_text="Valid (image, class) pairs.")
    n_votes = models.PositiveIntegerField(default=0)
    n_annotators = models.PositiveIntegerField(default=0)
    multi_label_share = models.FloatField(null=True, blank=True, help_text="Labelled images with 2+ classes.")
    mean_agreement = models.FloatField(null=True, blank=True, help_text="Mean per-image agreement, settled images.")
    # Build bookkeeping.
    progress = models.FloatField(default=0.0)
    phase = models.CharField(max_length=40, default="queued")
    error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Heartbeat of the build holding the release: set on claim and every few seconds while it runs.",
    )
    claim_backend = models.IntegerField(
        null=True,
        blank=True,
        help_text="PostgreSQL server process of the build holding the release; gone when its worker died.",
    )
    build_seconds = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)

    # Made by the client that asked for the release: a retry (same creator and UUID) gets the same release.
    client_uuid = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["dataset", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "version"], name="release_unique_version"),
            models.UniqueConstraint(fields=["created_by", "client_uuid"], name="release_unique_client_uuid"),
            models.CheckConstraint(condition=Q(state__in=["building", "ready", "failed"]), name="release_state_known"),
            models.CheckConstraint(
                condition=Q(aggregation__in=["majority", "dawid_skene"]), name="release_aggregation_known"
            ),
            models.CheckConstraint(condition=Q(threshold__gt=0) & Q(threshold__lte=1), name="release_threshold_range"),
            models.CheckConstraint(condition=Q(min_annotations__gte=1), name="release_min_annotations_positive"),
            models.CheckConstraint(
                condition=Q(state="ready", ready_at__isnull=False) | ~Q(state="ready"), name="release_ready_at"
            ),
        ]
        indexes = [
            models.Index(fields=["dataset", "-version"], condition=Q(state="ready"), name="release_ready_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset} v{self.version} ({self.state})"  # ReleaseAdmin loads the dataset with it

    @property
    def label(self) -> str:
        return f"v{self.version}"


class ReleaseFile(models.Model):
    """One stored file of a release: its storage name, size and SHA-256. Never changed once written."""

    class Kind(models.TextChoices):
        REAL_JSON = "real", "ReaL-format labels"
        REAL_STATUS = "status", "Status per image (companion of the ReaL file)"
        IMAGES_JSONL = "jsonl", "Per-image records (JSONL)"
        IMAGES_CSV = "csv", "Per-image records (CSV)"
        VOTES_CSV = "votes", "Raw votes, pseudonymised annotators"
        IMAGES_PARQUET = "parquet", "Per-image records (Parquet)"
        VOTES_PARQUET = "votes_pq", "Raw votes (Parquet)"
        DATASHEET = "datasheet", "Datasheet (Markdown)"
        ZIP = "zip", "Everything (zip)"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="files")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    filename = models.CharField(max_length=100, help_text="Name inside the zip.")
    storage_name = models.CharField(max_length=500)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["release", "id"]
        constraints = [
            models.UniqueConstraint(fields=["release", "kind"], name="releasefile_one_per_kind"),
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="releasefile_sha256_hex"),
        ]

    def __str__(self) -> str:
        return f"{self.release_id} {self.filename}"
