"""Aggregated results: consensus per image, Dawid-Skene runs, agreement snapshots, gold answers."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F, FloatField, Q, Value
from django.db.models.functions import Cast, Coalesce

from annotator.models.datasets import Dataset, LabelClass
from annotator.models.images import Image


class DawidSkeneRun(models.Model):
    """One Dawid–Skene fit over a dataset's votes; append-only. Its per-annotator parameters let the live
    consensus score new votes between runs (annotator.core.consensus_rules.DsParams)."""

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


# The review queue: disputed images, those an annotator flagged (bad image, none fits, unsure), those a reviewer
# decided and those a reviewer asked more annotations for. One definition for the queue's reads and the partial
# indexes that serve them (the planner uses a partial index only for a query that states its condition).
IN_REVIEW = (
    Q(status="disputed")
    | Q(unsure_count__gt=0)
    | Q(bad_image_count__gt=0)
    | Q(none_fits_count__gt=0)
    | Q(adjudicated=True)
    | Q(more_requested=True)
)
# How many annotators flagged the image; the queue's second sort key (most flags first).
QUEUE_FLAGS = F("unsure_count") + F("bad_image_count") + F("none_fits_count")
# The queue's order as three ascending keys that never hold NULL, so that a row comparison over them seeks in
# one index (keyset pagination): lowest agreement first with no agreement figure last (+Infinity: the check
# constraint `consensus_agreement_finite` keeps every figure below it), most flags first, then dataset order.
_INFINITY = Cast(Value("Infinity"), FloatField())
QUEUE_KEYS = (
    Coalesce(F("agreement"), _INFINITY),
    QUEUE_FLAGS * -1,
    F("position"),
)
# The columns the first two keys are computed from (an index-only scan reads columns, not indexed expressions).
QUEUE_KEY_COLUMNS = ("agreement", "unsure_count", "bad_image_count", "none_fits_count")


class Consensus(models.Model):
    """The consensus of one image, kept up to date in the transaction of every submit and revise
    (annotator.services.consensus). Class ids are LabelClass primary keys; JSON keys are their strings."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        AGREED = "agreed", "Agreed"
        DISPUTED = "disputed", "Disputed"
        ADJUDICATED = "adjudicated", "Adjudicated"

    image = models.OneToOneField(Image, on_delete=models.CASCADE, primary_key=True, related_name="consensus")
    # Indexed by the (dataset, …) indexes below (fewer writes per live consensus update).
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+", db_index=False)
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
    # Adaptive redundancy (annotator.core.redundancy); empty and "" under fixed redundancy.
    settled_classes = ArrayField(
        models.BigIntegerField(), default=list, blank=True, help_text="Questions decided: not asked again."
    )
    open_classes = ArrayField(models.BigIntegerField(), default=list, blank=True, help_text="Questions undecided.")
    redundancy_state = models.CharField(
        max_length=10, blank=True, default="", help_text="Adaptive: open, settled or exhausted (at the maximum)."
    )
    # A reviewer's decision sets this with status "adjudicated"; consensus updates then keep status and labels.
    adjudicated = models.BooleanField(default=False)
    # An adjudication that marks the image bad or ambiguous: it leaves metrics and releases' label sets.
    excluded = models.BooleanField(default=False, db_default=False)
    # A reviewer asked for more annotations: `Image.more_requested_at` is set, in the same transaction
    # (annotator.services.assignment.image_request_more). Kept here too so that the review queue's
    # membership (IN_REVIEW) reads one table and its partial indexes cover it.
    more_requested = models.BooleanField(default=False, db_default=False)
    # The image's position (dataset order), copied when the row is written first (positions never change): the
    # review queue's last sort key, so that its order index holds a unique key and a page seeks to it.
    position = models.PositiveIntegerField()
    updated_at = models.DateTimeField(help_text="Last change of any field (set by the services).")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(adjudicated=False) | Q(status="adjudicated"), name="consensus_adjudicated_status"
            ),
            models.CheckConstraint(
                condition=Q(excluded=False) | Q(adjudicated=True), name="consensus_excluded_adjudicated"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "agreed", "disputed", "adjudicated"]), name="consensus_status_known"
            ),
            # No agreement figure sorts as +Infinity in the queue's keys (QUEUE_KEYS): no figure may equal it
            # (or be NaN, which PostgreSQL sorts above it).
            models.CheckConstraint(
                condition=Q(agreement__isnull=True) | Q(agreement__lt=_INFINITY), name="consensus_agreement_finite"
            ),
        ]
        indexes = [
            models.Index(fields=["dataset", "status"], name="consensus_dataset_status_idx"),
            models.Index(fields=["dataset", "updated_at"], name="consensus_dataset_updated_idx"),
            # The review queue (annotator.selectors.review_queue) holds ~17% of a dataset's images. Its rows in
            # queue order by a unique key: a page reads about as many index entries as it shows, from the head,
            # from the end or from a cursor anywhere (a row comparison over QUEUE_KEYS is an index condition).
            # It holds every column a page's pick of rows reads (the keys' columns, the status tabs' and the image),
            # so that pick is an index-only scan: a page by offset, or one under the annotator filter that reads
            # many rows before its own, skips index entries and no table rows (the last page by offset of 221,400
            # rows in review at 1.3 M images: 880 ms -> 25 ms).
            models.Index(
                F("dataset"),
                *QUEUE_KEYS,
                include=["image", "status", "adjudicated", "excluded", *QUEUE_KEY_COLUMNS],
                condition=IN_REVIEW,
                name="consensus_review_order_idx",
            ),
            # … and its counts per status tab, from the index alone (an index-only scan).
            models.Index(
                fields=["dataset", "status", "adjudicated", "excluded"],
                include=["image"],
                condition=IN_REVIEW,
                name="consensus_review_count_idx",
            ),
            # … and its class filter (`counts ? class` or `labels @> {class}`: a class id belongs to one dataset).
            GinIndex(fields=["counts"], condition=IN_REVIEW, name="consensus_review_counts_gin"),
            GinIndex(fields=["labels"], condition=IN_REVIEW, name="consensus_review_labels_gin"),
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
