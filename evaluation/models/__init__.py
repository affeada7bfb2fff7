"""The evaluation app's models, one module per domain; import them from here."""

from evaluation.models.prediction_sets import PredictionArrays, PredictionSet
from evaluation.models.reference_labels import ReferenceLabels, ReferenceLabelSet
from evaluation.models.releases import Release, ReleaseFile
from evaluation.models.snapshots import MetricSnapshot

__all__ = [
    "MetricSnapshot",
    "PredictionArrays",
    "PredictionSet",
    "ReferenceLabelSet",
    "ReferenceLabels",
    "Release",
    "ReleaseFile",
]
