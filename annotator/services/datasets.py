"""Creating datasets and their vocabularies; assigning annotators to a dataset."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction

from annotator.core.vocabulary import ClassSpec, VocabularyError
from annotator.models import Dataset, LabelClass
from config.text_rules import (
    DESCRIPTION_MAX_LENGTH,
    GLOSS_MAX_LENGTH,
    TextInputError,
    clean_name,
    clean_text,
)

CLASS_KEY_MAX_LENGTH = 100  # LabelClass.key


@transaction.atomic
def dataset_create(*, slug: str, name: str = "", description: str = "", **settings: object) -> Dataset:
    """A new dataset; a name too long or with bidi controls, or a description too long, raises TextInputError."""
    name = clean_name(name or slug, what="dataset name")
    description = clean_text(description, what="description", max_length=DESCRIPTION_MAX_LENGTH)
    return Dataset.objects.create(slug=slug, name=name, description=description, **settings)


def dataset_annotators_add(*, dataset: Dataset, users: Iterable[User]) -> None:
    """Let these users annotate the dataset (they also need the annotator role); already assigned ones stay."""
    dataset.annotators.add(*users)


@transaction.atomic
def vocabulary_import(*, dataset: Dataset, classes: list[ClassSpec]) -> int:
    """Add the vocabulary to a dataset; re-importing the same vocabulary is a no-op.

    A dataset's classes never change index once images or votes refer to them, so a vocabulary
    that disagrees with the stored one (same index, other key) is refused.
    Returns the number of classes created.
    """
    classes = [_checked(spec) for spec in classes]
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


def _checked(spec: ClassSpec) -> ClassSpec:
    """The class with its names and gloss within limits (bidi controls refused in names, removed from the
    gloss); VocabularyError names the class otherwise."""
    try:
        key = clean_name(spec.key, what="key", max_length=CLASS_KEY_MAX_LENGTH)
        name = clean_name(spec.name, what="name")
        synonyms = [clean_name(synonym, what="synonym") for synonym in spec.synonyms]
        gloss = clean_text(spec.gloss, what="gloss", max_length=GLOSS_MAX_LENGTH)
    except TextInputError as error:
        raise VocabularyError(f"class {spec.index} ({spec.key[:40]!r}): {error}") from None
    return ClassSpec(index=spec.index, key=key, name=name, synonyms=synonyms, gloss=gloss)
