"""Every upload format parses to the same arrays, and every problem is named with its row or line."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from evaluation.core.prediction_formats import ParsedPredictions, PredictionFormatError, parse_predictions

KEYS = ["a.jpg", "b.jpg", "c.jpg"]
NUM_CLASSES = 4
# Full scores per image in dataset order, and the ranking they imply.
SCORES = np.array([[0.5, 0.9, 0.1, 0.2], [0.1, 0.2, 0.3, 0.8], [0.7, 0.0, 0.05, 0.6]], dtype=np.float32)
TOPK = np.array([[1, 0], [3, 2], [0, 3]], dtype=np.int32)


def parse(data: bytes | io.BytesIO, filename: str, k: int = 2, keys: list[str] = KEYS) -> ParsedPredictions:
    return parse_predictions(data, filename, image_keys=keys, num_classes=NUM_CLASSES, k=k)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def jsonl(*records: object) -> bytes:
    return "\n".join(json.dumps(record) for record in records).encode()


def format_error(data: bytes, filename: str, k: int = 2) -> PredictionFormatError:
    with pytest.raises(PredictionFormatError) as caught:
        parse(data, filename, k=k)
    return caught.value


# Rows deliberately out of dataset order: parsing must put them back.
CSV = b"image,top5\na.jpg,1 0\nc.jpg,0 3\nb.jpg,3 2\n"
CSV_WITH_SCORES = b"image,topk,scores\na.jpg,1 0,0.9 0.5\nc.jpg,0 3,0.7 0.6\nb.jpg,3 2,0.8 0.3\n"
JSONL = jsonl(
    {"image": "c.jpg", "classes": [0, 3]},
    {"image": "a.jpg", "classes": [1, 0]},
    {"image": "b.jpg", "classes": [3, 2]},
)


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (CSV, "preds.csv"),
        (CSV.replace(b"top5", b"classes"), "preds.csv"),
        (b"\xef\xbb\xbf" + CSV.replace(b"\n", b"\r\n"), "preds.csv"),  # Excel: BOM and CRLF
        (b"image,top5\n\na.jpg,1 0 2\nc.jpg,0 3 1\n\nb.jpg,3 2 1\n", "preds.csv"),  # blank lines, k cut to 2
        (CSV_WITH_SCORES, "preds.csv"),
        (JSONL, "preds.jsonl"),
        (JSONL, "preds.txt"),  # content sniffed when the extension says nothing
        (npy(TOPK.astype(np.int64)), "preds.npy"),
        (npy(SCORES), "preds.npy"),
        (npy(SCORES.astype(np.float64)), "logits.bin"),
        (npz(topk=TOPK), "preds.npz"),
        (npz(logits=SCORES), "preds.npz"),
        (npz(classes=TOPK[[2, 0, 1]], scores=SCORES[[2, 0, 1]], images=np.array(KEYS)[[2, 0, 1]]), "p.npz"),
        (npz(top5=TOPK[[1, 0, 2]], keys=np.array([b"b.jpg", b"a.jpg", b"c.jpg"])), "p.npz"),
    ],
)
def test_every_format_parses_to_the_same_topk_in_dataset_order(data: bytes, filename: str) -> None:
    parsed = parse(data, filename)
    assert parsed.topk.dtype == np.int32
    np.testing.assert_array_equal(parsed.topk, TOPK)


def test_top1_only_uploads_give_a_single_column() -> None:
    for data, filename in ((b"image,top5\na.jpg,1\nb.jpg,3\nc.jpg,0\n", "p.csv"), (npy(TOPK[:, :1]), "p.npy")):
        np.testing.assert_array_equal(parse(data, filename, k=5).topk, TOPK[:, :1])


def test_a_file_object_parses_like_bytes() -> None:
    np.testing.assert_array_equal(parse(io.BytesIO(CSV), "p.csv").topk, parse(CSV, "p.csv").topk)


def test_full_score_arrays_are_kept_as_float32_in_dataset_order() -> None:
    for parsed in (
        parse(npy(SCORES.astype(np.float64)), "p.npy"),
        parse(npz(scores=SCORES[[2, 1, 0]], images=np.array(KEYS)[[2, 1, 0]]), "p.npz"),
    ):
        assert parsed.scores is not None and parsed.scores.dtype == np.float32
        np.testing.assert_array_equal(parsed.scores, SCORES)
        np.testing.assert_array_equal(parsed.topk_scores, np.array([[0.9, 0.5], [0.8, 0.3], [0.7, 0.6]], np.float32))


def test_index_only_formats_have_no_scores() -> None:
    for parsed in (parse(CSV, "p.csv"), parse(JSONL, "p.jsonl"), parse(npy(TOPK), "p.npy")):
        assert parsed.scores is None and parsed.topk_scores is None


def test_scores_aligned_with_listed_classes_are_kept_per_class_slot() -> None:
    parsed = parse(CSV_WITH_SCORES, "p.csv")
    assert parsed.scores is None  # only two of four classes were scored
    np.testing.assert_array_equal(parsed.topk_scores, np.array([[0.9, 0.5], [0.8, 0.3], [0.7, 0.6]], np.float32))


def test_text_rows_listing_every_class_with_scores_give_the_full_score_matrix() -> None:
    records = [
        {"image": key, "classes": np.argsort(-row, kind="stable").tolist(), "scores": np.sort(row)[::-1].tolist()}
        for key, row in zip(KEYS, SCORES.astype(float), strict=True)
    ]
    parsed = parse(jsonl(*records), "p.jsonl", k=4)
    np.testing.assert_array_equal(parsed.scores, SCORES)
    np.testing.assert_array_equal(parsed.topk[:, :2], TOPK)


def test_the_format_is_reported() -> None:
    assert parse(CSV, "p.csv").format == "csv"
    assert parse(JSONL, "p.txt").format == "jsonl"
    assert parse(npy(TOPK), "p.npy").format == "npy"
    assert parse(npz(topk=TOPK), "upload").format == "npz"


# Errors ------------------------------------------------------------------------------------------------


def test_unknown_image_keys_name_their_rows_and_lines() -> None:
    error = format_error(b"image,top5\na.jpg,1 0\nz.jpg,0 3\nb.jpg,3 2\nc.jpg,0 3\n", "p.csv")
    assert error.rows == [2]
    assert "unknown image keys — row 2 (line 3): unknown image 'z.jpg'" in error.message


def test_missing_image_keys_are_named() -> None:
    error = format_error(b"image,top5\na.jpg,1 0\n", "p.csv")
    assert "missing image keys" in error.message
    assert "'b.jpg'" in error.message and "'c.jpg'" in error.message and "2 missing" in error.message


def test_a_header_only_file_misses_every_image() -> None:
    assert "3 missing" in format_error(b"image,top5\n", "p.csv").message


def test_an_image_listed_twice_names_both_lines() -> None:
    error = format_error(b"image,top5\na.jpg,1 0\nb.jpg,3 2\nc.jpg,0 3\na.jpg,1 0\n", "p.csv")
    assert error.rows == [4]
    assert "duplicate rows — row 4 (line 5): image 'a.jpg' again (first at row 1 (line 2))" in error.message


def test_duplicate_keys_in_an_npz_name_rows_with_their_array_index() -> None:
    error = format_error(npz(topk=TOPK, images=np.array(["a.jpg", "b.jpg", "a.jpg"])), "p.npz")
    assert error.rows == [3]
    assert "row 3 (index 2): image 'a.jpg' again (first at row 1 (index 0))" in error.message


@pytest.mark.parametrize(
    ("data", "filename", "rows", "detail"),
    [
        (b"image,top5\na.jpg,1 0\nb.jpg,3 4\nc.jpg,0 3\n", "p.csv", [2], "row 2 (line 3): class 4"),
        (b"image,top5\na.jpg,1 -1\nb.jpg,3 2\nc.jpg,0 3\n", "p.csv", [1], "row 1 (line 2): class -1"),
        (jsonl({"image": "a.jpg", "classes": [9, 0]}), "p.jsonl", [1], "row 1 (line 1): class 9"),
        (npy(np.array([[1, 0], [3, 2], [0, 400]])), "p.npy", [3], "row 3 (index 2): class 400"),
    ],
)
def test_class_indices_out_of_range_are_refused(data: bytes, filename: str, rows: list[int], detail: str) -> None:
    error = format_error(data, filename)
    assert error.rows == rows
    assert "out of range 0..3" in error.message and detail in error.message


@pytest.mark.parametrize(
    ("data", "filename", "rows"),
    [
        (b"image,top5\na.jpg,1 0\nb.jpg,3 3\nc.jpg,0 3\n", "p.csv", [2]),
        (jsonl({"image": "a.jpg", "classes": [1, 1]}), "p.jsonl", [1]),
        (npy(np.array([[1, 0], [3, 2], [0, 0]])), "p.npy", [3]),
    ],
)
def test_a_class_repeated_within_a_row_is_refused(data: bytes, filename: str, rows: list[int]) -> None:
    error = format_error(data, filename)
    assert error.rows == rows and "listed twice" in error.message


@pytest.mark.parametrize(
    ("data", "filename", "rows"),
    [
        (b"image,top5,scores\na.jpg,1 0,0.9 nan\nb.jpg,3 2,0.8 0.3\nc.jpg,0 3,0.7 0.6\n", "p.csv", [1]),
        (b'{"image": "a.jpg", "classes": [1, 0], "scores": [Infinity, 0.5]}', "p.jsonl", [1]),
        (b"image,top5,scores\na.jpg,1 0,1e39 0.5\n", "p.csv", [1]),  # finite as float64, not as float32
        (npy(np.where(np.arange(12).reshape(3, 4) == 5, np.nan, SCORES)), "p.npy", [2]),
        (npy(np.where(np.arange(12).reshape(3, 4) == 9, 1e300, SCORES.astype(np.float64))), "p.npy", [3]),
        (npz(scores=np.where(np.arange(12).reshape(3, 4) == 0, -np.inf, SCORES)), "p.npz", [1]),
    ],
)
def test_nan_or_infinite_scores_are_refused(data: bytes, filename: str, rows: list[int]) -> None:
    error = format_error(data, filename)
    assert error.rows == rows and "finite" in error.message


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (npy(TOPK[:2]), "p.npy", "3 rows"),
        (npy(TOPK[:, 0]), "p.npy", "2-D"),
        (npy(SCORES[:, :3]), "p.npy", "4 columns"),
        (npy(np.zeros((3, 5), dtype=np.int64)), "p.npy", "only 4"),
        (npy(np.zeros((3, 0), dtype=np.int64)), "p.npy", "at least one class"),
        (npy(np.zeros((3, 4), dtype=bool)), "p.npy", "numeric"),
        (npz(topk=TOPK, images=np.array(KEYS[:2])), "p.npz", "3 strings"),
        (npz(topk=TOPK.astype(np.float32)), "p.npz", "integers"),
        (b"image,top5\na.jpg,0 1 2 3 0\n", "p.csv", "only 4"),
    ],
)
def test_arrays_of_the_wrong_shape_are_refused(data: bytes, filename: str, message: str) -> None:
    assert message in format_error(data, filename).message


def test_ragged_rows_name_the_lines_that_differ_from_the_rest() -> None:
    error = format_error(b"image,top5\na.jpg,1 0\nb.jpg,3\nc.jpg,0 3\n", "p.csv")
    assert error.rows == [2] and "most list 2" in error.message and "row 2 (line 3)" in error.message
    error = format_error(jsonl(*[{"image": k, "classes": [0, 1, 2][: 2 + (k == "c.jpg")]} for k in KEYS]), "p.jsonl")
    assert error.rows == [3] and "3 classes" in error.message


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"", "empty"),
        (b"name,top5\na.jpg,1 0\n", "bad CSV header"),
        (b"image,top5,score\na.jpg,1 0,0.3\n", "bad CSV header"),
        (b"image,top5,classes\na.jpg,1 0,1 0\n", "bad CSV header"),
        (b"a.jpg,1 0\nb.jpg,3 2\n", "bad CSV header"),
    ],
)
def test_a_bad_csv_header_is_refused_on_line_1(data: bytes, detail: str) -> None:
    error = format_error(data, "p.csv")
    assert error.rows == [] and detail in error.message  # the header is no row
    assert "(line 1)" in error.message or not data


@pytest.mark.parametrize("token", ["1.5", "x", "1_0", "\u0663", "1e3"])
def test_non_integer_class_tokens_name_their_line(token: str) -> None:
    data = f"image,top5\na.jpg,1 0\nb.jpg,3 {token}\nc.jpg,0 3\n".encode()
    error = format_error(data, "p.csv")
    assert error.rows == [2] and "row 2 (line 3)" in error.message and "not a valid class index" in error.message


def test_non_numeric_scores_name_their_line() -> None:
    error = format_error(b"image,top5,scores\na.jpg,1 0,0.9 high\n", "p.csv")
    assert error.rows == [1] and "row 1 (line 2): 'high' is not a valid score" in error.message


def test_scores_must_align_with_classes_and_descend() -> None:
    misaligned = format_error(b"image,top5,scores\na.jpg,1 0,0.9\n", "p.csv")
    assert misaligned.rows == [1] and "align" in misaligned.message
    rising = format_error(b"image,top5,scores\na.jpg,1 0,0.9 0.5\nb.jpg,3 2,0.1 0.3\nc.jpg,0 3,1 1\n", "p.csv")
    assert rising.rows == [2] and "non-increasing" in rising.message


def test_a_csv_row_with_the_wrong_number_of_fields_names_its_line() -> None:
    error = format_error(b"image,top5\na.jpg,1 0\nb.jpg,3 2,extra\n", "p.csv")
    assert error.rows == [2] and "row 2 (line 3): 3 fields" in error.message


def test_text_that_is_not_utf8_names_its_line() -> None:
    error = format_error(b"image,top5\na.jpg,1 0\n\xff.jpg,3 2\n", "p.csv")
    assert error.rows == [] and "not UTF-8 text (line 3 of the file)" in error.message


@pytest.mark.parametrize(
    ("line", "detail"),
    [
        (b'{"image": "b.jpg", "classes": [3, 2]', "invalid JSON"),
        (b'["b.jpg", [3, 2]]', "JSON object"),
        (b'{"image": "b.jpg", "classes": [3, true]}', "list of integers"),
        (b'{"image": "b.jpg", "classes": [3.0, 2]}', "list of integers"),
        (b'{"image": "b.jpg", "classes": [3, 2], "scores": ["x", 1]}', "list of numbers"),
        (b'{"image": "b.jpg", "classes": [3, 2], "score": [1, 0]}', "unknown field"),
        (b'{"image": 7, "classes": [3, 2]}', "string 'image'"),
        (b'{"image": "b.jpg", "top5": [3, 2], "classes": [3, 2]}', "exactly one of"),
    ],
)
def test_malformed_jsonl_lines_are_named(line: bytes, detail: str) -> None:
    data = b'{"image": "a.jpg", "classes": [1, 0]}\n\n' + line + b'\n{"image": "c.jpg", "classes": [0, 3]}\n'
    error = format_error(data, "p.jsonl")
    assert error.rows == [2] and "row 2 (line 3)" in error.message and detail in error.message  # a blank line


def test_jsonl_scores_on_some_lines_only_are_refused() -> None:
    data = jsonl({"image": "a.jpg", "classes": [1, 0], "scores": [2, 1]}, {"image": "b.jpg", "classes": [3, 2]})
    error = format_error(data, "p.jsonl")
    assert error.rows == [2] and "row 2 (line 2)" in error.message and "some rows only" in error.message


def test_many_offending_rows_are_listed_up_to_five_with_a_total() -> None:
    keys = [f"{i}.jpg" for i in range(8)]
    data = "image,top5\n" + "".join(f"{key},7 0\n" for key in keys)
    with pytest.raises(PredictionFormatError) as caught:
        parse(data.encode(), "p.csv", keys=keys)
    assert caught.value.rows == [1, 2, 3, 4, 5]
    assert "(8 rows in all)" in caught.value.message


def test_object_arrays_are_refused_rather_than_unpickled() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([[1, 0], [3, 2], [0, 3]], dtype=object), allow_pickle=True)
    assert "pickled" in format_error(buffer.getvalue(), "p.npy").message
    buffer = io.BytesIO()
    np.savez(buffer, topk=TOPK, images=np.array(KEYS, dtype=object))
    assert "pickled" in format_error(buffer.getvalue(), "p.npz").message


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"image,top5\na.jpg,1 0\n", "p.npy"),
        (npy(TOPK)[:60], "p.npy"),  # header intact, data truncated
        (b"\x93NUMPY\x01\x00garbage", "p.npy"),
        (b"PK\x03\x04 not really a zip", "p.npz"),
        (b"plain text", "p.npz"),
    ],
)
def test_files_that_are_not_valid_npy_or_npz_are_refused(data: bytes, filename: str) -> None:
    assert "not a valid" in format_error(data, filename).message


def test_an_npz_that_unpacks_far_beyond_the_dataset_size_is_refused() -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, topk=TOPK, images=np.array(KEYS), scores=np.zeros((3, 300_000), np.float32))
    assert len(buffer.getvalue()) < 20_000  # small upload, 1.2 MB unpacked
    assert "too large" in format_error(buffer.getvalue(), "p.npz").message


def test_npz_array_names_are_checked() -> None:
    assert "unknown array(s) preds" in format_error(npz(preds=TOPK), "p.npz").message
    assert "only one of" in format_error(npz(topk=TOPK, classes=TOPK), "p.npz").message
    assert "neither" in format_error(npz(images=np.array(KEYS)), "p.npz").message


def test_npz_classes_that_disagree_with_its_scores_are_refused() -> None:
    swapped = TOPK.copy()
    swapped[1] = [2, 3]
    error = format_error(npz(topk=swapped, scores=SCORES), "p.npz")
    assert error.rows == [2] and "row 2 (index 1)" in error.message and "disagree" in error.message


# One bad row, the second image of the dataset, in every format: each names it "row 2", and adds the file line
# (text) or the array index (arrays). `.npy` said "row 1" (0-based) where CSV said "line 3" (with the header).
UNKNOWN_SECOND = {
    "csv": (b"image,top5\na.jpg,1 0\nzz.jpg,3 2\nc.jpg,0 3\n", "p.csv", "row 2 (line 3)"),
    "csv with blank lines": (b"image,top5\n\na.jpg,1 0\n\nzz.jpg,3 2\nc.jpg,0 3\n", "p.csv", "row 2 (line 5)"),
    "jsonl": (jsonl(*[{"image": k, "classes": [0, 1]} for k in ("a.jpg", "zz.jpg", "c.jpg")]), "j", "row 2 (line 2)"),
    "npz": (npz(topk=TOPK, images=np.array(["a.jpg", "zz.jpg", "c.jpg"])), "p.npz", "row 2 (index 1)"),
}
BAD_CLASS_IN_SECOND = {
    "csv": (b"image,top5\na.jpg,1 0\nb.jpg,3 9\nc.jpg,0 3\n", "p.csv", "row 2 (line 3)"),
    "jsonl": (jsonl(*[{"image": k, "classes": [0, 9 if k == "b.jpg" else 1]} for k in KEYS]), "p.jl", "row 2 (line 2)"),
    "npy": (npy(np.array([[1, 0], [3, 9], [0, 3]])), "p.npy", "row 2 (index 1)"),
    "npz": (npz(topk=np.array([[1, 0], [3, 9], [0, 3]])), "p.npz", "row 2 (index 1)"),
}


SAME_BAD_ROW = {f"unknown key, {f}": case for f, case in UNKNOWN_SECOND.items()} | {
    f"class out of range, {f}": case for f, case in BAD_CLASS_IN_SECOND.items()
}


@pytest.mark.parametrize("case", SAME_BAD_ROW, ids=list(SAME_BAD_ROW))
def test_every_format_names_the_same_bad_row_the_same_way(case: str) -> None:
    data, filename, where = SAME_BAD_ROW[case]
    error = format_error(data, filename)
    assert error.rows == [2]
    assert f"— {where}: " in error.message, error.message


def test_the_error_is_a_value_error_so_callers_can_treat_it_as_bad_input() -> None:
    assert issubclass(PredictionFormatError, ValueError)
