"""The demo dataset and one demo user per role, for `make demo`."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from annotator.import_sources import ImageSpec
from annotator.models import Dataset
from annotator.roles import ANNOTATOR, RESEARCHER, REVIEWER
from annotator.services.datasets import dataset_create, vocabulary_import
from annotator.services.image_import import ImportReport, images_import
from annotator.vocabulary import BUILTIN_IMAGENET, parse_vocabulary

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
        ImageSpec(key=entry["file"], path=DEMO_DIR / entry["file"], label=entry["label"], source=f"labels.json:{entry['file']}")
        for entry in manifest["images"]
    ]
    return dataset, images_import(dataset=dataset, specs=specs)


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
        user.groups.set(Group.objects.filter(name__in=roles))
        credentials[username] = password
    return credentials
