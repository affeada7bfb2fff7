"""Datasets ready for annotation, for the workbench's service, API and browser tests."""

from __future__ import annotations

from collections.abc import Iterable

from annotator.models import Candidate, Dataset, Image, LabelClass
from annotator.services.datasets import dataset_create
from tests.factories import ImageFactory, LabelClassFactory


def workbench_dataset(
    *,
    slug: str = "pets",
    images: int = 6,
    classes: int = 5,
    annotators: Iterable = (),
    annotations_per_image: int = 3,
    candidates_per_image: int = 1,
    thumbnails: bool = True,
) -> Dataset:
    """`images` images labelled round-robin with `classes` classes; each image's candidates are its
    original label and the next `candidates_per_image - 1` classes (as model proposals)."""
    dataset = dataset_create(slug=slug, name=slug.title(), annotations_per_image=annotations_per_image)
    vocabulary = [
        LabelClassFactory(
            dataset=dataset,
            index=i,
            key=f"n{9000 + i:08d}",
            name=f"{slug} class {i}",
            synonyms=[f"{slug} synonym {i}"],
            gloss=f"gloss of {slug} class {i}",
        )
        for i in range(classes)
    ]
    for position in range(images):
        label = vocabulary[position % classes]
        image = ImageFactory(
            dataset=dataset,
            position=position,
            key=f"{slug}_{position:04d}.jpg",
            original_label=label,
            thumbnail=f"datasets/{slug}/thumbnails/{position:04d}.jpg" if thumbnails else "",
        )
        candidates_add(image, [vocabulary[(position + k) % classes] for k in range(candidates_per_image)])
    dataset.annotators.add(*annotators)
    return dataset


def candidates_add(image: Image, classes: list[LabelClass]) -> None:
    Candidate.objects.bulk_create(
        Candidate(
            image=image,
            label_class=label_class,
            source=Candidate.Source.ORIGINAL if label_class.pk == image.original_label_id else Candidate.Source.MODEL,
        )
        for label_class in classes
    )
