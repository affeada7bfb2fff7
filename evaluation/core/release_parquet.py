"""A release's Parquet files, written with pyarrow while the release streams. No Django.

`images.parquet` holds what `images.jsonl` holds, one row per image in dataset order, with the classes as list
columns; `votes.parquet` holds `votes.csv`'s rows with typed columns. Both are written in row groups of
`ROW_GROUP` rows, so memory holds one group whatever the dataset's size.
"""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from evaluation.core.release_formats import VOTES_HEADER, ImageRecord

ROW_GROUP = 10_000
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


class ImagesParquetWriter:
    """`images.parquet`, fed one ImageRecord at a time; a row group is written every ROW_GROUP records."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._writer = pq.ParquetWriter(path, IMAGES_SCHEMA, compression=COMPRESSION)
        self._columns: dict[str, list[object]] = {name: [] for name in IMAGES_SCHEMA.names}

    def add(self, r: ImageRecord) -> None:
        c = self._columns
        c["key"].append(r.key)
        c["position"].append(r.position)
        original = r.original or (None, None, None)
        c["original_index"].append(original[0])
        c["original_wnid"].append(original[1])
        c["original_name"].append(original[2])
        c["class_indices"].append([ref[0] for ref in r.classes])
        c["class_wnids"].append([ref[1] for ref in r.classes])
        c["class_names"].append([ref[2] for ref in r.classes])
        c["support"].append(r.support)
        c["annotators"].append(r.annotators)
        c["agreement"].append(r.agreement)
        c["status"].append(r.status)
        c["adjudicated"].append(r.adjudicated)
        if len(c["key"]) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._columns["key"]:
            self._writer.write_batch(pa.RecordBatch.from_pydict(self._columns, schema=IMAGES_SCHEMA))
            for values in self._columns.values():
                values.clear()

    def close(self) -> None:
        """Write the last group and the footer (a file with no image still gets the schema)."""
        self._flush()
        self._writer.close()


def votes_csv_to_parquet(csv_path: str | os.PathLike[str], parquet_path: str | os.PathLike[str]) -> int:
    """`votes.parquet` from `votes.csv` (as `COPY … WITH (FORMAT csv, HEADER)` wrote it), read in 4 MiB blocks
    and written a row group per block; returns the number of rows."""
    options = pa_csv.ConvertOptions(column_types=VOTES_TYPES, strings_can_be_null=False)
    # A key may hold anything a file name may, newlines included, quoted as COPY quotes them.
    parse = pa_csv.ParseOptions(newlines_in_values=True)
    read = pa_csv.ReadOptions(block_size=4 << 20)
    reader = pa_csv.open_csv(csv_path, read_options=read, parse_options=parse, convert_options=options)
    rows = 0
    with pq.ParquetWriter(parquet_path, VOTES_SCHEMA, compression=COMPRESSION) as writer:
        for batch in reader:
            writer.write_batch(batch.select(VOTES_HEADER).cast(VOTES_SCHEMA))
            rows += batch.num_rows
    return rows
