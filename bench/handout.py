"""Shared set-up of the hand-out benchmarks (bench.pilot_handout, bench.guided_handout): a file-less dataset in
the database `relabel_bench`, its annotators, and the timing of one `lease_next` per annotator."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("RELABEL_DATABASE_NAME", "relabel_bench")
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def handout_world(slug: str, *, images: int = 20_000, annotators: int = 200) -> tuple[Any, list[Any]]:
    """A fresh dataset of `images` file-less images (N = 3, 10 classes) and `annotators` members."""
    from django.contrib.auth.models import User

    from annotator.core.import_sources import ImageSpec
    from annotator.core.vocabulary import ClassSpec
    from annotator.models import Dataset
    from annotator.services.datasets import dataset_create, vocabulary_import
    from annotator.services.image_import import images_import

    Dataset.objects.filter(slug=slug).delete()
    dataset = dataset_create(slug=slug, name=slug, annotations_per_image=3)
    vocabulary_import(dataset=dataset, classes=[ClassSpec(index=i, key=f"n{i:08d}", name=f"c{i}") for i in range(10)])
    specs = [ImageSpec(key=f"i{p:06d}.JPEG", path=None, label=str(p % 10), source="m") for p in range(images)]
    images_import(dataset=dataset, specs=specs, with_files=False)
    users = [User.objects.get_or_create(username=f"handout{i}")[0] for i in range(annotators)]
    dataset.annotators.add(*users)
    return dataset, users


def timed_handouts(dataset: Any, users: list[Any], label: str) -> float:
    """Every user asks for one image (the leases are then dropped again); prints and returns the median (s)."""
    from django.db import connection

    from annotator.models import Image, Lease
    from annotator.services.assignment import lease_next

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotator_image")
    samples = []
    for user in users:
        started = time.perf_counter()
        lease_next(dataset=dataset, annotator=user)
        samples.append(time.perf_counter() - started)
    Lease.objects.filter(dataset=dataset).delete()
    Image.objects.filter(dataset=dataset).update(lease_count=0)
    samples.sort()
    median, p95 = statistics.median(samples), samples[int(0.95 * len(samples))]
    print(f"{label}: median {1000 * median:.2f} ms, p95 {1000 * p95:.2f} ms")
    return median
