"""Reading label sets and original labels from files, for the offline evaluator (pure Python + numpy, no Django).

- A ReaL-format JSON list (`[[490], [361, 171], [], …]`), or a release (its zip, or the folder it unzips to)
  whose `real.json`, `real_status.json` and `images.csv` are read.
- Image keys in dataset order: a release's `images.csv` (by position), else, for a bare ReaL JSON of 50,000
  entries, the ImageNet val convention `ILSVRC2012_val_%08d.JPEG`.
- Original single labels: an `image,wnid` (or `image,index`) CSV, as `import_dataset` reads it, or a release's
  `images.csv` (its `original_index` column).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from annotator.core.import_sources import ImportSourceError, discover
from evaluation.core.reference_formats import ParsedReferenceLabels, ReferenceFormatError, parse_real_json

IMAGENET_VAL_IMAGES = 50_000
IMAGENET_VAL_KEY = "ILSVRC2012_val_{:08d}.JPEG"
RELEASE_FILES = ("real.json", "real_status.json", "images.csv")


class LabelFileError(ValueError):
    """Input the evaluator cannot use; the message says which file and what is wrong."""


@dataclass(frozen=True)
class LabelSource:
    """Label sets in dataset order, with what the files say about the images."""

    name: str
    labels: ParsedReferenceLabels
    keys: list[str] | None  # image keys in dataset order, when known
    original: np.ndarray | None  # original class index per image (-1: none), from a release's images.csv
    statuses: dict[str, int] = field(default_factory=dict)  # real_status.json's words and their counts

    @property
    def n_images(self) -> int:
        return self.labels.n_images


def read_labels(path: Path, *, num_classes: int) -> LabelSource:
    """A ReaL JSON file, a release zip, or a release folder."""
    if path.is_dir():
        files = {name: (path / name).read_bytes() for name in RELEASE_FILES if (path / name).is_file()}
        return _release(files, path.name, num_classes)
    if not path.is_file():
        raise LabelFileError(f"{path}: no such file or folder")
    if zipfile.is_zipfile(path):
        return _release(_zip_members(path), path.name, num_classes)
    labels = _real_json(path.read_bytes(), path.name, num_classes)
    keys = None
    if labels.n_images == IMAGENET_VAL_IMAGES:
        keys = [IMAGENET_VAL_KEY.format(i) for i in range(1, IMAGENET_VAL_IMAGES + 1)]
    return LabelSource(path.name, labels, keys, None)


def _zip_members(path: Path) -> dict[str, bytes]:
    """The release files of a zip, at its root or in one folder (as a zip re-made from an unzipped release)."""
    with zipfile.ZipFile(path) as archive:
        by_name: dict[str, list[str]] = {}
        for member in archive.namelist():
            by_name.setdefault(PurePosixPath(member).name, []).append(member)
        found = {}
        for name in RELEASE_FILES:
            members = sorted(by_name.get(name, []), key=lambda m: m.count("/"))
            if members:
                found[name] = archive.read(members[0])
        return found


def _release(files: dict[str, bytes], name: str, num_classes: int) -> LabelSource:
    if "real.json" not in files:
        raise LabelFileError(f"{name}: no real.json in this release")
    labels = _real_json(files["real.json"], f"{name}/real.json", num_classes)
    statuses: dict[str, int] = {}
    if "real_status.json" in files:
        words = _json(files["real_status.json"], f"{name}/real_status.json")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise LabelFileError(f"{name}/real_status.json: expected a JSON list of words")
        if len(words) != labels.n_images:
            raise LabelFileError(
                f"{name}/real_status.json has {len(words):,} entries, real.json {labels.n_images:,}: not one release"
            )
        statuses = dict(Counter(words))
    keys = original = None
    if "images.csv" in files:
        keys, original = _release_images(files["images.csv"], f"{name}/images.csv", labels.n_images, num_classes)
    return LabelSource(name, labels, keys, original, statuses)


def _json(data: bytes, name: str) -> object:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LabelFileError(f"{name}: not a JSON document ({error})") from None


def _real_json(data: bytes, name: str, num_classes: int) -> ParsedReferenceLabels:
    entries = _json(data, name)
    try:
        return parse_real_json(data, n_images=len(entries) if isinstance(entries, list) else 0, num_classes=num_classes)
    except ReferenceFormatError as error:
        raise LabelFileError(f"{name}: {error.message}") from None


def _release_images(data: bytes, name: str, n_images: int, num_classes: int) -> tuple[list[str], np.ndarray]:
    """Keys and original class indices in dataset order (ascending position) from a release's images.csv."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    needed = {"key", "position", "original_index"}
    if not needed <= set(reader.fieldnames or ()):
        raise LabelFileError(f"{name}: expected the columns {', '.join(sorted(needed))} of a release's images.csv")
    rows = []
    for line, row in enumerate(reader, start=2):
        try:
            position = int(row["position"])
            original = int(row["original_index"]) if row["original_index"].strip() else -1
        except ValueError:
            raise LabelFileError(f"{name}, line {line}: position and original_index must be integers") from None
        if not -1 <= original < num_classes:
            raise LabelFileError(f"{name}, line {line}: original class {original} out of range 0..{num_classes - 1}")
        rows.append((position, row["key"], original))
    if len(rows) != n_images:
        raise LabelFileError(f"{name} lists {len(rows):,} images, real.json {n_images:,}: not one release")
    rows.sort()
    return [key for _, key, _ in rows], np.array([original for _, _, original in rows], dtype=np.int64)


