"""The demo's ImageNet-scale dataset: ImageNet val with the ReaL raters' answers, for `make demo`.

`demo_imagenet_val_load()` builds "ImageNet val (ReaL raters)" from the public files in data/ through the
product's own services: the 50,000 validation images as file-less records, the 924,810 answers of ReaL's
85 raters as votes (with the experts' gold answers), a Dawid–Skene run with ReaL's prior strata (which
rewrites the consensus), the agreement figures, the published ReaL labels as a reference label set, three
models' top-5 predictions with their metrics, and a first release. Nobody is assigned to annotate it
(file-less images cannot be shown in the workbench); it feeds the leaderboard, the agreement dashboard,
the review queue and the releases.

Each step checks its own result and does nothing when it is there, so a second call writes nothing and a
call after a killed one completes what is missing. The steps that write much (images in batches, votes in
one transaction) are themselves safe to re-run. Progress is logged, one line per step with its time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from django.core.files import File

from annotator.core.import_sources import discover
from annotator.core.vocabulary import BUILTIN_IMAGENET, parse_vocabulary
from annotator.core.vote_formats import read_real_gold, read_real_votes
from annotator.models import AgreementSnapshot, Annotation, Dataset, DawidSkeneRun, Image, LabelClass
from annotator.services.agreement_figures import agreement_compute
from annotator.services.datasets import dataset_create, vocabulary_import
from annotator.services.dawid_skene import dawid_skene_run
from annotator.services.image_import import images_import
from annotator.services.votes_import import votes_import
from evaluation.models import PredictionSet, ReferenceLabelSet, Release
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from evaluation.services.releases import release_build, release_create
from evaluation.services.snapshots import metric_snapshots_refresh

logger = logging.getLogger(__name__)
T = TypeVar("T")

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
VAL_LABELS = DATA_DIR / "imagenet" / "val_ground_truth.csv"
REAL_DIR = DATA_DIR / "real"
PREDICTIONS_DIR = DATA_DIR / "predictions"

IMAGENET_VAL_SLUG = "imagenet-val-real"
IMAGENET_VAL_NAME = "ImageNet val (ReaL raters)"
IMAGENET_VAL_DESCRIPTION = (
    "The 50,000 ILSVRC2012 validation images (keys and original labels only, no files) with the answers of "
    "the 85 raters of ReaL (Beyer et al. 2020, 'Are we done with ImageNet?') on 24,889 of them, aggregated "
    "by Dawid-Skene with ReaL's prior strata; the published ReaL labels as a reference label set."
)
REFERENCE_NAME = "ReaL"
MODELS = {
    "resnet50": "torchvision ResNet-50, top-5 (ImageNetV2 repository)",
    "vgg16": "torchvision VGG-16, top-5 (ImageNetV2 repository)",
    "resnet18": "torchvision ResNet-18, top-5 (ImageNetV2 repository)",
}


@dataclass
class DemoLoadReport:
    """Each step's name → (seconds, whether it wrote anything)."""

    steps: dict[str, tuple[float, bool]] = field(default_factory=dict)

    @property
    def wrote(self) -> bool:
        return any(wrote for _, wrote in self.steps.values())

    @property
    def seconds(self) -> float:
        return sum(seconds for seconds, _ in self.steps.values())


def demo_imagenet_val_load() -> DemoLoadReport:
    """Build (or complete) the ImageNet val demo dataset; a call on a complete one writes nothing.

    Locking: none beyond the services' own; run it once at a time (the demo enqueues it once). A concurrent
    periodic Dawid–Skene or metrics run is harmless: those services lock per dataset or per set themselves.
    """
    report = DemoLoadReport()
    started = time.monotonic()
    dataset = _step(report, "dataset", _dataset)
    _step(report, "vocabulary", lambda: _vocabulary(dataset))
    _step(report, "images", lambda: _images(dataset, VAL_LABELS))
    _step(report, "votes", lambda: _votes(dataset))
    _step(report, "dawid-skene", lambda: _dawid_skene(dataset))
    _step(report, "agreement", lambda: _agreement(dataset))
    _step(report, "reference labels", lambda: _reference_labels(dataset))
    _step(report, "prediction sets", lambda: _prediction_sets(dataset, PREDICTIONS_DIR))
    _step(report, "metrics", lambda: _metrics(dataset))
    _step(report, "release", lambda: _release(dataset))
    logger.info(
        "demo %s: %s in %.1f s", dataset.slug, "loaded" if report.wrote else "already complete",
        time.monotonic() - started,
    )  # fmt: skip
    return report


