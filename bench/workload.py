"""The benchmark workload: a file-less ImageNet-scale dataset, its annotators and their API tokens."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import ProgrammingError, connection
from rest_framework.authtoken.models import Token

from annotator.models import Dataset
from annotator.roles import ANNOTATOR, role_groups
from annotator.services.image_import import images_import
from bench.imports import fresh_dataset, synthetic_specs


def api_dataset(images: int, *, slug: str = "bench-api", overlap: int = 5) -> Dataset:
    """A fresh dataset for the load test (annotations from a previous run would skew 'next')."""
    dataset = fresh_dataset(slug, annotations_per_image=overlap)
    images_import(dataset=dataset, specs=synthetic_specs(images), with_files=False, batch_size=5000)
    database_settle()
    return dataset


def database_settle() -> None:
    """Vacuum, analyse and checkpoint after the bulk writes that built a workload, so what is measured next
    is the steady state rather than autovacuum and a checkpoint catching up with the import (they ran
    during the first load levels otherwise). Skipped inside a transaction (a test's), where VACUUM cannot run."""
    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")  # tables the role does not own are skipped with a warning
        try:
            cursor.execute("CHECKPOINT")
        except ProgrammingError:  # needs a superuser or pg_checkpoint: an external server's bench role may lack it
            print("workload: CHECKPOINT not allowed for this database role; skipped")


def annotator_tokens(dataset: Dataset, count: int) -> list[str]:
    User = get_user_model()
    (group,) = role_groups(ANNOTATOR)
    tokens = []
    for i in range(count):
        user, _ = User.objects.get_or_create(username=f"bench-annotator-{i:02d}")
        user.groups.add(group)
        dataset.annotators.add(user)
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    return tokens
