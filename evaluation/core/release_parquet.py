"""A release's Parquet files, written with pyarrow while the release streams. No Django.

`images.parquet` holds what `images.jsonl` holds, one row per image in dataset order, with the classes as list
columns; `votes.parquet` holds `votes.csv`'s rows with typed columns. Both are written a row group at a time
(`ROW_GROUP` images; one block of `votes.csv`), so memory holds one group whatever the dataset's size.

Columns are assembled from numpy buffers (`pa.Array.from_buffers`) rather than with `pa.array` or pyarrow's
CSV reader: either of those initialises pyarrow's compute-kernel registry and memory pools, some 30–85 MB of
resident memory in the worker, which would break the release's 200 MB budget on its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from evaluation.core.release_formats import VOTES_HEADER, ImageRecord

T = TypeVar("T")
ROW_GROUP = 10_000
VOTES_BLOCK = 1 << 20  # bytes of votes.csv per row group (some 16,000 votes)
COMPRESSION = "zstd"

IMAGES_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
        pa.field("original_index", pa.int32()),
        pa.field("original_wnid", pa.string()),
        pa.field("original_name", pa.string()),
        pa.field("class_indices", pa.list_(pa.int32()), nullable=False),
        pa.field("class_wnids", pa.list_(pa.string()), nullable=False),
        pa.field("class_names", pa.list_(pa.string()), nullable=False),
        pa.field("support", pa.list_(pa.float64()), nullable=False),
        pa.field("annotators", pa.int32(), nullable=False),
        pa.field("agreement", pa.float64()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("adjudicated", pa.bool_(), nullable=False),
    ]
)
VOTES_TYPES = {
    "key": pa.string(),
    "position": pa.int64(),
    "class_index": pa.int32(),
    "class_wnid": pa.string(),
    "annotator": pa.string(),
    "answer": pa.string(),
}
VOTES_SCHEMA = pa.schema([pa.field(name, VOTES_TYPES[name], nullable=False) for name in VOTES_HEADER])
_CODED = pa.dictionary(pa.int32(), pa.string())
# How the numpy split hands the votes to the writer: the same columns, three of them dictionary-encoded.
_VOTES_CODED = pa.schema(
    [
        pa.field(f.name, _CODED if f.name in ("key", "class_wnid", "answer") else f.type, nullable=False)
        for f in VOTES_SCHEMA
    ]
)


def _validity(valid: np.ndarray) -> pa.Buffer | None:
    return None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))


def _numbers(values: Sequence[float | int | None], dtype: type[np.generic], arrow_type: pa.DataType) -> pa.Array:
    if None not in values:  # the common case, converted in one C loop
        return pa.Array.from_buffers(arrow_type, len(values), [None, pa.py_buffer(np.array(values, dtype))])
    valid = np.array([v is not None for v in values], bool)
    data = np.array([0 if v is None else v for v in values], dtype)
    nulls = len(values) - int(valid.sum())
    return pa.Array.from_buffers(arrow_type, len(values), [_validity(valid), pa.py_buffer(data)], null_count=nulls)


def _offsets(lengths: np.ndarray) -> pa.Buffer:
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.py_buffer(offsets)


def _strings(values: Sequence[str | None]) -> pa.Array:
    if None in values:
        valid = np.array([v is not None for v in values], bool)
        encoded = [b"" if v is None else v.encode() for v in values]
    else:
        valid, encoded = np.ones(len(values), bool), [v.encode() for v in values]  # type: ignore[union-attr]
    lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
    buffers = [_validity(valid), _offsets(lengths), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers, null_count=len(values) - int(valid.sum()))


def _lists(lists: Sequence[Sequence[object]], child: pa.Array) -> pa.Array:
    lengths = np.fromiter(map(len, lists), np.int64, len(lists))
    return pa.Array.from_buffers(pa.list_(child.type), len(lists), [None, _offsets(lengths)], children=[child])


def _flat(lists: Sequence[Sequence[T]]) -> list[T]:
    return [value for values in lists for value in values]


def _bools(values: Sequence[bool]) -> pa.Array:
    bits = np.packbits(np.fromiter(values, bool, len(values)), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


class ImagesParquetWriter:
    """`images.parquet`, fed one ImageRecord at a time; a row group is written every ROW_GROUP records."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._writer = pq.ParquetWriter(path, IMAGES_SCHEMA, compression=COMPRESSION)
        self._records: list[ImageRecord] = []

    def add(self, record: ImageRecord) -> None:
        self._records.append(record)
        if len(self._records) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        records, self._records = self._records, []
        if not records:
            return
        originals = [r.original or (None, None, None) for r in records]
        classes = [r.classes for r in records]
        supports = [r.support for r in records]
        columns = [
            _strings([r.key for r in records]),
            _numbers([r.position for r in records], np.int64, pa.int64()),
            _numbers([o[0] for o in originals], np.int32, pa.int32()),
            _strings([o[1] for o in originals]),
            _strings([o[2] for o in originals]),
            _lists(classes, _numbers([c[0] for c in _flat(classes)], np.int32, pa.int32())),
            _lists(classes, _strings([c[1] for c in _flat(classes)])),
            _lists(classes, _strings([c[2] for c in _flat(classes)])),
            _lists(supports, _numbers(_flat(supports), np.float64, pa.float64())),
            _numbers([r.annotators for r in records], np.int32, pa.int32()),
            _numbers([r.agreement for r in records], np.float64, pa.float64()),
            _strings([r.status for r in records]),
            _bools([r.adjudicated for r in records]),
        ]
        self._writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=IMAGES_SCHEMA))

    def close(self) -> None:
        """Write the last group and the footer (a file with no image still gets the schema)."""
        self._flush()
        self._writer.close()


