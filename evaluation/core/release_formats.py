"""Writers of a release's files, streaming rows from iterators to binary file objects. No Django.

Every writer keeps at most one batch of text in memory, so a release of any size is written with bounded
memory. `HashingWriter` wraps the destination and computes the size and SHA-256 of what passes through.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from evaluation.core.release_rules import ADJUDICATED, EMPTY, EXCLUDED, LABELLED, ORIGINAL, PENDING

FLUSH_EVERY = 2000
ZIP_CHUNK = 1 << 20

ClassRef = tuple[int, str, str]  # index, wnid (key), name

CSV_HEADER = [
    "key", "position", "original_index", "original_wnid", "original_name", "class_indices", "class_wnids",
    "class_names", "support", "annotators", "agreement", "status", "adjudicated",
]  # fmt: skip
VOTES_HEADER = ["key", "position", "class_index", "class_wnid", "annotator", "answer"]


class BinarySink(Protocol):
    """What the writers need of their destination: a binary file, or a HashingWriter in front of one."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...

    def flush(self) -> None: ...


class HashingWriter:
    """A write-only binary stream that hashes and counts what it passes on to `out`."""

    def __init__(self, out: BinarySink) -> None:
        self.out = out
        self.size = 0
        self._sha = hashlib.sha256()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._sha.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        """Nothing to do: whoever opened `out` closes it (zipfile wants a close method on its stream)."""

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    @classmethod
    def of_file(cls, path: str | os.PathLike[str]) -> HashingWriter:
        """The size and hash of a file already written, as if it had been written through a HashingWriter."""
        hashed = cls(_Discard())
        with open(path, "rb") as handle:
            while chunk := handle.read(ZIP_CHUNK):
                hashed.write(chunk)
        return hashed


class _Discard:
    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        return len(data)

    def flush(self) -> None:
        pass


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs twice as much, 50,000 times
class ImageRecord:
    key: str
    position: int
    original: ClassRef | None
    classes: list[ClassRef]
    support: list[float | None]
    annotators: int
    agreement: float | None
    status: str
    adjudicated: bool
    companion: str  # pending / excluded / original / labelled / empty


@dataclass
class ReleaseCounts:
    n_images: int = 0
    n_labelled: int = 0
    n_empty: int = 0
    n_pending: int = 0
    n_excluded: int = 0
    n_adjudicated: int = 0
    n_original: int = 0  # not answered, given their original label
    n_labels: int = 0  # valid (image, class) pairs of the consensus; original labels not counted
    n_multi_label: int = 0
    agreement_sum: float = 0.0
    n_with_agreement: int = 0
    set_sizes: dict[int, int] = field(default_factory=dict)

    def add(self, record: ImageRecord) -> None:
        self.n_images += 1
        if record.companion == ORIGINAL:
            self.n_original += 1
            return
        self.n_labels += len(record.classes)
        if record.companion == LABELLED:
            self.n_labelled += 1
            self.n_multi_label += len(record.classes) > 1
        elif record.companion == EMPTY:
            self.n_empty += 1
        elif record.companion == PENDING:
            self.n_pending += 1
        elif record.companion == EXCLUDED:
            self.n_excluded += 1
        self.n_adjudicated += record.status in (ADJUDICATED, EXCLUDED)
        if record.companion in (LABELLED, EMPTY):
            self.set_sizes[len(record.classes)] = self.set_sizes.get(len(record.classes), 0) + 1
            if record.agreement is not None:
                self.agreement_sum += record.agreement
                self.n_with_agreement += 1

    @property
    def multi_label_share(self) -> float | None:
        return self.n_multi_label / self.n_labelled if self.n_labelled else None

    @property
    def mean_agreement(self) -> float | None:
        return self.agreement_sum / self.n_with_agreement if self.n_with_agreement else None


class _Buffered:
    def __init__(self, out: BinarySink) -> None:
        self.out = out
        self.parts: list[str] = []

    def _push(self, text: str) -> None:
        self.parts.append(text)
        if len(self.parts) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.out.write("".join(self.parts).encode())
            self.parts.clear()


class RealJsonWriter(_Buffered):
    """A JSON list in dataset order of lists of class indices, spaced as the published ReaL `real.json`."""

    def __init__(self, out: BinarySink) -> None:
        super().__init__(out)
        self.first = True

    def add(self, indices: list[int]) -> None:
        self._push(("[" if self.first else ", ") + "[" + ", ".join(map(str, indices)) + "]")
        self.first = False

    def close(self) -> None:
        self._push("[]" if self.first else "]")
        self.flush()


class StatusJsonWriter(RealJsonWriter):
    """The ReaL file's companion: one word per image (labelled, empty, pending, excluded, original)."""

    def add_status(self, word: str) -> None:
        self._push(("[" if self.first else ", ") + json.dumps(word))
        self.first = False


