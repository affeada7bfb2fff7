"""A release's Parquet files: read back with pyarrow (and pandas when installed) and compared with the JSONL and
CSV files of the same release, which the other release tests check against hand-worked values."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evaluation.core.release_formats import VOTES_HEADER, ImageRecord
from evaluation.core.release_parquet import ROW_GROUP, VOTES_BLOCK, ImagesParquetWriter, votes_csv_to_parquet
from evaluation.models import Release
from evaluation.services.releases import release_storage
from tests.builders.releases import EXPECTED_REAL, built_release, voted_dataset

pytestmark = pytest.mark.django_db


def _read(release: Release, kind: str) -> bytes:
    with release_storage().open(release.files.get(kind=kind).storage_name, "rb") as handle:
        return handle.read()


def _table(release: Release, kind: str) -> pa.Table:
    return pq.read_table(io.BytesIO(_read(release, kind)))


def _jsonl_as_parquet_rows(record: dict) -> dict:
    """What images.parquet must hold for one images.jsonl record, worked out from the JSON alone."""
    original = record["original"] or {"index": None, "wnid": None, "name": None}
    return {
        "key": record["key"],
        "position": record["position"],
        "original_index": original["index"],
        "original_wnid": original["wnid"],
        "original_name": original["name"],
        "class_indices": [c["index"] for c in record["classes"]],
        "class_wnids": [c["wnid"] for c in record["classes"]],
        "class_names": [c["name"] for c in record["classes"]],
        "support": [c["support"] for c in record["classes"]],
        "annotators": record["annotators"],
        "agreement": record["agreement"],
        "status": record["status"],
        "adjudicated": record["adjudicated"],
    }


@pytest.fixture
def release(tmp_path, django_capture_on_commit_callbacks) -> Release:
    return built_release(voted_dataset(tmp_path), django_capture_on_commit_callbacks)


def test_images_parquet_holds_every_jsonl_record_with_classes_as_list_columns(release):
    table = _table(release, "parquet")
    jsonl = [json.loads(line) for line in _read(release, "jsonl").decode().splitlines()]
    assert table.num_rows == len(jsonl) == 8
    assert table.to_pylist() == [_jsonl_as_parquet_rows(r) for r in jsonl]
    assert table.column("class_indices").to_pylist() == EXPECTED_REAL
    assert table.schema.field("class_indices").type == pa.list_(pa.int32())
    assert table.schema.field("support").type == pa.list_(pa.float64())
    assert table.column("status").to_pylist()[6:] == ["pending", "original"]


def test_votes_parquet_holds_the_rows_of_votes_csv_with_typed_columns(release):
    table = _table(release, "votes_pq")
    rows = list(csv.DictReader(io.StringIO(_read(release, "votes").decode())))
    assert table.num_rows == len(rows) == release.n_votes == 28
    expected = [{**r, "position": int(r["position"]), "class_index": int(r["class_index"])} for r in rows]
    assert table.to_pylist() == expected
    assert table.schema.field("position").type == pa.int64() and table.schema.field("class_index").type == pa.int32()


def test_the_parquet_files_are_stored_hashed_listed_in_the_datasheet_and_zipped(release):
    files = {f.kind: f for f in release.files.all()}
    archive = zipfile.ZipFile(io.BytesIO(_read(release, "zip")))
    datasheet = _read(release, "datasheet").decode()
    for kind, name in (("parquet", "images.parquet"), ("votes_pq", "votes.parquet")):
        assert files[kind].filename == name and files[kind].content_type == "application/vnd.apache.parquet"
        assert archive.read(name) == _read(release, kind)
        assert name in datasheet and files[kind].sha256 in datasheet


def test_pandas_reads_the_parquet_files_as_the_jsonl_and_csv_read(release):
    pd = pytest.importorskip("pandas")
    images = pd.read_parquet(io.BytesIO(_read(release, "parquet")))
    jsonl = pd.read_json(io.BytesIO(_read(release, "jsonl")), lines=True)
    assert images["key"].tolist() == jsonl["key"].tolist()
    assert [list(v) for v in images["class_indices"]] == [[c["index"] for c in cs] for cs in jsonl["classes"]]
    assert images["annotators"].tolist() == jsonl["annotators"].tolist()
    votes = pd.read_parquet(io.BytesIO(_read(release, "votes_pq")))
    votes_csv = pd.read_csv(io.BytesIO(_read(release, "votes")))
    assert votes.astype({"class_index": "int64"}).equals(votes_csv.astype({"class_index": "int64"}))


def _record(position: int) -> ImageRecord:
    classes = [(c, f"n{c:08d}", f"class {c}") for c in range(position % 4)]
    return ImageRecord(
        key=f"img_{position:06d}.JPEG",
        position=position,
        original=classes[0] if classes else None,
        classes=classes,
        support=[0.5 + c / 10 for c in range(position % 4)],
        annotators=position % 6,
        agreement=None if position % 5 == 0 else position / 100_000,
        status="agreed",
        adjudicated=position % 7 == 0,
        companion="labelled",
    )


def test_the_images_writer_writes_a_row_group_per_batch_and_keeps_every_row(tmp_path):
    path = tmp_path / "images.parquet"
    writer = ImagesParquetWriter(path)
    n = 2 * ROW_GROUP + 3
    for position in range(n):
        writer.add(_record(position))
    writer.close()
    parquet = pq.ParquetFile(path)
    assert parquet.metadata.num_row_groups == 3 and parquet.metadata.num_rows == n
    table = parquet.read()
    assert table.column("position").to_pylist() == list(range(n))
    assert table.slice(ROW_GROUP + 7, 1).to_pylist()[0]["class_indices"] == list(range((ROW_GROUP + 7) % 4))
    assert table.column("agreement").null_count == len(range(0, n, 5))


def test_an_empty_release_still_gets_parquet_files_with_their_schema(tmp_path):
    ImagesParquetWriter(tmp_path / "images.parquet").close()
    (tmp_path / "votes.csv").write_text("key,position,class_index,class_wnid,annotator,answer\n")
    assert votes_csv_to_parquet(tmp_path / "votes.csv", tmp_path / "votes.parquet") == 0
    assert pq.read_table(tmp_path / "images.parquet").num_rows == 0
    assert pq.read_table(tmp_path / "votes.parquet").column_names[-1] == "answer"


def test_quoted_keys_with_commas_and_newlines_survive_the_votes_conversion(tmp_path):
    (tmp_path / "votes.csv").write_text(
        'key,position,class_index,class_wnid,annotator,answer\n"a,b\nc.jpg",3,7,n7,a1,maybe\n'
    )
    assert votes_csv_to_parquet(tmp_path / "votes.csv", tmp_path / "votes.parquet") == 1
    assert pq.read_table(tmp_path / "votes.parquet").to_pylist() == [
        {"key": "a,b\nc.jpg", "position": 3, "class_index": 7, "class_wnid": "n7", "annotator": "a1", "answer": "maybe"}
    ]


def test_the_numpy_split_of_votes_csv_gives_what_pyarrows_csv_reader_gives_over_many_blocks(tmp_path):
    pa_csv = pytest.importorskip("pyarrow.csv")
    lines = ["key,position,class_index,class_wnid,annotator,answer"]
    lines += [f"img {p:07d}.jpg,{p * 13},{p % 1000},n{p % 1000:08d},a{p % 7:012x},{('yes', 'no', 'maybe')[p % 3]}"
              for p in range(90_000)]  # fmt: skip
    (tmp_path / "votes.csv").write_text("\n".join(lines) + "\n")
    assert (tmp_path / "votes.csv").stat().st_size > 3 * VOTES_BLOCK
    assert votes_csv_to_parquet(tmp_path / "votes.csv", tmp_path / "votes.parquet") == 90_000
    parquet = pq.ParquetFile(tmp_path / "votes.parquet")
    assert parquet.metadata.num_row_groups > 3
    reference = pa_csv.read_csv(tmp_path / "votes.csv").select(VOTES_HEADER)
    assert parquet.read().equals(reference.cast(parquet.schema_arrow))


def test_a_votes_file_that_is_not_six_fields_a_line_is_refused(tmp_path):
    (tmp_path / "votes.csv").write_text("key,position,class_index,class_wnid,annotator,answer\nk,1,2,n2,a1\n")
    with pytest.raises(ValueError, match="six fields"):
        votes_csv_to_parquet(tmp_path / "votes.csv", tmp_path / "votes.parquet")