def votes_csv_to_parquet(csv_path: str | os.PathLike[str], parquet_path: str | os.PathLike[str]) -> int:
    """`votes.parquet` from `votes.csv` as `COPY … WITH (FORMAT csv, HEADER)` wrote it; returns the row count.

    COPY quotes a value only when it holds a comma, a quote or a line break. A file without any quote is
    split with numpy, a block of lines at a time; at the first quote the file is written again with pyarrow's
    CSV reader, which handles quoting (unusual image or class keys) and costs more memory.
    """
    try:
        return _write_votes(parquet_path, _VOTES_CODED, _plain_csv_batches(csv_path))
    except _Quoted:
        return _write_votes(parquet_path, VOTES_SCHEMA, _quoted_csv_batches(csv_path))


class _Quoted(Exception):
    pass


def _write_votes(parquet_path: str | os.PathLike[str], schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> int:
    rows = 0
    # Without the Arrow schema in the file, dictionary-encoded columns read back as the plain strings they
    # stand for (Parquet stores them as dictionary-encoded UTF-8 either way).
    with pq.ParquetWriter(parquet_path, schema, compression=COMPRESSION, store_schema=False) as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def _plain_csv_batches(csv_path: str | os.PathLike[str]) -> Iterator[pa.RecordBatch]:
    with open(csv_path, "rb") as handle:
        handle.readline()  # the header
        rest = b""
        while block := handle.read(VOTES_BLOCK):
            if b'"' in block:
                raise _Quoted
            block = rest + block
            end = block.rfind(b"\n") + 1
            rest = block[end:]
            if end:
                yield _plain_csv_batch(block[:end])
        if rest:
            yield _plain_csv_batch(rest + b"\n")


def _plain_csv_batch(lines: bytes) -> pa.RecordBatch:
    """One block of votes.csv lines (no quotes) as a record batch. Rows come sorted by image, so the key and
    the class key are dictionary-encoded from the first row of each image and of each class; the answer from
    its first letter."""
    data = np.frombuffer(lines, np.uint8)
    ends = np.flatnonzero((data == ord(",")) | (data == ord("\n")))  # six per line: five commas, a line break
    width = len(VOTES_HEADER)
    if len(ends) % width or not np.all(data[ends[width - 1 :: width]] == ord("\n")):
        raise ValueError("votes.csv: a line without six fields")
    n = len(ends) // width
    stops = ends.reshape(n, width).astype(np.int32)
    starts = np.empty_like(stops)
    starts[:, 1:] = stops[:, :-1] + 1
    starts[1:, 0] = stops[:-1, -1] + 1
    starts[:1, 0] = 0
    position = _parsed_integers(data, starts[:, 1], stops[:, 1])
    class_index = _parsed_integers(data, starts[:, 2], stops[:, 2]).astype(np.int32)
    new_image = np.r_[True, position[1:] != position[:-1]]
    image_rows = np.flatnonzero(new_image)
    _, class_rows, class_of_row = np.unique(class_index, return_index=True, return_inverse=True)
    answer = np.searchsorted(_ANSWER_LETTERS, data[starts[:, 5]])
    lengths = stops[:, 5] - starts[:, 5]
    if not np.array_equal(_ANSWER_LENGTHS[np.minimum(answer, 2)], lengths) or answer.max(initial=0) > 2:
        raise ValueError("votes.csv: an answer that is not yes, no or maybe")
    columns = [
        _dictionary(np.cumsum(new_image) - 1, _gathered_strings(data, starts[image_rows, 0], stops[image_rows, 0])),
        pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(position)]),
        pa.Array.from_buffers(pa.int32(), n, [None, pa.py_buffer(class_index)]),
        _dictionary(class_of_row, _gathered_strings(data, starts[class_rows, 3], stops[class_rows, 3])),
        _gathered_strings(data, starts[:, 4], stops[:, 4]),
        _dictionary(answer, _answer_dictionary()),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=_VOTES_CODED)


