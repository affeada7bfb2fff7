"""Datasets ready for annotation, for the workbench's service, API and browser tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from rest_framework.response import Response
from rest_framework.test import APIClient

from annotator.models import Candidate, Dataset, Image, LabelClass
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import lease_next
from annotator.services.datasets import dataset_create
from tests.builders.datasets import ImageFactory, LabelClassFactory


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


def photographs_dataset(team: list) -> tuple[Dataset, Image]:
    """Three labelled images (two candidates each) and a photograph with neither an original label nor a
    candidate, like the demo's hubble_deep_field.jpg; the team (three annotators, N = 3) first answers the
    labelled ones: the first two choose one candidate, the third both."""
    dataset = workbench_dataset(slug="photos", images=3, classes=6, candidates_per_image=2, annotators=team)
    hubble = Image.objects.create(dataset=dataset, key="hubble_deep_field.jpg", position=3, annotations_needed=3)
    for user in team:
        for _ in range(3):
            lease = lease_next(dataset=dataset, annotator=user)
            assert lease.image_id != hubble.pk
            chosen = [lease.shown[0]] if user != team[2] else list(lease.shown)
            annotation_submit(
                annotator=user, image_id=lease.image_id, answer=Answer(classes=chosen), client_uuid=uuid.uuid4()
            )
    return dataset, hubble


def hubble_submit(user, dataset: Dataset, hubble: Image, **answer: object) -> Response:
    """Lease the photograph without candidates and answer it through the API, as the workbench does."""
    client = APIClient()
    client.force_login(user)
    lease = client.post(f"/api/datasets/{dataset.slug}/next/", {"exclude": []}, format="json")
    assert lease.status_code == 200 and lease.json()["image"]["id"] == hubble.pk
    assert lease.json()["candidates"] == []  # nothing to vote on: None fits and Bad image cast no vote
    body = {"image": hubble.pk, "client_uuid": str(uuid.uuid4()), **answer}
    return client.post("/api/annotations/", body, format="json")


def take_and_answer(dataset: Dataset, user) -> int:
    """Lease the user's next image, answer it "unsure" at once, and return its position (the hand-out's order)."""
    lease = lease_next(dataset=dataset, annotator=user)
    assert lease is not None
    annotation_submit(annotator=user, image_id=lease.image_id, answer=Answer(unsure=True), client_uuid=uuid.uuid4())
    return Image.objects.get(pk=lease.image_id).position
