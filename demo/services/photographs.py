"""The demo dataset and one demo user per role, for `make demo`."""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from annotator.core.import_sources import ImageSpec
from annotator.core.vocabulary import BUILTIN_IMAGENET, parse_vocabulary
from annotator.models import AgreementSnapshot, Annotation, Candidate, Dataset, Image, LabelClass
from annotator.roles import ANNOTATOR, RESEARCHER, REVIEWER, role_groups
from annotator.services.agreement_figures import agreement_compute
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import image_skip, lease_next
from annotator.services.candidates import candidates_add
from annotator.services.datasets import dataset_annotators_add, dataset_create, vocabulary_import
from annotator.services.image_import import ImportReport, images_import

DEMO_DIR = Path(__file__).resolve().parents[2] / "data" / "demo"
DEMO_SLUG = "demo"
# username -> (roles, is_staff)
DEMO_USERS: dict[str, tuple[tuple[str, ...], bool]] = {
    "admin": ((), True),
    "annotator": ((ANNOTATOR,), False),
    "annotator2": ((ANNOTATOR,), False),
    "reviewer": ((REVIEWER,), False),
    "researcher": ((RESEARCHER,), False),
}


def demo_dataset_load() -> tuple[Dataset, ImportReport]:
    """Create (or complete) the demo dataset from data/demo; safe to run again."""
    manifest = json.loads((DEMO_DIR / "labels.json").read_text())
    dataset = Dataset.objects.filter(slug=DEMO_SLUG).first() or dataset_create(
        slug=DEMO_SLUG, name="Demo photographs", description="Public-domain sample photographs with ImageNet classes."
    )
    vocabulary_import(dataset=dataset, classes=parse_vocabulary(BUILTIN_IMAGENET))
    specs = [
        ImageSpec(
            key=entry["file"],
            path=DEMO_DIR / entry["file"],
            label=entry["label"],
            source=f"labels.json:{entry['file']}",
        )
        for entry in manifest["images"]
    ]
    report = images_import(dataset=dataset, specs=specs)
    demo_candidates_create(dataset=dataset, manifest=manifest)
    return dataset, report


@transaction.atomic
def demo_candidates_create(*, dataset: Dataset, manifest: dict) -> int:
    """Stand-in model proposals until a prediction set is registered: each labelled photo's valid classes
    and the class next to its label in the vocabulary (often a close sibling, e.g. another cat)."""
    classes = {c.key: c for c in LabelClass.objects.filter(dataset=dataset)}
    by_index = {c.index: c for c in classes.values()}
    images = {image.key: image for image in Image.objects.filter(dataset=dataset)}
    rows = []
    for entry in manifest["images"]:
        image = images.get(entry["file"])
        if image is None or entry["label"] is None:
            continue
        label = classes[entry["label"]]
        proposals = {classes[key] for key in entry["valid"]} | {by_index[(label.index + 1) % len(by_index)]}
        rows.append((image, label, Candidate.Source.ORIGINAL))
        rows += [(image, proposal, Candidate.Source.MODEL) for proposal in proposals - {label}]
    return candidates_add(proposals=rows)


@transaction.atomic
def demo_annotators_assign(*, dataset: Dataset) -> None:
    """Every demo user who annotates, and the admin, may annotate the demo dataset."""
    User = get_user_model()
    users = User.objects.filter(Q(groups__name=ANNOTATOR) | Q(is_staff=True), username__in=DEMO_USERS)
    dataset_annotators_add(dataset=dataset, users=users)


# Three simulated raters answer four of the photos through the real services, so the agreement dashboard,
# the review queue (two disputed, one flagged) and the consensus have something to show; the other eleven
# images are left for the demo annotators. Answers: wnids chosen, or a flag.
DEMO_RATER_ANSWERS: dict[str, dict[str, dict]] = {
    "demo-rater-1": {
        "astronaut.jpg": {"classes": ["n04266014", "n03127747"]},
        "chelsea.jpg": {"classes": ["n02123045", "n02123159"]},
        "coffee.jpg": {"classes": ["n07920052", "n07930864"]},
        "hubble_deep_field.jpg": {"none_fits": True},
    },
    "demo-rater-2": {
        "astronaut.jpg": {"classes": ["n04266014"]},
        "chelsea.jpg": {"classes": ["n02123159"], "unsure": True},
        "coffee.jpg": {"classes": ["n07920052", "n07930864"]},
        "hubble_deep_field.jpg": {"bad_image": True},
    },
    "demo-rater-3": {
        "astronaut.jpg": {"classes": ["n04266014"], "unsure": True},
        "chelsea.jpg": {"classes": ["n02123045"]},
        "coffee.jpg": {"classes": ["n07920052", "n07930864"]},
        "hubble_deep_field.jpg": {"none_fits": True},
    },
}


def demo_answers_simulate(*, dataset: Dataset) -> int:
    """The simulated raters answer their photos (skipping the rest) through lease_next and annotation_submit,
    then the agreement figures are computed, so the dashboard has them from the start (beat's first refresh
    comes only after RELABEL_DAWID_SKENE_INTERVAL). Safe to run again: a rater who already answered is left
    alone, and the figures are computed only when answers were written or none exist. Returns the
    annotations written."""
    User = get_user_model()
    classes = dict(LabelClass.objects.filter(dataset=dataset).values_list("key", "id"))
    written = 0
    for username, answers in DEMO_RATER_ANSWERS.items():
        rater, created = User.objects.get_or_create(username=username)
        if created:
            rater.set_unusable_password()
            rater.save(update_fields=["password"])
        rater.groups.add(*role_groups(ANNOTATOR))
        dataset_annotators_add(dataset=dataset, users=[rater])
        if Annotation.objects.filter(dataset=dataset, annotator=rater).exists():
            continue
        while (lease := lease_next(dataset=dataset, annotator=rater)) is not None:
            answer = answers.get(lease.image.key)
            if answer is None:
                image_skip(image_id=lease.image_id, annotator=rater)
                continue
            chosen = [classes[key] for key in answer.get("classes", [])]
            flags = {flag: answer.get(flag, False) for flag in ("none_fits", "unsure", "bad_image")}
            annotation_submit(
                annotator=rater,
                image_id=lease.image_id,
                answer=Answer(classes=chosen, seconds=4.0, **flags),
                client_uuid=uuid.uuid5(uuid.NAMESPACE_URL, f"relabel-demo:{username}:{lease.image.key}"),
            )
            written += 1
    if written or not AgreementSnapshot.objects.filter(dataset=dataset).exists():
        agreement_compute(dataset=dataset)
    return written


@transaction.atomic
def demo_users_create() -> dict[str, str]:
    """One user per role with a fresh random password each run; returns username -> password."""
    User = get_user_model()
    credentials = {}
    for username, (roles, is_staff) in DEMO_USERS.items():
        user, _ = User.objects.get_or_create(username=username)
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.is_staff = user.is_superuser = is_staff
        user.save()
        user.groups.set(role_groups(*roles))
        credentials[username] = password
    return credentials
