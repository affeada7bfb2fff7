"""Datasets, their class vocabularies and their images."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q


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
    # Consensus (issue 4); see annotator.consensus_rules for how these are applied.
    ds_run = models.ForeignKey(
        "DawidSkeneRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        help_text="The latest Dawid–Skene run, whose parameters score new votes (set by the DS service).",
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
            models.CheckConstraint(
                condition=Q(annotations_per_image__gte=1), name="dataset_overlap_at_least_one"
            ),
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
    # Assignment state, maintained by annotator.services.assignment and .annotations (never by signals).
    # `annotations_needed` = the dataset's N + `extra_annotations`; the counters let "next image" read one
    # partial index instead of counting annotations and leases per request.
    annotations_needed = models.PositiveSmallIntegerField(default=3)
    extra_annotations = models.PositiveSmallIntegerField(default=0, help_text="Asked for by a reviewer.")
    more_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="When a reviewer last asked for more annotations; such images go first."
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
                condition=(Q(width__isnull=True) & Q(height__isnull=True))
                | (Q(width__gt=0) & Q(height__gt=0)),
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
            # Reference thumbnails of a class, and per-class statistics.
            models.Index(fields=["dataset", "original_label"], name="image_dataset_label_idx"),
            # "Next image": open images in hand-out order (see annotator.services.assignment).
            models.Index(
                F("dataset"),
                F("more_requested_at").asc(nulls_last=True),
                F("annotations_needed") - F("annotation_count") - F("lease_count"),
                F("position"),
                condition=Q(annotations_needed__gt=F("annotation_count") + F("lease_count")),
                name="image_open_queue_idx",
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

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="leases")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
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


class AnnotationQuerySet(models.QuerySet["Annotation"]):
    def of(self, user: models.Model) -> AnnotationQuerySet:
        return self.filter(annotator=user)


class Annotation(models.Model):
    """One annotator's current answer for one image. Every submit and revise appends an AnnotationRevision;
    the Vote rows always mirror the current answer."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations")
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
        indexes = [models.Index(fields=["annotator", "dataset", "created_at"], name="annotation_mine_idx")]

    def __str__(self) -> str:
        return f"{self.image_id} by {self.annotator_id}"


class AnnotationRevision(models.Model):
    """History: one row per submit or revise, never changed. Number 1 is the first submission."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="revisions")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
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


# --------------------------------------------------------------------------- consensus and agreement (issue 4)


class DawidSkeneRun(models.Model):
    """One Dawid–Skene fit over a dataset's votes; append-only. Its per-annotator parameters let the live
    consensus score new votes between runs (annotator.consensus_rules.DsParams)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="dawid_skene_runs")
    created_at = models.DateTimeField(auto_now_add=True)
    votes_watermark = models.CharField(max_length=100, help_text="State of the votes fitted (see services).")
    prior_mode = models.CharField(max_length=16)
    threshold = models.FloatField()
    n_votes = models.PositiveIntegerField()
    n_questions = models.PositiveIntegerField()
    n_annotators = models.PositiveIntegerField()
    iterations = models.PositiveSmallIntegerField()
    converged = models.BooleanField()
    log_likelihood = models.FloatField(null=True)
    prior = models.FloatField(help_text="Mean P(valid) over questions.")
    group_prior = models.JSONField(default=list, help_text="P(valid) per prior stratum.")
    annotators = models.JSONField(
        default=dict, help_text="{user id: {sensitivity, specificity, llr: [no, yes, maybe], n_votes}}."
    )
    default_llr = models.JSONField(default=list, help_text="Log-likelihood ratios for annotators not in the fit.")
    seconds = models.JSONField(default=dict, help_text="Timings: load, fit, write.")

    class Meta:
        indexes = [models.Index(fields=["dataset", "-created_at"], name="dsrun_dataset_latest_idx")]

    def __str__(self) -> str:
        return f"DS {self.dataset_id} {self.created_at:%Y-%m-%d %H:%M}"


class Consensus(models.Model):
    """The consensus of one image, kept up to date in the transaction of every submit and revise
    (annotator.services.consensus). Class ids are LabelClass primary keys; JSON keys are their strings."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        AGREED = "agreed", "Agreed"
        DISPUTED = "disputed", "Disputed"
        ADJUDICATED = "adjudicated", "Adjudicated"

    image = models.OneToOneField(Image, on_delete=models.CASCADE, primary_key=True, related_name="consensus")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    dispute_reasons = ArrayField(models.CharField(max_length=24), default=list, blank=True)
    annotation_count = models.PositiveSmallIntegerField(default=0)
    counts = models.JSONField(default=dict, help_text="{class id: [yes, no, maybe]}.")
    shares = models.JSONField(default=dict, help_text="{class id: yes-share}, a maybe counting half.")
    majority_labels = ArrayField(models.BigIntegerField(), default=list, blank=True)
    unsure_count = models.PositiveSmallIntegerField(default=0)
    bad_image_count = models.PositiveSmallIntegerField(default=0)
    none_fits_count = models.PositiveSmallIntegerField(default=0)
    agreement = models.FloatField(null=True, blank=True, help_text="Mean P(two annotators agree) per question.")
    ds_posterior = models.JSONField(null=True, blank=True, help_text="{class id: P(valid)} by the latest DS run.")
    ds_labels = ArrayField(models.BigIntegerField(), default=list, blank=True)
    ds_run = models.ForeignKey(DawidSkeneRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    labels = ArrayField(
        models.BigIntegerField(), default=list, blank=True, help_text="Effective label set (dataset's aggregation)."
    )
    # Issue 6 (review) sets this with status "adjudicated"; consensus updates then keep status and labels.
    adjudicated = models.BooleanField(default=False)
    updated_at = models.DateTimeField(help_text="Last change of any field (set by the services).")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(adjudicated=False) | Q(status="adjudicated"), name="consensus_adjudicated_status"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "agreed", "disputed", "adjudicated"]), name="consensus_status_known"
            ),
        ]
        indexes = [
            models.Index(fields=["dataset", "status"], name="consensus_dataset_status_idx"),
            models.Index(fields=["dataset", "updated_at"], name="consensus_dataset_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.image_id} {self.status} {self.labels}"


class AgreementSnapshot(models.Model):
    """Every agreement figure of a dataset at one moment; append-only (the dashboard reads the latest)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="agreement_snapshots")
    created_at = models.DateTimeField(auto_now_add=True)
    n_votes = models.PositiveIntegerField()
    figures = models.JSONField()
    seconds = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["dataset", "-created_at"], name="agreement_dataset_latest_idx")]

    def __str__(self) -> str:
        return f"agreement {self.dataset_id} {self.created_at:%Y-%m-%d %H:%M}"


class GoldAnswer(models.Model):
    """An expert's answer to one question (image, class), for annotators' gold accuracy."""

    class Answer(models.TextChoices):
        YES = "yes", "Yes"
        NO = "no", "No"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="gold_answers")
    label_class = models.ForeignKey(LabelClass, on_delete=models.CASCADE, related_name="+")
    answer = models.CharField(max_length=3, choices=Answer.choices)
    source = models.CharField(max_length=200, blank=True, help_text="Where it was imported from.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "label_class"], name="gold_one_per_question"),
            models.CheckConstraint(condition=Q(answer__in=["yes", "no"]), name="gold_answer_known"),
        ]

    def __str__(self) -> str:
        return f"gold {self.image_id}:{self.label_class_id} {self.answer}"
