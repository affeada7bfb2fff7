"""Reads shared by views, APIs and tasks."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from annotator.models import Dataset


def dataset_list_with_counts() -> QuerySet[Dataset]:
    return Dataset.objects.annotate(image_count=Count("images", distinct=True), class_count=Count("classes", distinct=True))
