"""Datasets and their class vocabularies."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from config.text_rules import (
    DESCRIPTION_MAX_LENGTH,
    GLOSS_MAX_LENGTH,
    NAME_MAX_LENGTH,
    length_constraint,
    no_bidi_controls_constraint,
    refuse_bidi_controls,
)


class Dataset(models.Model):
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[refuse_bidi_controls])
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    annotations_per_image = models.PositiveSmallIntegerField(
        default=3, help_text="How many independent annotations each image needs (overlap N)."
    )
    consensus_threshold = models.FloatField(
        default=0.5, help_text="A class is valid when its yes-share reaches this value (τ)."
    )
    candidate_count = models.PositiveSmallIntegerField(
        default=5, help_text="Top-k classes taken from each selected prediction set as candidates."
    )
    # How votes become the consensus; see annotator.core.consensus_rules for how these are applied.
    ds_run = models.ForeignKey(
        "DawidSkeneRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        help_text="The latest Dawid–Skene run, whose parameters score new votes (set by the DS service).",
    )
    ds_requested_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When someone asked for a Dawid–Skene run that has not finished yet (the sweep retries it).",
    )
    aggregation = models.CharField(
        max_length=16,
        choices=[("majority", "Majority vote"), ("dawid_skene", "Dawid–Skene")],
        default="majority",
        help_text="Which aggregation defines the effective consensus label set.",
    )
    dispute_band = models.FloatField(
        default=0.1,
        help_text="A class whose yes-share lies within ±band of τ makes the image disputed "
        "(0.1: a 3–2 split of 5 annotators, or a yes/no/maybe tie of 3).",
    )
    ds_threshold = models.FloatField(
        default=0.8, help_text="Dawid–Skene: a class is valid when its posterior exceeds this (ReaL's cut)."
    )
    ds_prior = models.CharField(
        max_length=16,
        choices=[
            ("single", "One class prior"),
            ("original", "Original label vs proposals"),
            ("imagenet_real", "ReaL's ImageNet strata"),
        ],
        default="original",
        help_text="Dawid–Skene class-prior strata: one prior, one for the original label and one for every "
        "other proposal, or ReaL's three (animal original label / other animal class / object class).",
    )
    # Adaptive redundancy (annotator.core.redundancy): an image gets `redundancy_min` annotations, then one more
    # at a time while a question on it is undecided, up to `redundancy_max`.
    redundancy = models.CharField(
        max_length=8,
        choices=[
            ("fixed", "Fixed: N annotations per image"),
            ("adaptive", "Adaptive: until every question is settled"),
        ],
        default="fixed",
        help_text="Fixed: every image gets N annotations. Adaptive: an image stops once every question on it is "
        "confidently decided (at least the minimum, at most the maximum), and a later annotation is asked only "
        "the still-undecided candidates.",
    )
    redundancy_min = models.PositiveSmallIntegerField(default=2, help_text="Adaptive: annotations every image gets.")
    redundancy_max = models.PositiveSmallIntegerField(default=5, help_text="Adaptive: annotations no image exceeds.")
    redundancy_confidence = models.FloatField(
        default=0.95,
        help_text="Adaptive: a question is settled when its Dawid–Skene posterior odds are c / (1 − c) times beyond "
        "the odds of the DS threshold, either way (before any run: when its yes and no answers differ by 2).",
    )
    # Model-guided order (issue 22): fresh images by `Image.model_score`, highest first (annotator/db/sql/
    # relabel_lease_next.sql); reviewer requests, nearly-complete images and the pilot still go before them.
    queue_order = models.CharField(
        max_length=16,
        choices=[
            ("position", "Position: fresh images in dataset order"),
            ("model_guided", "Model-guided: fresh images by model score, highest first"),
        ],
        default="position",
        help_text="The order of fresh images (no annotation yet) in the hand-out. Model-guided: highest model "
        "score first (how far down the selected prediction sets rank the original label), ties and images "
        "without a score by position. Reviewer requests, nearly-complete images and the pilot go first either way.",
    )
    annotators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="annotated_datasets",
        help_text="Users who may annotate this dataset (they also need the annotator role).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(annotations_per_image__gte=1), name="dataset_overlap_at_least_one"),
            models.CheckConstraint(
                condition=Q(consensus_threshold__gt=0) & Q(consensus_threshold__lte=1),
                name="dataset_threshold_in_unit_interval",
            ),
            models.CheckConstraint(condition=Q(candidate_count__gte=1), name="dataset_candidates_at_least_one"),
            models.CheckConstraint(
                condition=Q(dispute_band__gte=0) & Q(dispute_band__lt=0.5), name="dataset_dispute_band_range"
            ),
            models.CheckConstraint(
                condition=Q(ds_threshold__gt=0) & Q(ds_threshold__lt=1), name="dataset_ds_threshold_open_unit"
            ),
            models.CheckConstraint(
                condition=Q(redundancy_min__gte=1) & Q(redundancy_max__gte=F("redundancy_min")),
                name="dataset_redundancy_min_max",
            ),
            models.CheckConstraint(
                condition=Q(redundancy_confidence__gt=0.5) & Q(redundancy_confidence__lt=1),
                name="dataset_redundancy_confidence_range",
            ),
            models.CheckConstraint(condition=Q(redundancy__in=["fixed", "adaptive"]), name="dataset_redundancy_kind"),
            models.CheckConstraint(
                condition=Q(queue_order__in=["position", "model_guided"]), name="dataset_queue_order_known"
            ),
            no_bidi_controls_constraint("name", "dataset_name_no_bidi"),
            length_constraint("description", DESCRIPTION_MAX_LENGTH, "dataset_description_length"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def adaptive(self) -> bool:
        return self.redundancy == "adaptive"

    @property
    def annotations_first_needed(self) -> int:
        """Annotations an image needs before any is in (plus a reviewer's extras): N, or the adaptive minimum."""
        return self.redundancy_min if self.adaptive else self.annotations_per_image


class LabelClass(models.Model):
    """One class of a dataset's vocabulary. `index` is the order models use; `key` (the wnid) is the identity."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="classes")
    index = models.PositiveIntegerField()
    key = models.CharField(max_length=100, help_text="Stable identifier, e.g. the WordNet id n01440764.")
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[refuse_bidi_controls])
    synonyms = ArrayField(models.CharField(max_length=NAME_MAX_LENGTH), default=list, blank=True)
    gloss = models.TextField(blank=True, max_length=GLOSS_MAX_LENGTH)

    class Meta:
        ordering = ["dataset", "index"]
        verbose_name_plural = "label classes"
        constraints = [
            models.UniqueConstraint(fields=["dataset", "index"], name="labelclass_unique_index"),
            models.UniqueConstraint(fields=["dataset", "key"], name="labelclass_unique_key"),
            no_bidi_controls_constraint("name", "labelclass_name_no_bidi"),
            length_constraint("gloss", GLOSS_MAX_LENGTH, "labelclass_gloss_length"),
        ]

    def __str__(self) -> str:
        return f"{self.index} {self.name} ({self.key})"


class DatasetCounts(models.Model):
    """A dataset's live counts, for the dashboard without a scan of its images or consensus rows.

    Kept by the database itself, in the transaction of every write whatever writes it (the submit's upsert, the
    bulk consensus and Dawid–Skene writes, COPY imports, deletions): statement-level triggers over the changed
    rows (annotator/db/sql/relabel_counts_*.sql, migration 0017) add each statement's net change, and take the
    row's lock only when a count actually changes (most submits change no status). Never written by Django."""

    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, primary_key=True, related_name="live_counts")
    images = models.BigIntegerField(default=0)
    # Consensus rows per status; images without a consensus row yet are pending too (`images` minus all rows).
    pending = models.BigIntegerField(default=0)
    agreed = models.BigIntegerField(default=0)
    disputed = models.BigIntegerField(default=0)
    adjudicated = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "dataset counts"

    def __str__(self) -> str:
        return f"counts of {self.dataset_id}"
