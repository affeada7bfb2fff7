"""The computation workload: ImageNet-val-like images, 5 annotations each and 10 prediction sets.

`compute_dataset(n)` builds the dataset `bench-compute-<n>` through the product's own services, or reuses
it when its images, annotations and prediction sets are all there (so a second run measures only).
Image i is named `bench_<i+1>.JPEG` and carries the original label of ImageNet val image i mod 50,000, so
the three real prediction sets (`data/predictions/`, row i mod 50,000) score as they do on ImageNet.
Votes: `bench.synthetic_votes` (5 annotators of a pool of 40 per image, 3 candidates, ~20% multi-label)
through the `import_votes` path (CSV → `read_csv_votes` → `votes_import`). The 7 synthetic sets are
noisier copies of the real ones, two "accuracy q" models, and one with a full N×1000 score matrix so
mean AP and LRAP are exercised.
"""

from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path

import numpy as np
from django.core.files.base import ContentFile

from annotator.core.import_sources import ImageSpec
from annotator.core.vote_formats import read_csv_votes
from annotator.models import Annotation, Dataset, LabelClass
from annotator.services.image_import import images_import
from annotator.services.votes_import import votes_import
from bench.imports import fresh_dataset
from bench.synthetic_votes import write_votes_csv
from bench.workload import database_settle
from evaluation.core.arrays import to_npy_bytes
from evaluation.models import PredictionSet
from evaluation.services.prediction_sets import prediction_set_create

REPO = Path(__file__).resolve().parent.parent
VAL_LABELS = REPO / "data" / "imagenet" / "val_ground_truth.csv"
REAL_PREDICTIONS = REPO / "data" / "predictions"
REAL_SETS = ("resnet50", "resnet18", "vgg16")
ANNOTATIONS_PER_IMAGE = 5
N_PREDICTION_SETS = 10


def compute_dataset(n_images: int, *, log=print, predictions: bool = True) -> Dataset:
    """The workload at `n_images`, built or completed as needed (idempotent). `predictions=False` leaves the
    prediction sets out (`bench.vote_jobs_rss` needs only the votes; the full-score set is 5.2 GB at 1.3 M)."""
    slug = f"bench-compute-{n_images}"
    dataset = Dataset.objects.filter(slug=slug).first()
    if dataset is None or dataset.images.count() != n_images:
        started = time.perf_counter()
        dataset = fresh_dataset(slug, annotations_per_image=ANNOTATIONS_PER_IMAGE)
        wnids = _val_wnids()
        specs = [
            ImageSpec(key=f"bench_{i + 1:08d}.JPEG", path=None, label=wnids[i % len(wnids)], source=f"bench:{i}")
            for i in range(n_images)
        ]
        images_import(dataset=dataset, specs=specs, with_files=False, batch_size=5000)
        log(f"workload: {n_images:,} images imported in {time.perf_counter() - started:.1f} s")
    if Annotation.objects.filter(dataset=dataset).count() != n_images * ANNOTATIONS_PER_IMAGE:
        _import_votes(dataset, log)
    if predictions and PredictionSet.objects.filter(dataset=dataset).count() != N_PREDICTION_SETS:
        _register_prediction_sets(dataset, log)
    database_settle()  # also when reused: the import and API sections before it leave dead rows behind
    return dataset


def _val_wnids() -> list[str]:
    with VAL_LABELS.open(newline="") as handle:
        return [row[1] for row in csv.reader(handle) if row[0] != "image"]


def _dataset_arrays(dataset: Dataset) -> tuple[list[str], np.ndarray]:
    """Image keys and original class indices in dataset order."""
    rows = list(dataset.images.order_by("position").values_list("key", "original_label__index"))
    return [key for key, _ in rows], np.array([index for _, index in rows], np.int64)


