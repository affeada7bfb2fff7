"""Two small synthetic datasets with one vocabulary for the dataset comparison: the same models on both, a
reference label set on each (B with more multi-label images, as ImageNetV2 against ImageNet val), built
through the real services; and the raw arrays, so tests recompute every figure directly."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from django.core.files.base import ContentFile

from annotator.models import Dataset
from evaluation.models import PredictionSet, ReferenceLabelSet
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from evaluation.services.snapshots import metric_snapshots_refresh
from tests.builders.prediction_sets import build_dataset, csv_bytes

N_CLASSES = 12
MODELS = ("alpha", "beta", "gamma")
SKILL = {"alpha": 0.8, "beta": 0.6, "gamma": 0.45}  # chance of ranking a valid label first


@dataclass
class Side:
    dataset: Dataset
    original: np.ndarray  # N
    label_sets: list[list[int]]  # per image, the reference set (possibly empty)
    top5: dict[str, np.ndarray]  # model → N×5
    reference: ReferenceLabelSet | None
    sets: dict[str, PredictionSet]


def _world(rng: np.random.Generator, n: int, size_weights: list[float], empty: int) -> tuple[np.ndarray, list]:
    original = rng.integers(0, N_CLASSES, n)
    sizes = rng.choice(np.arange(1, len(size_weights) + 1), size=n, p=size_weights)
    label_sets = []
    for i, (c, size) in enumerate(zip(original, sizes, strict=True)):
        others = rng.permutation([k for k in range(N_CLASSES) if k != c])[: size - 1]
        label_sets.append([] if i < empty else sorted([int(c), *map(int, others)]))
    return original, label_sets


def _top5(rng: np.random.Generator, label_sets: list[list[int]], original: np.ndarray, skill: float) -> np.ndarray:
    rows = []
    for labels, c in zip(label_sets, original, strict=True):
        valid = labels or [int(c)]
        first = int(rng.choice(valid)) if rng.random() < skill else int(rng.integers(0, N_CLASSES))
        rest = [int(k) for k in rng.permutation(N_CLASSES) if k != first][:4]
        rows.append([first, *rest])
    return np.array(rows)


def build_side(slug: str, *, seed: int, n: int, size_weights: list[float], with_reference: bool = True,
               skill_shift: float = 0.0, empty: int = 2) -> Side:  # fmt: skip
    rng = np.random.default_rng(seed)
    original, label_sets = _world(rng, n, size_weights, empty)
    dataset = build_dataset(slug, original=[int(c) for c in original], n_classes=N_CLASSES)
    reference = None
    if with_reference:
        reference = reference_label_set_create(
            dataset=dataset, name="hand labels", source=ContentFile(json.dumps(label_sets).encode(), name="l.json")
        )
    top5, sets = {}, {}
    for model in MODELS:
        top5[model] = _top5(rng, label_sets, original, SKILL[model] + skill_shift)
        sets[model] = prediction_set_create(
            dataset=dataset, name=model, source=ContentFile(csv_bytes(top5[model].tolist()), name=f"{model}.csv")
        )
    return Side(dataset, original, label_sets, top5, reference, sets)


def build_sides() -> tuple[Side, Side]:
    """A (mostly single-label) and B (more multi-label images, the models a little weaker), both with reference
    labels and the same three models, their metric snapshots computed."""
    a = build_side("val", seed=1, n=60, size_weights=[0.8, 0.1, 0.05, 0.05])
    b = build_side("v2", seed=2, n=50, size_weights=[0.5, 0.25, 0.15, 0.1], skill_shift=-0.05)
    metric_snapshots_refresh()
    return a, b
