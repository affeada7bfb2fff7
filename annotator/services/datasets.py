"""Creating datasets and their vocabularies."""

from __future__ import annotations

from django.db import transaction

from annotator.models import Dataset, LabelClass
from annotator.vocabulary import ClassSpec, VocabularyError


@transaction.atomic
def dataset_create(*, slug: str, name: str = "", **settings: object) -> Dataset:
    return Dataset.objects.create(slug=slug, name=name or slug, **settings)


@transaction.atomic
def vocabulary_import(*, dataset: Dataset, classes: list[ClassSpec]) -> int:
    """Add the vocabulary to a dataset; re-importing the same vocabulary is a no-op.

    A dataset's classes never change index once images or votes refer to them, so a vocabulary
    that disagrees with the stored one (same index, other key) is refused.
    Returns the number of classes created.
    """
    existing = {c.index: c.key for c in LabelClass.objects.filter(dataset=dataset).only("index", "key")}
    for spec in classes:
        if spec.index in existing and existing[spec.index] != spec.key:
            raise VocabularyError(
                f"class {spec.index} is {existing[spec.index]!r} in dataset {dataset.slug!r}, "
                f"not {spec.key!r}: a vocabulary cannot be changed once imported"
            )
    new = [
        LabelClass(dataset=dataset, index=s.index, key=s.key, name=s.name, synonyms=s.synonyms, gloss=s.gloss)
        for s in classes
        if s.index not in existing
    ]
    LabelClass.objects.bulk_create(new, batch_size=1000)
    return len(new)
