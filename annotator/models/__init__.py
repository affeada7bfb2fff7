"""The annotator app's models, one module per concern; import them from here."""

from annotator.models.annotations import Annotation, AnnotationQuerySet, AnnotationRevision, Vote
from annotator.models.consensus import (
    IN_REVIEW,
    QUEUE_FLAGS,
    QUEUE_KEYS,
    AgreementSnapshot,
    Consensus,
    DawidSkeneRun,
    GoldAnswer,
)
from annotator.models.datasets import Dataset, DatasetCounts, LabelClass
from annotator.models.images import Candidate, Image, ImageQuerySet, Lease, Skip
from annotator.models.pilots import Pilot, PilotImage
from annotator.models.review import Adjudication

__all__ = [
    "Adjudication",
    "AgreementSnapshot",
    "Annotation",
    "AnnotationQuerySet",
    "AnnotationRevision",
    "Candidate",
    "Consensus",
    "IN_REVIEW",
    "QUEUE_FLAGS",
    "QUEUE_KEYS",
    "Dataset",
    "DatasetCounts",
    "DawidSkeneRun",
    "GoldAnswer",
    "Image",
    "ImageQuerySet",
    "LabelClass",
    "Lease",
    "Pilot",
    "PilotImage",
    "Skip",
    "Vote",
]
