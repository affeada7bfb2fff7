"""The mixed review queue of tests/annotator/test_review_queue_*.py: every kind of queue row, and the queue's
definition worked out row by row in Python (as it was before the partial indexes)."""

from __future__ import annotations

import random

from annotator.models import Annotation, Candidate, Consensus, Dataset, Image
from annotator.services.annotations import Answer
from annotator.services.assignment import image_request_more
from annotator.services.review import adjudication_exclude, adjudication_set, review_request_more
from tests.builders.annotations import workbench_dataset
from tests.builders.review import answer_images

N_IMAGES = 24


def mixed_dataset(team, reviewer) -> Dataset:
    """24 images answered at random (seeded) by three annotators, some by fewer; then reviewers' decisions."""
    dataset = workbench_dataset(
        slug="mixed", images=N_IMAGES, classes=5, candidates_per_image=3, annotators=team, annotations_per_image=3
    )
    rng = random.Random(23)
    images = list(Image.objects.filter(dataset=dataset).order_by("position"))
    shown = {i.pk: list(Candidate.objects.filter(image=i).values_list("label_class_id", flat=True)) for i in images}
    untouched = images[-1]  # nobody answers it: it has no consensus row until a reviewer asks for more
    for user in team:
        answers = {}
        for image in images[:-1]:
            scenario = image.position % 6
            if scenario == 0:  # everyone agrees: not in review
                answers[image.position] = Answer(classes=shown[image.pk][:1])
                continue
            if scenario == 1:  # everyone agrees that none fits: agreed, in review for the flags alone
                answers[image.position] = Answer(none_fits=True)
                continue
            if scenario == 2 and image.position < 12:  # everyone calls it bad: no agreement figure
                answers[image.position] = Answer(bad_image=True)
                continue
            if rng.random() < 0.12:
                continue
            kind = rng.random()
            if kind < 0.08:
                answers[image.position] = Answer(bad_image=True)
            elif kind < 0.16:
                answers[image.position] = Answer(none_fits=True)
            else:
                chosen = [c for c in shown[image.pk] if rng.random() < 0.5] or shown[image.pk][:1]
                answers[image.position] = Answer(classes=chosen, unsure=rng.random() < 0.15)
        answer_images(dataset, user, answers)
    agreed = list(Consensus.objects.filter(dataset=dataset, status="agreed").order_by("image__position"))
    disputed = list(Consensus.objects.filter(dataset=dataset, status="disputed").order_by("image__position"))
    adjudication_set(image_id=disputed[0].image_id, reviewer=reviewer, labels=[shown[disputed[0].image_id][0]])
    adjudication_exclude(image_id=disputed[1].image_id, reviewer=reviewer, reason="bad")
    review_request_more(image_id=agreed[0].image_id, reviewer=reviewer)  # agreed, so in review only for this
    image_request_more(image_id=untouched.pk)
    return dataset


def _tab(consensus: Consensus, status: str) -> bool:
    return {
        "open": not consensus.adjudicated and consensus.status != "pending",
        "pending": not consensus.adjudicated and consensus.status == "pending",
        "adjudicated": consensus.adjudicated and not consensus.excluded,
        "excluded": consensus.excluded,
        "all": True,
    }[status]


def expected_queue(dataset: Dataset, status: str, class_id: int | None, annotator_id: int | None) -> list[int]:
    """The queue by its definition, row by row in Python."""
    annotated = set(Annotation.objects.filter(annotator_id=annotator_id).values_list("image_id", flat=True))
    rows = []
    for c in Consensus.objects.filter(dataset=dataset).select_related("image"):
        flags = c.unsure_count + c.bad_image_count + c.none_fits_count
        if not (c.status == "disputed" or flags or c.adjudicated or c.image.more_requested_at is not None):
            continue
        if not _tab(c, status):
            continue
        if class_id is not None and not (str(class_id) in c.counts or class_id in c.labels):
            continue
        if annotator_id is not None and c.image_id not in annotated:
            continue
        rows.append((c.agreement is None, c.agreement or 0.0, -flags, c.image.position, c.image_id))
    return [row[-1] for row in sorted(rows)]
