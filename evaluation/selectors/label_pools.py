"""Label sources and their label pools, read by evaluation views, APIs, services and tasks.

The label pool. Models are evaluated against a *label source*: an imported reference label set (e.g. ReaL)
or the dataset's live consensus. `label_pool_for` returns the label lists of a source aligned to dataset
order, how many images are settled in it, and a watermark naming its state; a prediction set is
re-evaluated whenever the watermark of one of its dataset's sources differs from those already evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from django.db.models import Max

from annotator.models import Dataset, Image, LabelClass
from annotator.selectors.consensus import settled_consensus_labels
from evaluation.core.arrays import from_npy_bytes
from evaluation.core.metrics import label_matrix
from evaluation.models import MetricSnapshot, ReferenceLabels, ReferenceLabelSet

CONSENSUS = MetricSnapshot.LabelSource.CONSENSUS
REFERENCE = MetricSnapshot.LabelSource.REFERENCE


@dataclass(frozen=True)
class DatasetOrder:
    """A dataset's images in dataset order (ascending position): ids, keys and original class index (-1: none)."""

    image_ids: np.ndarray
    keys: list[str]
    original: np.ndarray
    num_classes: int

    def __len__(self) -> int:
        return len(self.keys)


def dataset_order(dataset: Dataset) -> DatasetOrder:
    rows = list(
        Image.objects.filter(dataset=dataset).order_by("position").values_list("id", "key", "original_label__index")
    )
    n = len(rows)
    ids, keys, original = zip(*rows, strict=True) if rows else ((), (), ())
    return DatasetOrder(
        image_ids=np.fromiter(ids, dtype=np.int64, count=n),
        keys=list(keys),
        original=np.fromiter((-1 if c is None else c for c in original), dtype=np.int64, count=n),
        num_classes=LabelClass.objects.filter(dataset=dataset).count(),
    )


@dataclass
class LabelPool:
    """Label lists of one label source in dataset order, as CSR (`indptr`, `indices`)."""

    label_source: str
    reference_set_id: int | None
    indptr: np.ndarray
    indices: np.ndarray
    size: int
    watermark: str
    _matrices: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    def matrix(self, num_classes: int, n_images: int | None = None) -> np.ndarray:
        """Dense N×C bool matrix of the first `n_images` images (all by default), cached per shape."""
        n = self.indptr.size - 1 if n_images is None else n_images
        key = (num_classes, n)
        if key not in self._matrices:
            self._matrices[key] = label_matrix(self.csr(n), num_classes)
        return self._matrices[key]

    def csr(self, n_images: int) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, indices) of the first `n_images` images; images added after the labels were hold none."""
        indptr = self.indptr[: n_images + 1]
        if indptr.size < n_images + 1:
            indptr = np.concatenate([indptr, np.full(n_images + 1 - indptr.size, indptr[-1], dtype=indptr.dtype)])
        return indptr, self.indices[: indptr[-1]]


def label_pool_for(dataset: Dataset, *, reference_set: ReferenceLabelSet | None = None) -> LabelPool:
    """The label pool of a reference set, or of the live consensus when `reference_set` is None."""
    if reference_set is None:
        return consensus_label_pool(dataset)
    stored = ReferenceLabels.objects.values_list("indptr", "indices").get(reference_set=reference_set)
    return LabelPool(
        label_source=REFERENCE,
        reference_set_id=reference_set.pk,
        indptr=from_npy_bytes(stored[0]),
        indices=from_npy_bytes(stored[1]),
        # Every entry of a reference set is a settled judgement, the empty ones ("no valid class") included.
        size=reference_set.n_images,
        # Reference sets are immutable, so their state never changes.
        watermark=f"reference:{reference_set.pk}",
    )


def consensus_label_pool(dataset: Dataset) -> LabelPool:
    """The live consensus of `dataset` as a label pool (`annotator.models.Consensus`).

    Every image whose consensus is no longer pending (agreed, disputed or adjudicated) contributes its
    effective label set, as class indices (a reviewer's adjudicated set overrides the computed one); an
    empty set means "no valid label". Pending images and images a reviewer excluded (bad or ambiguous)
    hold an empty list and are not counted in `size`. The watermark is the latest consensus change and the
    number of consensus rows, so it changes whenever any image's consensus does. Four queries.
    """
    settled = settled_consensus_labels(dataset)
    index_of = dict(LabelClass.objects.filter(dataset=dataset).values_list("id", "index"))
    in_order = Image.objects.filter(dataset=dataset).order_by("position").values_list("id", flat=True)
    rank = {image_id: i for i, image_id in enumerate(in_order)}  # dataset order, as `dataset_order`
    lists: list[list[int]] = [[] for _ in range(len(rank))]
    for image_id, labels in zip(settled.image_ids, settled.labels, strict=True):
        lists[rank[image_id]] = sorted(index_of[c] for c in labels)
    n_images = len(rank)
    indptr = np.zeros(n_images + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(labels) for labels in lists])
    indices = np.fromiter((c for labels in lists for c in labels), dtype=np.int32, count=int(indptr[-1]))
    return LabelPool(
        label_source=CONSENSUS,
        reference_set_id=None,
        indptr=indptr,
        indices=indices,
        size=len(settled.image_ids),
        watermark=settled.watermark,
    )


def label_pools_for(dataset: Dataset) -> list[LabelPool]:
    """Every label source of a dataset: the live consensus, then the reference sets by name."""
    references = ReferenceLabelSet.objects.filter(dataset=dataset).order_by("name")
    return [consensus_label_pool(dataset), *(label_pool_for(dataset, reference_set=r) for r in references)]


# --- label sources shown on pages -------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelSourceChoice:
    label_source: str
    reference_set_id: int | None
    name: str

    @property
    def slug(self) -> str:
        return CONSENSUS if self.reference_set_id is None else f"reference-{self.reference_set_id}"

    def snapshot_filter(self, prefix: str = "") -> dict[str, object]:
        return {f"{prefix}label_source": self.label_source, f"{prefix}reference_set_id": self.reference_set_id}


def label_source_choices(dataset: Dataset) -> list[LabelSourceChoice]:
    references = ReferenceLabelSet.objects.filter(dataset=dataset).order_by("name").values_list("pk", "name")
    return [
        LabelSourceChoice(CONSENSUS, None, "Live consensus"),
        *(LabelSourceChoice(REFERENCE, pk, name) for pk, name in references),
    ]


def label_source_pick(dataset: Dataset, choices: list[LabelSourceChoice], slug: str | None) -> LabelSourceChoice:
    """The requested source, else the one whose snapshots cover the most images (the live consensus on a
    tie, or when nothing is evaluated yet). A dataset whose annotators have settled only part of it, next
    to a reference set covering all of it (the demo's ImageNet val: ReaL's raters saw 24,889 of 50,000
    images), opens on the reference; once the consensus covers as much, on the consensus."""
    by_slug = {choice.slug: choice for choice in choices}
    if slug in by_slug:
        return by_slug[slug]
    pools = (
        MetricSnapshot.objects.filter(prediction_set__dataset=dataset)
        .order_by()
        .values("label_source", "reference_set_id")
        .annotate(pool=Max("pool_size"))
        .values_list("label_source", "reference_set_id", "pool")
    )
    largest: dict[tuple[str, int | None], int] = {(source, reference): pool for source, reference, pool in pools}
    return max(choices, key=lambda c: largest.get((c.label_source, c.reference_set_id), 0), default=choices[0])
