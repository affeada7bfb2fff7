"""Discover the images of an import from the layouts researchers have. Pure Python, no Django.

Each layout yields `ImageSpec`s: the image key (its file name), the file to read (or None for
file-less records), the raw label token (a wnid/key or a class index, still unresolved) and
where it came from (`file:line`) so that errors can name it.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from annotator.core import bounded_json
from annotator.core.bounded_json import JsonTooDeepError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
LAYOUTS = ("flat", "imagefolder", "imagenetv2", "manifest")


class ImportSourceError(ValueError):
    """The import source is malformed; the message names the file and line."""


@dataclass(frozen=True)
class ImageSpec:
    key: str
    path: Path | None
    label: str | None
    source: str


def discover(
    layout: str, *, root: Path | None = None, labels_csv: Path | None = None, manifest: Path | None = None
) -> list[ImageSpec]:
    """The images of one import, in no particular order; keys are unique (checked here)."""
    if layout == "flat":
        specs = list(_flat(root, labels_csv))
    elif layout == "imagefolder":
        specs = list(_tree(_require(root, "--images"), numeric=False))
    elif layout == "imagenetv2" and root is None and labels_csv is not None:
        # ImageNetV2 without its images: file-less records from `image,wnid` rows keyed `<class index>/<id>.jpeg`.
        specs = list(_flat(None, labels_csv))
    elif layout == "imagenetv2":
        specs = list(_tree(_require(root, "--images"), numeric=True))
    elif layout == "manifest":
        specs = list(_manifest(_require(manifest, "--manifest"), root))
    else:
        raise ImportSourceError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    _check_unique_keys(specs)
    return specs


def _require(value: Path | None, option: str) -> Path:
    if value is None:
        raise ImportSourceError(f"this layout needs {option}")
    return value


def _is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _flat(root: Path | None, labels_csv: Path | None) -> Iterator[ImageSpec]:
    """A flat folder plus a ground-truth CSV; or the CSV alone (file-less records) when root is None."""
    files = {p.name: p for p in sorted(root.iterdir()) if p.is_file() and _is_image_file(p)} if root else {}
    by_stem = {Path(name).stem: name for name in files}
    labelled: set[str] = set()
    if labels_csv is not None:
        for line_number, image, label in _read_label_csv(labels_csv):
            source = f"{labels_csv.name}:{line_number}"
            name = image if image in files else by_stem.get(image, image)
            labelled.add(name)
            if root is None:
                yield ImageSpec(key=name, path=None, label=label, source=source)
            elif name in files:
                yield ImageSpec(key=name, path=files[name], label=label, source=source)
            else:
                # Listed but absent: reported by the importer as a missing file, like a corrupt one.
                yield ImageSpec(key=name, path=root / name, label=label, source=source)
    elif root is None:
        raise ImportSourceError("the flat layout needs --images, --labels, or both")
    for name, path in files.items():
        if name not in labelled:
            yield ImageSpec(key=name, path=path, label=None, source=name)


def _read_label_csv(path: Path) -> Iterator[tuple[int, str, str]]:
    """Rows of `image,wnid`, `image,index`, `image,label` or Kaggle's `ImageId,PredictionString`."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        if len(header) < 2:
            raise ImportSourceError(f"{path.name}:1: expected a header such as 'image,wnid'")
        kaggle = header[1] == "predictionstring"
        for line_number, row in enumerate(reader, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) < 2:
                raise ImportSourceError(f"{path.name}:{line_number}: expected two columns, got {row!r}")
            label = row[1].split()[0] if kaggle and row[1].strip() else row[1].strip()
            yield line_number, row[0].strip(), label


def _tree(root: Path, *, numeric: bool) -> Iterator[ImageSpec]:
    """ImageFolder (subfolders named by wnid; key: the file name) or ImageNetV2 (subfolders 0..999 = class index;
    key: `<class index>/<file name>`, the key of ImageNetV2's own label and prediction files, so a tree import
    and a file-less one from `matched_frequency_labels.csv` name the same images alike)."""
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if numeric and not class_dir.name.isdigit():
            raise ImportSourceError(f"{class_dir.name}/: ImageNetV2 folders are named by class index (0..999)")
        for path in sorted(class_dir.iterdir()):
            if path.is_file() and _is_image_file(path):
                source = f"{class_dir.name}/{path.name}"
                yield ImageSpec(key=source if numeric else path.name, path=path, label=class_dir.name, source=source)


def _manifest(manifest: Path, root: Path | None) -> Iterator[ImageSpec]:
    """CSV (`path[,label]`) or JSONL (`{"path": ..., "label": ...}`); paths relative to the import root."""
    base = (root or manifest.parent).resolve()
    if manifest.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        rows = _manifest_jsonl(manifest)
    else:
        rows = _manifest_csv(manifest)
    for line_number, raw_path, label in rows:
        source = f"{manifest.name}:{line_number}"
        path = _inside(base, raw_path, source)
        yield ImageSpec(key=path.name, path=path, label=label, source=source)


def _manifest_csv(manifest: Path) -> Iterator[tuple[int, str, str | None]]:
    with manifest.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        if not header or header[0] not in {"path", "file", "image", "filename"}:
            raise ImportSourceError(f"{manifest.name}:1: expected a header 'path[,label]'")
        for line_number, row in enumerate(reader, start=2):
            if not row or not row[0].strip():
                continue
            label = row[1].strip() if len(row) > 1 and row[1].strip() else None
            yield line_number, row[0].strip(), label


def _manifest_jsonl(manifest: Path) -> Iterator[tuple[int, str, str | None]]:
    with manifest.open(encoding="utf-8-sig") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = bounded_json.loads(line)
            except json.JSONDecodeError as exc:
                raise ImportSourceError(f"{manifest.name}:{line_number}: invalid JSON ({exc.msg})") from exc
            except JsonTooDeepError as exc:
                raise ImportSourceError(f"{manifest.name}:{line_number}: invalid JSON ({exc})") from exc
            if not isinstance(record, dict) or not isinstance(record.get("path"), str):
                raise ImportSourceError(f"{manifest.name}:{line_number}: expected an object with a string 'path'")
            label = record.get("label")
            yield line_number, record["path"], None if label is None else str(label)


def _inside(base: Path, raw_path: str, source: str) -> Path:
    """Resolve a manifest path, refusing anything outside the import root (path traversal)."""
    candidate = Path(raw_path)
    resolved = (candidate if candidate.is_absolute() else base / candidate).resolve()
    if os.path.commonpath([resolved, base]) != str(base):
        raise ImportSourceError(f"{source}: path {raw_path!r} is outside the import root {base}")
    return resolved


def _check_unique_keys(specs: list[ImageSpec]) -> None:
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.key in seen:
            raise ImportSourceError(f"{spec.source}: image {spec.key!r} appears twice (also at {seen[spec.key]})")
        seen[spec.key] = spec.source