class JsonlWriter(_Buffered):
    """One JSON object per line, as `image_record_dict` gives it, assembled from fragments each class encodes
    once: twice as fast as `json.dumps` per record, the writer's main cost at 50k images."""

    def __init__(self, out: BinarySink) -> None:
        super().__init__(out)
        self._class_json: dict[ClassRef, str] = {}

    def _ref(self, c: ClassRef) -> str:
        fragment = self._class_json.get(c)
        if fragment is None:
            fragment = self._class_json[c] = f'"index": {c[0]}, "wnid": {_dumps(c[1])}, "name": {_dumps(c[2])}'
        return fragment

    def add(self, r: ImageRecord) -> None:
        original = "{" + self._ref(r.original) + "}" if r.original else "null"
        classes = ", ".join(
            "{" + self._ref(c) + ', "support": ' + _number(s) + "}" for c, s in zip(r.classes, r.support, strict=True)
        )
        self._push(
            f'{{"key": {_dumps(r.key)}, "position": {r.position}, "original": {original}, "classes": [{classes}], '
            f'"annotators": {r.annotators}, "agreement": {_number(r.agreement)}, "status": {_dumps(r.status)}, '
            f'"adjudicated": {"true" if r.adjudicated else "false"}}}\n'
        )


_dumps = json.JSONEncoder(ensure_ascii=False).encode


def _number(value: float | None) -> str:
    return "null" if value is None else _dumps(value)


class CsvWriter(_Buffered):
    def __init__(self, out: BinarySink, header: list[str] = CSV_HEADER) -> None:
        super().__init__(out)
        self.text = io.StringIO()
        self.writer = csv.writer(self.text, lineterminator="\n")
        self.writer.writerow(header)
        self.rows = 0

    def add(self, record: ImageRecord) -> None:
        original = record.original or ("", "", "")
        self.writer.writerow(
            [
                record.key, record.position, *original,
                " ".join(str(c[0]) for c in record.classes),
                " ".join(c[1] for c in record.classes),
                "|".join(c[2] for c in record.classes),
                " ".join("" if s is None else f"{s:.6g}" for s in record.support),
                record.annotators,
                "" if record.agreement is None else f"{record.agreement:.6g}",
                record.status, int(record.adjudicated),
            ]
        )  # fmt: skip
        self.rows += 1
        if self.rows % FLUSH_EVERY == 0:
            self.flush()

    def flush(self) -> None:
        self.out.write(self.text.getvalue().encode())
        self.text.seek(0)
        self.text.truncate()


def image_record_dict(record: ImageRecord) -> dict[str, Any]:
    def ref(c: ClassRef) -> dict[str, Any]:
        return {"index": c[0], "wnid": c[1], "name": c[2]}

    return {
        "key": record.key,
        "position": record.position,
        "original": ref(record.original) if record.original else None,
        "classes": [ref(c) | {"support": s} for c, s in zip(record.classes, record.support, strict=True)],
        "annotators": record.annotators,
        "agreement": record.agreement,
        "status": record.status,
        "adjudicated": record.adjudicated,
    }


class RecordSink(Protocol):
    """A writer of whole records that owns its file, such as `release_parquet.ImagesParquetWriter`."""

    def add(self, record: ImageRecord) -> None: ...

    def close(self) -> None: ...


@dataclass
class ImageFileWriters:
    """The per-image files (four text files and, when given, a record sink: the Parquet file), written in one
    pass over the images in dataset order."""

    real: RealJsonWriter
    status: StatusJsonWriter
    jsonl: JsonlWriter
    csv: CsvWriter
    table: RecordSink | None = None
    counts: ReleaseCounts = field(default_factory=ReleaseCounts)

    @classmethod
    def to(
        cls,
        real: BinarySink,
        status: BinarySink,
        jsonl: BinarySink,
        csv_out: BinarySink,
        *,
        table: RecordSink | None = None,
    ) -> ImageFileWriters:
        return cls(RealJsonWriter(real), StatusJsonWriter(status), JsonlWriter(jsonl), CsvWriter(csv_out), table)

    def add_all(self, records: Iterable[ImageRecord]) -> None:
        table = self.table
        for record in records:
            self.real.add([c[0] for c in record.classes])
            self.status.add_status(record.companion)
            self.jsonl.add(record)
            self.csv.add(record)
            if table is not None:
                table.add(record)
            self.counts.add(record)

    def close(self) -> None:
        self.real.close()
        self.status.close()
        self.jsonl.flush()
        self.csv.flush()
        if self.table is not None:
            self.table.close()


def write_zip(
    out: HashingWriter | BinaryIO, members: Iterable[tuple[str, Callable[[], BinaryIO]]], compresslevel: int = 6
) -> None:
    """A zip of `members` (name, opener), each copied in 1 MiB chunks; `out` need not be seekable."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as archive:
        for name, opener in members:
            with opener() as source, archive.open(name, "w", force_zip64=True) as member:
                shutil.copyfileobj(source, member, ZIP_CHUNK)
