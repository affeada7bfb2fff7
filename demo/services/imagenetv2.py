"""The demo's second ImageNet-vocabulary dataset: ImageNetV2 MatchedFrequency, compared with ImageNet val.

`demo_imagenetv2_load()` builds "ImageNetV2 MatchedFrequency" from data/imagenetv2/ through the product's own
services: its 10,000 images as file-less records (keys `<class index>/<image id>.jpeg` and original labels),
the top-5 of the same three models as ImageNet val's demo, and their metrics. No multi-label labels of
ImageNetV2 exist and none are made up here: the comparison page says so and how to get some. Like the ImageNet
val demo, each step checks its own result and does nothing when it is there.
"""

from __future__ import annotations

import logging
import time

from annotator.models import Dataset
from annotator.services.datasets import dataset_create
from demo.services.imagenet_val import (
    DATA_DIR,
    IMAGENET_VAL_SLUG,
    DemoLoadReport,
    _images,
    _metrics,
    _prediction_sets,
    _step,
    _vocabulary,
)

logger = logging.getLogger(__name__)

IMAGENETV2_DIR = DATA_DIR / "imagenetv2"
IMAGENETV2_SLUG = "imagenetv2-matched-frequency"
IMAGENETV2_NAME = "ImageNetV2 MatchedFrequency"
IMAGENETV2_DESCRIPTION = (
    "ImageNetV2 MatchedFrequency (Recht et al. 2019, 'Do ImageNet classifiers generalize to ImageNet?'): 10,000 "
    "new test images collected to replicate ImageNet val; keys and original labels only, no files, no "
    "multi-label labels (none are public)."
)
COMPARISON_PATH = f"/datasets/{IMAGENET_VAL_SLUG}/compare/{IMAGENETV2_SLUG}/"


def demo_imagenetv2_load() -> DemoLoadReport:
    """Build (or complete) the ImageNetV2 demo dataset; a call on a complete one writes nothing. Locking: as
    `demo.services.imagenet_val.demo_imagenet_val_load`."""
    report = DemoLoadReport()
    started = time.monotonic()
    what = "imagenetv2"
    dataset = _step(report, "dataset", _dataset, what)
    _step(report, "vocabulary", lambda: _vocabulary(dataset), what)
    _step(report, "images", lambda: _images(dataset, IMAGENETV2_DIR / "matched_frequency_labels.csv"), what)
    _step(report, "prediction sets", lambda: _prediction_sets(dataset, IMAGENETV2_DIR / "predictions"), what)
    _step(report, "metrics", lambda: _metrics(dataset), what)
    logger.info(
        "demo %s: %s in %.1f s", dataset.slug, "loaded" if report.wrote else "already complete",
        time.monotonic() - started,
    )  # fmt: skip
    return report


def _dataset() -> tuple[Dataset, bool]:
    dataset = Dataset.objects.filter(slug=IMAGENETV2_SLUG).first()
    if dataset is not None:
        return dataset, False
    return dataset_create(slug=IMAGENETV2_SLUG, name=IMAGENETV2_NAME, description=IMAGENETV2_DESCRIPTION), True
