"""Metric snapshots: the append-only history of every prediction set's metrics."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from evaluation.models.prediction_sets import PredictionSet
from evaluation.models.reference_labels import ReferenceLabelSet


class MetricSnapshot(models.Model):
    """All metrics of one prediction set against one label source at one state of that source. Never updated.

    `watermark` names the state of the label pool (``reference:<id>`` or ``consensus:<…>``), so one state is
    evaluated at most once per prediction set and version of the metric definitions (`metrics_version`, see
    `evaluation.core.metrics.METRICS_VERSION`); a database trigger refuses updates.
    """

    class LabelSource(models.TextChoices):
        CONSENSUS = "consensus", "Live consensus"
        REFERENCE = "reference", "Reference label set"

    prediction_set = models.ForeignKey(PredictionSet, on_delete=models.CASCADE, related_name="snapshots")
    label_source = models.CharField(max_length=16, choices=LabelSource.choices)
    reference_set = models.ForeignKey(
        ReferenceLabelSet, on_delete=models.CASCADE, null=True, blank=True, related_name="snapshots"
    )
    pool_size = models.PositiveIntegerField(help_text="Images with a settled label set at that moment.")
    watermark = models.CharField(max_length=100)
    values = models.JSONField(help_text="evaluation.metrics.compute_all output.")
    valid_error_examples = models.JSONField(
        default=dict, blank=True, help_text='Image ids per (original, predicted) pair: {"o,p": [ids…]}.'
    )
    seconds = models.FloatField(help_text="Wall time of the computation.")
    metrics_version = models.PositiveSmallIntegerField(
        default=1, help_text="Version of the metric definitions computed (evaluation.metrics.METRICS_VERSION)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"
        constraints = [
            models.UniqueConstraint(
                fields=["prediction_set", "watermark", "metrics_version"], name="metricsnapshot_once_per_state"
            ),
            models.CheckConstraint(
                condition=Q(label_source="consensus", reference_set__isnull=True)
                | Q(label_source="reference", reference_set__isnull=False),
                name="metricsnapshot_reference_iff_reference_source",
            ),
        ]
        indexes = [
            models.Index(
                fields=["prediction_set", "label_source", "reference_set", "-created_at"],
                name="metricsnapshot_latest_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prediction_set} @ {self.watermark}"  # MetricSnapshotAdmin loads the set with it