def _step(report: DemoLoadReport, name: str, run: Callable[[], tuple[T, bool]], what: str = "imagenet val") -> T:
    started = time.monotonic()
    result, wrote = run()
    seconds = time.monotonic() - started
    report.steps[name] = (seconds, wrote)
    logger.info("demo %s: %-16s %s in %.2f s", what, name, "done" if wrote else "already there", seconds)
    return result


def _dataset() -> tuple[Dataset, bool]:
    dataset = Dataset.objects.filter(slug=IMAGENET_VAL_SLUG).first()
    if dataset is not None:
        return dataset, False
    created = dataset_create(
        slug=IMAGENET_VAL_SLUG,
        name=IMAGENET_VAL_NAME,
        description=IMAGENET_VAL_DESCRIPTION,
        aggregation="dawid_skene",
        ds_prior="imagenet_real",
    )
    return created, True


def _vocabulary(dataset: Dataset) -> tuple[None, bool]:
    classes = parse_vocabulary(BUILTIN_IMAGENET)
    if LabelClass.objects.filter(dataset=dataset).count() == len(classes):
        return None, False
    return None, vocabulary_import(dataset=dataset, classes=classes) > 0


def _images(dataset: Dataset, labels_csv: Path) -> tuple[None, bool]:
    specs = discover("flat", labels_csv=labels_csv)
    if Image.objects.filter(dataset=dataset).count() == len(specs):
        return None, False
    # Batches commit one by one: a killed import keeps whole batches and this call imports the rest.
    report = images_import(dataset=dataset, specs=specs, with_files=False, batch_size=5000)
    return None, report.created > 0


def _votes(dataset: Dataset) -> tuple[None, bool]:
    # votes_import is one transaction (votes, gold answers, consensus): any annotation means all are there.
    if Annotation.objects.filter(dataset=dataset).exists():
        return None, False
    votes = read_real_votes(REAL_DIR / "raters.npz")
    report = votes_import(dataset=dataset, votes=votes, gold=read_real_gold(REAL_DIR / "golden.npz"))
    return None, report.annotations_created > 0


def _dawid_skene(dataset: Dataset) -> tuple[None, bool]:
    # Skips itself when the latest run already saw these votes; the run rewrites the consensus.
    return None, dawid_skene_run(dataset=dataset, only_if_changed=True) is not None


def _agreement(dataset: Dataset) -> tuple[None, bool]:
    run = DawidSkeneRun.objects.filter(dataset=dataset).order_by("-created_at").first()
    snapshots = AgreementSnapshot.objects.filter(dataset=dataset)
    if run is not None:
        snapshots = snapshots.filter(created_at__gte=run.created_at)
    if snapshots.exists():
        return None, False
    agreement_compute(dataset=dataset)
    return None, True


def _reference_labels(dataset: Dataset) -> tuple[None, bool]:
    if ReferenceLabelSet.objects.filter(dataset=dataset, name=REFERENCE_NAME).exists():
        return None, False
    with (REAL_DIR / "real.json").open("rb") as handle:
        reference_label_set_create(
            dataset=dataset,
            name=REFERENCE_NAME,
            source=File(handle, name="real.json"),
            description="The published ReaL labels (google-research/reassessed-imagenet, Apache-2.0).",
        )
    return None, True


def _prediction_sets(dataset: Dataset, directory: Path) -> tuple[None, bool]:
    present = set(PredictionSet.objects.filter(dataset=dataset).values_list("name", flat=True))
    missing = [model for model in MODELS if model not in present]
    for model in missing:
        with (directory / f"{model}_top5.csv").open("rb") as handle:
            prediction_set_create(
                dataset=dataset, name=model, source=File(handle, name=f"{model}_top5.csv"), description=MODELS[model]
            )
    return None, bool(missing)


def _metrics(dataset: Dataset) -> tuple[None, bool]:
    # Appends a snapshot only for (set, label-pool state) pairs not evaluated yet.
    return None, bool(metric_snapshots_refresh(datasets=[dataset]))


def _release(dataset: Dataset) -> tuple[None, bool]:
    releases = Release.objects.filter(dataset=dataset)
    if releases.filter(state=Release.State.READY).exists():
        return None, False
    # A build left unfinished by a killed run is retaken by release_build once its claim is stale; until then
    # (or while the task release_create enqueued builds it) the call returns None.
    release = releases.filter(state=Release.State.BUILDING).first() or release_create(dataset=dataset)[0]
    if release_build(release_id=release.pk) is None:
        logger.info("demo imagenet val: release %s is being built elsewhere or its claim is not stale", release.pk)
        return None, False
    return None, True
