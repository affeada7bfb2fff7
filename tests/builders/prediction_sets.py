"""The tiny evaluation world (6 classes, 8 images, a reference label set, a model's top-3) and prediction files
in every upload format."""

from __future__ import annotations

import io
import json

import numpy as np

from annotator.core.import_sources import ImageSpec
from annotator.core.vocabulary import ClassSpec
from annotator.services.datasets import dataset_create, vocabulary_import
from annotator.services.image_import import images_import

# A tiny world: 6 classes, 8 images whose original labels are below.
ORIGINAL = [0, 1, 2, 3, 4, 5, 0, 1]
N_CLASSES = 6
# Valid labels per image (a reference set): image 1 also shows class 2, image 3 also class 4, image 7 nothing.
REFERENCE = [[0], [1, 2], [2], [3, 4], [4], [5], [0], []]
# A model's top-3 per image; top-1 is right on images 0, 2, 4, 5 and names a valid other label on 1 and 3.
TOP3 = [[0, 1, 2], [2, 1, 0], [2, 0, 1], [4, 3, 0], [4, 0, 1], [5, 0, 1], [1, 0, 2], [3, 1, 0]]


def image_key(position: int) -> str:
    return f"img_{position:05d}.JPEG"


KEYS_OF_TINY = [image_key(p) for p in range(len(ORIGINAL))]


def build_dataset(slug: str = "tiny", original: list[int] | None = None, n_classes: int = N_CLASSES):
    original = ORIGINAL if original is None else original
    dataset = dataset_create(slug=slug, name=slug.title())
    vocabulary_import(
        dataset=dataset,
        classes=[ClassSpec(index=i, key=f"n{i:08d}", name=f"class {i}") for i in range(n_classes)],
    )
    specs = [ImageSpec(key=image_key(p), path=None, label=str(c), source=f"test:{p}") for p, c in enumerate(original)]
    images_import(dataset=dataset, specs=specs, with_files=False)
    return dataset


def csv_bytes(rows: list[list[int]], keys: list[str] | None = None, header: str = "image,top5") -> bytes:
    keys = keys or [image_key(p) for p in range(len(rows))]
    lines = [header, *(f"{key},{' '.join(map(str, row))}" for key, row in zip(keys, rows, strict=True))]
    return ("\n".join(lines) + "\n").encode()


def jsonl_bytes(records: list[dict]) -> bytes:
    return ("\n".join(json.dumps(r) for r in records) + "\n").encode()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