def read_original(path: Path, keys: Sequence[str] | None, *, class_keys: Sequence[str]) -> np.ndarray:
    """Original class index per image in dataset order (-1: none) from an `image,wnid` CSV or a release's
    images.csv. Every listed image must be one of `keys`, and every key listed once."""
    head = path.read_bytes()[:4096].decode("utf-8-sig", errors="replace")
    first_line = head.splitlines()[0] if head else ""
    if {"key", "position", "original_index"} <= {c.strip() for c in first_line.split(",")}:
        if keys is None:
            raise LabelFileError(f"{path.name}: original labels by image key need the labels' image keys")
        release_keys, original = _release_images(path.read_bytes(), path.name, len(keys), len(class_keys))
        by_key: dict[str, int] = dict(zip(release_keys, original.tolist(), strict=True))
        return _aligned(by_key, keys, path.name)
    if keys is None:
        raise LabelFileError(
            f"{path.name} names images by key, but the labels give no keys: use a release (its images.csv) or "
            f"a ReaL JSON of the {IMAGENET_VAL_IMAGES:,} ImageNet val images"
        )
    try:
        specs = discover("flat", labels_csv=path)
    except ImportSourceError as error:
        raise LabelFileError(str(error)) from None
    index_of = {key: index for index, key in enumerate(class_keys)}
    by_key = {}
    for spec in specs:
        token = spec.label or ""
        if token in index_of:
            by_key[spec.key] = index_of[token]
        elif token.isdigit() and int(token) < len(class_keys):
            by_key[spec.key] = int(token)
        elif token:
            raise LabelFileError(f"{spec.source}: unknown class {token!r} (not a key or index of the vocabulary)")
        else:
            by_key[spec.key] = -1
    return _aligned(by_key, keys, path.name)


def _aligned(by_key: dict[str, int], keys: Sequence[str], name: str) -> np.ndarray:
    known = set(keys)
    unknown = [key for key in by_key if key not in known]
    if unknown:
        raise LabelFileError(f"{name}: {len(unknown):,} unknown image key(s), e.g. {unknown[0]!r}")
    missing = [key for key in keys if key not in by_key]
    if missing:
        raise LabelFileError(f"{name}: {len(missing):,} image(s) of the labels are missing, e.g. {missing[0]!r}")
    return np.fromiter((by_key[key] for key in keys), dtype=np.int64, count=len(keys))
