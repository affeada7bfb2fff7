"""The dataset comparison page at 70 models × 2 datasets (section "compare").

`compare_datasets()` builds (or reuses) two datasets with the ImageNet vocabulary through the product's own
services: `bench-compare-a` and `bench-compare-b`, 10,000 file-less images each (ImageNetV2's size), a
reference label set on each (about 16 % and 30 % multi-label, as ReaL on ImageNet val and more), and the same
70 models on both (top-5 files from noisy copies of the original label), evaluated. The render does not read
images, only one snapshot summary per set: its cost grows with the models, not the images.
"""

from __future__ import annotations

import json
import time

import numpy as np
from django.core.files.base import ContentFile
from django.urls import reverse

from annotator.core.import_sources import ImageSpec
from annotator.models import Dataset
from annotator.services.image_import import images_import
from bench.imports import fresh_dataset
from bench.report import Report
from evaluation.models import MetricSnapshot, PredictionSet, ReferenceLabelSet
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from evaluation.services.snapshots import metric_snapshots_refresh

N_MODELS = 70
N_IMAGES = 10_000
N_CLASSES = 1000
SIDES = (("bench-compare-a", 0.16, 1), ("bench-compare-b", 0.30, 2))  # slug, multi-label share, seed


def compare_datasets(n_models: int = N_MODELS, n_images: int = N_IMAGES, *, log=print) -> tuple[Dataset, Dataset]:
    """Both datasets, built or completed as needed (idempotent)."""
    return tuple(_side(slug, share, seed, n_models, n_images, log) for slug, share, seed in SIDES)  # type: ignore[return-value]


def _side(slug: str, share: float, seed: int, n_models: int, n_images: int, log) -> Dataset:
    rng = np.random.default_rng(seed)
    original = rng.integers(0, N_CLASSES, n_images)
    dataset = Dataset.objects.filter(slug=slug).first()
    started = time.perf_counter()
    if dataset is None or dataset.images.count() != n_images:
        dataset = fresh_dataset(slug)
        specs = [ImageSpec(key=f"img_{i:06d}.jpeg", path=None, label=str(c), source=f"bench:{i}")
                 for i, c in enumerate(original)]  # fmt: skip
        images_import(dataset=dataset, specs=specs, with_files=False, batch_size=5000)
    if not ReferenceLabelSet.objects.filter(dataset=dataset).exists():
        extra = rng.random(n_images) < share
        sizes = np.where(extra, rng.integers(2, 5, n_images), 1)
        labels = [
            sorted({int(c), *map(int, rng.integers(0, N_CLASSES, s - 1))}) for c, s in zip(original, sizes, strict=True)
        ]
        source = ContentFile(json.dumps(labels).encode(), name="labels.json")
        reference_label_set_create(dataset=dataset, name="labels", source=source)
    present = set(PredictionSet.objects.filter(dataset=dataset).values_list("name", flat=True))
    for m in range(n_models):
        name = f"model-{m:02d}"
        if name in present:
            continue
        skill = 0.45 + 0.4 * m / max(1, n_models - 1)
        first = np.where(rng.random(n_images) < skill, original, rng.integers(0, N_CLASSES, n_images))
        # Four more distinct classes: first + j·step (mod C), j = 1..4, with 1 ≤ step < C / 4.
        step = rng.integers(1, N_CLASSES // 4, n_images)
        rows = (first[:, None] + step[:, None] * np.arange(5)[None, :]) % N_CLASSES
        lines = ["image,top5", *(f"img_{i:06d}.jpeg,{' '.join(map(str, row))}" for i, row in enumerate(rows))]
        prediction_set_create(dataset=dataset, name=name, source=ContentFile("\n".join(lines).encode(), name="p.csv"))
    if MetricSnapshot.objects.filter(prediction_set__dataset=dataset).count() < 2 * n_models:
        metric_snapshots_refresh(datasets=[dataset])
    log(f"compare: {dataset.slug} ready in {time.perf_counter() - started:.1f} s")
    return dataset


def bench_compare(report: Report, n_models: int = N_MODELS, n_images: int = N_IMAGES) -> None:
    from bench.pages import page_figure

    a, b = compare_datasets(n_models, n_images)
    url = reverse("dataset_compare:compare", args=[a.slug, b.slug])
    page_figure(report, f"dataset comparison render, {n_models} models × 2 datasets", url, 300.0,
                target=f"≤ 300 ms at {N_MODELS} models × 2 datasets", judged=n_models == N_MODELS)  # fmt: skip