def _import_votes(dataset: Dataset, log) -> None:
    started = time.perf_counter()
    keys, original = _dataset_arrays(dataset)
    with tempfile.TemporaryDirectory(prefix="relabel-bench-votes-") as tmp:
        path = Path(tmp) / "votes.csv"
        n_votes = write_votes_csv(path, image_keys=keys, original_index=original, annotators_per_image=5)
        table = read_csv_votes(path)
    report = votes_import(dataset=dataset, votes=table)
    elapsed = time.perf_counter() - started
    log(f"workload: {n_votes:,} votes generated and imported in {elapsed:.1f} s ({report.summary()})")


def real_topk(name: str, n_images: int) -> np.ndarray:
    """The real top-5 of ImageNet val, row i mod 50,000 for image i."""
    with (REAL_PREDICTIONS / f"{name}_top5.csv").open(newline="") as handle:
        rows = sorted((row[0], row[1]) for row in csv.reader(handle) if row[0] != "image")
    top5 = np.array([[int(c) for c in ranked.split()] for _, ranked in rows], np.int32)
    return top5[np.arange(n_images) % len(top5)]


def synthetic_predictions(original: np.ndarray, num_classes: int) -> dict[str, tuple[str, np.ndarray]]:
    """Name → (file name, array) of the 7 synthetic sets, deterministic (seed 8)."""
    rng = np.random.default_rng(8)
    n = len(original)
    resnet50, vgg16 = real_topk("resnet50", n), real_topk("vgg16", n)
    sets: dict[str, tuple[str, np.ndarray]] = {}
    for name, base, noise in (("resnet50-noisy-10", resnet50, 0.1), ("resnet50-noisy-30", resnet50, 0.3),
                              ("vgg16-noisy-20", vgg16, 0.2), ("vgg16-shuffled", vgg16, 0.0)):  # fmt: skip
        topk = base.copy()
        replace = rng.random(topk.shape) < noise
        topk[replace] = rng.integers(0, num_classes, int(replace.sum()))
        if name.endswith("shuffled"):
            topk = rng.permuted(topk, axis=1)
        sets[name] = ("topk.npy", _distinct_rows(topk, num_classes))
    for name, accuracy in (("oracle-60", 0.6), ("oracle-90", 0.9)):
        topk = rng.integers(0, num_classes, (n, 5)).astype(np.int32)
        right = rng.random(n) < accuracy
        topk[right, 0] = original[right]
        sets[name] = ("topk.npy", _distinct_rows(topk, num_classes))
    scores = rng.standard_normal((n, num_classes), dtype=np.float32)
    scores[np.arange(n)[:, None], resnet50] += np.array([6, 4, 3, 2, 1], np.float32)
    sets["resnet50-scores"] = ("scores.npy", scores)
    return sets


def _distinct_rows(topk: np.ndarray, num_classes: int) -> np.ndarray:
    """Replace repeated classes within a row by the next free ones (a ranking names each class once)."""
    topk = topk.copy()
    for j in range(1, topk.shape[1]):
        while True:
            repeated = (topk[:, j : j + 1] == topk[:, :j]).any(axis=1)
            if not repeated.any():
                break
            topk[repeated, j] = (topk[repeated, j] + 1) % num_classes
    return topk


def _register_prediction_sets(dataset: Dataset, log) -> None:
    from config.celery import app

    started = time.perf_counter()
    _, original = _dataset_arrays(dataset)
    num_classes = LabelClass.objects.filter(dataset=dataset).count()
    arrays = {name: ("topk.npy", real_topk(name, len(original))) for name in REAL_SETS}
    arrays.update(synthetic_predictions(original, num_classes))
    present = set(PredictionSet.objects.filter(dataset=dataset).values_list("name", flat=True))
    # The first evaluation of each set runs right here (eager) instead of waiting in the broker for a worker.
    app.conf.task_always_eager = True
    try:
        for name, (filename, array) in arrays.items():
            if name not in present:
                prediction_set_create(dataset=dataset, name=name, source=ContentFile(to_npy_bytes(array), filename))
    finally:
        app.conf.task_always_eager = False
    log(f"workload: {len(arrays) - len(present)} prediction sets registered in {time.perf_counter() - started:.1f} s")
