"""Parse class vocabularies in the formats researchers have. Pure Python, no Django.

Supported (detected from content):
- ImageNetV2 `class_info.json`: `[{"cid": 0, "wnid": "n01440764", "synset": [...], "gloss": "..."}, ...]`
- Keras `imagenet_class_index.json`: `{"0": ["n01440764", "tench"], ...}`
- `LOC_synset_mapping.txt`: `n01440764 tench, Tinca tinca` per line, index = line order
- a plain text list: one class name per line, index = line order, key = the name
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotator.core import bounded_json
from annotator.core.bounded_json import JsonTooDeepError

WNID = re.compile(r"^n\d{8}$")
BUILTIN_IMAGENET = Path(__file__).resolve().parents[2] / "data" / "imagenet" / "class_info.json"


class VocabularyError(ValueError):
    """The vocabulary file is malformed; the message names the file and line or entry."""


@dataclass(frozen=True)
class ClassSpec:
    index: int
    key: str
    name: str
    synonyms: list[str] = field(default_factory=list)
    gloss: str = ""


def parse_vocabulary(path: Path) -> list[ClassSpec]:
    text = path.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("[") or stripped.startswith("{"):
        try:
            data = bounded_json.loads(text)
        except json.JSONDecodeError as exc:
            raise VocabularyError(f"{path.name}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
        except JsonTooDeepError as exc:
            raise VocabularyError(f"{path.name}: invalid JSON: {exc}") from exc
        classes = _from_class_info(data, path.name) if isinstance(data, list) else _from_keras_index(data, path.name)
    else:
        classes = _from_lines(text.splitlines(), path.name)
    _check_unique(classes, path.name)
    return classes


def _from_class_info(data: list[Any], filename: str) -> list[ClassSpec]:
    classes = []
    for position, entry in enumerate(data):
        if not isinstance(entry, dict) or "wnid" not in entry:
            raise VocabularyError(f"{filename}: entry {position} has no 'wnid'")
        names = entry.get("synset") or [entry["wnid"]]
        index = entry.get("cid", position)
        if not isinstance(index, int):
            raise VocabularyError(f"{filename}: entry {position} has a non-integer 'cid'")
        classes.append(
            ClassSpec(
                index=index, key=entry["wnid"], name=names[0], synonyms=list(names[1:]), gloss=entry.get("gloss", "")
            )
        )
    return sorted(classes, key=lambda c: c.index)


def _from_keras_index(data: dict[str, Any], filename: str) -> list[ClassSpec]:
    classes = []
    for raw_index, value in data.items():
        if not str(raw_index).isdigit() or not isinstance(value, list) or len(value) < 2:
            raise VocabularyError(f'{filename}: entry {raw_index!r} is not of the form "0": ["n01440764", "tench"]')
        classes.append(ClassSpec(index=int(raw_index), key=value[0], name=value[1].replace("_", " ")))
    return sorted(classes, key=lambda c: c.index)


def _from_lines(lines: list[str], filename: str) -> list[ClassSpec]:
    classes: list[ClassSpec] = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        first, _, rest = line.partition(" ")
        if WNID.match(first):
            names = [n.strip() for n in rest.split(",") if n.strip()] or [first]
            classes.append(ClassSpec(index=len(classes), key=first, name=names[0], synonyms=names[1:]))
        else:
            classes.append(ClassSpec(index=len(classes), key=line, name=line))
    if not classes:
        raise VocabularyError(f"{filename}: no classes found")
    return classes


def _check_unique(classes: list[ClassSpec], filename: str) -> None:
    seen_keys: set[str] = set()
    for expected, spec in enumerate(classes):
        if spec.index != expected:
            raise VocabularyError(
                f"{filename}: class indices must run 0..{len(classes) - 1}; found {spec.index} at {expected}"
            )
        if spec.key in seen_keys:
            raise VocabularyError(f"{filename}: class key {spec.key!r} appears twice")
        seen_keys.add(spec.key)
