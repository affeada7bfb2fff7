"""Datasets with disputed, flagged and agreed images, built through the real annotation services."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from annotator.models import Candidate, Dataset, Image, LabelClass
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import image_skip, lease_next
from tests.builders.annotations import workbench_dataset

# position -> one answer per annotator; `c(k)` names the class at index k. Five images, four classes, N = 3.
# 0: a 2–1 split plus an unsure (disputed, low agreement)   1: one annotator says bad image (disputed, flagged)
# 2: everyone agrees (not in the queue)                     3: yes/no/maybe tie on class 0 (disputed)
# 4: everyone agrees (not in the queue)
Plan = Callable[[Callable[[int], int]], dict[int, list[Answer]]]


def default_plan(c: Callable[[int], int]) -> dict[int, list[Answer]]:
    return {
        0: [Answer(classes=[c(0), c(1)]), Answer(classes=[c(1)]), Answer(classes=[c(0)], unsure=True)],
        1: [Answer(classes=[c(1)]), Answer(bad_image=True), Answer(classes=[c(1)])],
        2: [Answer(classes=[c(2)])] * 3,
        3: [Answer(classes=[c(3), c(0)]), Answer(classes=[c(3)]), Answer(classes=[c(3)], unsure=True)],
        4: [Answer(classes=[c(0)])] * 3,
    }


def review_dataset(annotators: Sequence, *, slug: str = "pets", plan: Plan = default_plan) -> Dataset:
    """Five images (candidates: original label and the next two classes) answered as `plan` says."""
    dataset = workbench_dataset(
        slug=slug, images=5, classes=4, candidates_per_image=3, annotators=annotators, annotations_per_image=3
    )
    # Model proposals as evaluation writes them: score = 1/(rank + 1), the original label being the top-1.
    for candidate in Candidate.objects.filter(image__dataset=dataset, source=Candidate.Source.MODEL).select_related(
        "image__original_label", "label_class"
    ):
        rank = (candidate.label_class.index - candidate.image.original_label.index) % 4
        Candidate.objects.filter(pk=candidate.pk).update(score=1 / (rank + 1))
    ids = dict(LabelClass.objects.filter(dataset=dataset).values_list("index", "pk"))
    answers = plan(lambda index: ids[index])
    by_position = dict(Image.objects.filter(dataset=dataset).values_list("pk", "position"))
    for number, user in enumerate(annotators[:3]):
        answer_images(
            dataset, user, {by_position[i]: a[number] for i in by_position if (a := answers.get(by_position[i]))}
        )
    return dataset


def answer_images(dataset: Dataset, user, answers: dict[int, Answer]) -> None:
    """`user` leases images until every position in `answers` is answered; other images are skipped."""
    remaining = dict(answers)
    while remaining and (lease := lease_next(dataset=dataset, annotator=user)) is not None:
        position = Image.objects.values_list("position", flat=True).get(pk=lease.image_id)
        if position in remaining:
            annotation_submit(
                annotator=user, image_id=lease.image_id, answer=remaining.pop(position), client_uuid=uuid.uuid4()
            )
        else:
            image_skip(image_id=lease.image_id, annotator=user)


def image_at(dataset: Dataset, position: int) -> Image:
    return Image.objects.get(dataset=dataset, position=position)


def class_at(dataset: Dataset, index: int) -> LabelClass:
    return LabelClass.objects.get(dataset=dataset, index=index)