# Sorted first letters of the answers, the answer's length for each, and the dictionary in that order.
_ANSWER_LETTERS = np.array([ord("m"), ord("n"), ord("y")], np.uint8)
_ANSWER_LENGTHS = np.array([5, 2, 3])


def _answer_dictionary() -> pa.Array:
    return _gathered_strings(np.frombuffer(b"maybenoyes", np.uint8), np.array([0, 5, 7]), np.array([5, 7, 10]))


def _dictionary(indices: np.ndarray, dictionary: pa.Array) -> pa.Array:
    codes = pa.Array.from_buffers(pa.int32(), len(indices), [None, pa.py_buffer(indices.astype(np.int32))])
    return pa.DictionaryArray.from_arrays(codes, dictionary, safe=False)


def _gathered_strings(data: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> pa.Array:
    """The string column whose values are `data[starts[i]:stops[i]]`, copied with one fancy index."""
    lengths = stops - starts
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    where = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data[where])])


def _parsed_integers(data: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    lengths = stops - starts
    if len(lengths) and (lengths.min() < 1 or lengths.max() > 18):
        raise ValueError("votes.csv: an integer field empty or too long")
    values = np.zeros(len(lengths), np.int64)
    for k in range(int(lengths.max(initial=0))):
        more = lengths > k
        digits = data[np.where(more, starts + k, 0)].astype(np.int64) - ord("0")
        if ((digits < 0) | (digits > 9))[more].any():
            raise ValueError("votes.csv: an integer field with a non-digit")
        values = np.where(more, values * 10 + digits, values)
    return values


def _quoted_csv_batches(csv_path: str | os.PathLike[str]) -> Iterator[pa.RecordBatch]:
    import pyarrow.csv as pa_csv

    options = pa_csv.ConvertOptions(column_types=VOTES_TYPES, strings_can_be_null=False)
    parse = pa_csv.ParseOptions(newlines_in_values=True)
    read = pa_csv.ReadOptions(block_size=VOTES_BLOCK, use_threads=False)
    for batch in pa_csv.open_csv(csv_path, read_options=read, parse_options=parse, convert_options=options):
        yield batch.select(VOTES_HEADER).cast(VOTES_SCHEMA)
