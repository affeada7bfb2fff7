"""Parsing and validation of uploaded prediction sets (pure Python + numpy, no Django).

Accepted formats (binary magic first, then the file extension, then a sniff of the first character):
- CSV with a header: ``image`` plus one class column named ``top5``, ``topk`` or ``classes`` (space-separated
  class indices, best first) and optionally ``scores`` (space-separated numbers aligned with the classes).
- JSONL (``.jsonl``/``.ndjson``): one ``{"image": ..., "classes": [...], "scores": [...]}`` per line; the
  class field may also be called ``top5`` or ``topk``; ``scores`` is optional.
- ``.npy``: an N×k integer array of class indices, or an N×C float array of scores or logits, in dataset order.
- ``.npz``: class indices under ``topk``/``top5``/``classes``, and/or scores under ``scores``/``logits``
  (N×C), optionally image keys under ``images``/``keys`` giving the row order (else dataset order).
Unknown columns, fields or array names are refused so a misspelt ``score`` cannot be silently dropped.
Every dataset image must appear exactly once; all rows must list the same number of classes; scores must
be finite and, when aligned with listed classes, non-increasing. At most ``k`` ranked classes are kept.
Offending rows are named as evaluation.core.format_errors says, the same in every format.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import PurePath
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from annotator.core import bounded_json
from annotator.core.bounded_json import JsonTooDeepError
from evaluation.core.format_errors import MAX_REPORTED, Rows, RowsError, raise_for, refuse
from evaluation.core.metrics import topk_from_scores

CLASS_FIELDS = ("top5", "topk", "classes")
SCORE_FIELD = "scores"
IMAGE_FIELD = "image"
NPZ_SCORE_NAMES = ("scores", "logits")
NPZ_KEY_NAMES = ("images", "keys")


class PredictionFormatError(RowsError):
    """An upload that cannot be used; ``rows`` are the 1-based numbers of the first offending rows."""


@dataclass(frozen=True)
class ParsedPredictions:
    """Validated predictions in dataset order: ``topk`` N×k int32; ``scores`` N×C float32 when full scores were
    given; ``topk_scores`` N×k float32 aligned with ``topk`` when any scores were given."""

    topk: np.ndarray
    scores: np.ndarray | None
    topk_scores: np.ndarray | None
    format: str


_raise_for = partial(raise_for, error=PredictionFormatError)
_refuse: Callable[[npt.ArrayLike, Rows, str, Callable[[int], str]], None] = partial(refuse, error=PredictionFormatError)


def parse_predictions(
    data: bytes | BinaryIO, filename: str, *, image_keys: Sequence[str], num_classes: int, k: int = 5
) -> ParsedPredictions:
    """Parses and fully validates one prediction file; ``image_keys[i]`` is the dataset's image at position i."""
    if k < 1:
        raise ValueError("k must be at least 1")
    raw = bytes(data) if isinstance(data, bytes | bytearray | memoryview) else data.read()
    image_index = {key: position for position, key in enumerate(image_keys)}
    context = _Context(image_keys, image_index, num_classes, k)
    fmt = _detect_format(raw, filename)
    if fmt == "csv":
        return _assemble_text(*_read_csv(_decode(raw)), context, fmt)
    if fmt == "jsonl":
        return _assemble_text(*_read_jsonl(_decode(raw)), context, fmt)
    return _assemble_arrays(_load_arrays(raw, fmt, context), context, fmt)


@dataclass(frozen=True)
class _Context:
    image_keys: Sequence[str]
    image_index: dict[str, int]
    num_classes: int
    k: int


def _detect_format(raw: bytes, filename: str) -> str:
    if raw.startswith(b"\x93NUMPY"):
        return "npy"
    if raw.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    suffix = PurePath(filename).suffix.lower()
    if suffix in (".npy", ".npz"):
        raise PredictionFormatError(f"not a valid {suffix} file (it lacks the {suffix} signature)")
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    return "jsonl" if raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise PredictionFormatError(f"not UTF-8 text (line {line} of the file)") from None


# Where each row is, image keys, class tokens per row, score tokens per row (or None).
_TextRows = tuple[Rows, list[str], list[list], list[list] | None]


def _read_csv(text: str) -> _TextRows:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        if not header:
            raise PredictionFormatError("the CSV is empty: expected a header such as 'image,top5'")
        class_columns = [name for name in header if name in CLASS_FIELDS]
        unknown = [name for name in header if name not in (*CLASS_FIELDS, IMAGE_FIELD, SCORE_FIELD)]
        if unknown or len(class_columns) != 1 or IMAGE_FIELD not in header or len(set(header)) != len(header):
            raise PredictionFormatError(
                f"bad CSV header {','.join(header)!r}: expected 'image', one of {', '.join(CLASS_FIELDS)}, "
                f"and optionally 'scores' (line 1)"
            )
        image_at, classes_at = header.index(IMAGE_FIELD), header.index(class_columns[0])
        scores_at = header.index(SCORE_FIELD) if SCORE_FIELD in header else None
        numbers: list[int] = []
        lines: list[int] = []
        keys: list[str] = []
        classes: list[list[str]] = []
        scores: list[list[str]] = []
        bad_width: list[tuple[int, str, str]] = []
        number = 0
        for row in reader:
            if not row:
                continue  # blank line
            number += 1
            if len(row) != len(header):
                where = f"row {number} (line {reader.line_num})"
                bad_width.append((number, where, f"{len(row)} fields, the header has {len(header)}"))
                continue
            numbers.append(number)
            lines.append(reader.line_num)
            keys.append(row[image_at].strip())
            classes.append(row[classes_at].split())
            if scores_at is not None:
                scores.append(row[scores_at].split())
    except csv.Error as error:
        where = f"row {number + 1} (line {reader.line_num})"
        raise PredictionFormatError(f"malformed CSV at {where}: {error}", rows=[number + 1]) from None
    _raise_for(bad_width, len(bad_width), "rows with the wrong number of fields")
    return Rows(numbers, lines), keys, classes, scores if scores_at is not None else None


def _read_jsonl(text: str) -> _TextRows:
    numbers: list[int] = []
    lines: list[int] = []
    keys: list[str] = []
    classes: list[list[int]] = []
    scores: list[list[float]] = []
    invalid: list[tuple[int, str, str]] = []
    allowed = {IMAGE_FIELD, SCORE_FIELD, *CLASS_FIELDS}
    number = 0
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        number += 1
        try:
            record = bounded_json.loads(line)
            problem = _jsonl_record_problem(record, allowed)
        except json.JSONDecodeError as error:
            problem = f"invalid JSON ({error.msg})"
        except JsonTooDeepError as error:
            problem = f"invalid JSON ({error})"
        if problem:
            invalid.append((number, f"row {number} (line {line_number})", problem))
            continue
        class_field = next(name for name in CLASS_FIELDS if name in record)
        numbers.append(number)
        lines.append(line_number)
        keys.append(record[IMAGE_FIELD])
        classes.append(record[class_field])
        scores.append(record.get(SCORE_FIELD))
    _raise_for(invalid, len(invalid), "malformed JSONL")
    rows = Rows(numbers, lines)
    with_scores = sum(s is not None for s in scores)
    if 0 < with_scores < len(scores):
        missing = np.array([s is None for s in scores])
        _refuse(missing, rows, "scores given for some rows only", lambda i: "no 'scores'")
    return rows, keys, classes, scores if with_scores else None


def _jsonl_record_problem(record: object, allowed: set[str]) -> str | None:
    if not isinstance(record, dict):
        return "expected a JSON object"
    unknown = record.keys() - allowed
    if unknown:
        return f"unknown field(s) {', '.join(sorted(unknown))}"
    class_fields = [name for name in CLASS_FIELDS if name in record]
    if not isinstance(record.get(IMAGE_FIELD), str) or len(class_fields) != 1:
        return f"needs a string 'image' and exactly one of {', '.join(CLASS_FIELDS)}"
    classes = record[class_fields[0]]
    # bool is an int subclass; true/false are not class indices.
    if not isinstance(classes, list) or not all(type(c) is int for c in classes):
        return "classes must be a list of integers"
    scores = record.get(SCORE_FIELD)
    if scores is not None and (not isinstance(scores, list) or not all(type(s) in (int, float) for s in scores)):
        return "scores must be a list of numbers"
    return None


def _assemble_text(
    rows: Rows, keys: list[str], classes: list, scores: list | None, context: _Context, fmt: str
) -> ParsedPredictions:
    """Turns per-line class (and score) lists into dataset-ordered arrays, validating as it goes."""
    n_classes_listed = np.fromiter(map(len, classes), dtype=np.int64, count=len(classes))
    width = int(np.bincount(n_classes_listed).argmax()) if len(classes) else 1
    summary = f"rows list different numbers of classes (most list {width})"
    _refuse(n_classes_listed != width, rows, summary, lambda i: f"{n_classes_listed[i]} classes")
    _check_width(width, context.num_classes)
    class_matrix = _to_matrix(classes, rows, np.int64, "class index").reshape(-1, width)
    _check_classes(class_matrix, rows, context.num_classes)
    score_matrix = None
    if scores is not None:
        n_scores = np.fromiter(map(len, scores), dtype=np.int64, count=len(scores))
        summary = f"scores must align with the {width} classes of each row"
        _refuse(n_scores != width, rows, summary, lambda i: f"{n_scores[i]} scores")
        with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused as not finite just below
            score_matrix = _to_matrix(scores, rows, np.float64, "score").reshape(-1, width).astype(np.float32)
        _check_finite(score_matrix, rows)
        rising = (np.diff(score_matrix, axis=1) > 0).any(axis=1)
        summary = "scores must be non-increasing, as classes are listed best first"
        _refuse(rising, rows, summary, lambda i: "scores increase")
    positions = _positions(keys, rows, context)
    keep = min(width, context.k)
    topk = np.empty((len(context.image_keys), keep), dtype=np.int32)
    topk[positions] = class_matrix[:, :keep]
    full_scores = topk_scores = None
    if score_matrix is not None:
        topk_scores = np.empty((len(context.image_keys), keep), dtype=np.float32)
        topk_scores[positions] = score_matrix[:, :keep]
        if width == context.num_classes:  # every class listed: the scores form a full N×C matrix
            full_scores = np.empty((len(context.image_keys), width), dtype=np.float32)
            full_scores[positions[:, None], class_matrix] = score_matrix
    return ParsedPredictions(topk=topk, scores=full_scores, topk_scores=topk_scores, format=fmt)


def _to_matrix(tokens: list, rows: Rows, dtype: type[np.int64] | type[np.float64], what: str) -> np.ndarray:
    """Flattens equal-length rows of tokens into a numeric array, naming the rows whose tokens do not parse."""
    flat = [token for row in tokens for token in row]
    convert = int if dtype is np.int64 else float
    try:
        if flat and isinstance(flat[0], str) and not _plain("".join(flat)):
            raise ValueError
        return np.fromiter(map(convert, flat), dtype=dtype, count=len(flat))
    except (ValueError, TypeError, OverflowError):
        pass  # name the offending lines below
    bad: list[tuple[int, str, str]] = []
    for i, row in enumerate(tokens):
        rejected = [token for token in row if not _parses(token, convert, dtype)]
        if rejected:
            bad.append((rows.numbers[i], rows.name(i), f"{rejected[0]!r} is not a valid {what}"))
    _raise_for(bad, len(bad), f"non-numeric {what}s")
    raise PredictionFormatError(f"could not read the {what}s")


def _parses(token: str | float, convert: type[int] | type[float], dtype: type[np.int64] | type[np.float64]) -> bool:
    try:
        dtype(convert(token))  # the dtype call rejects integers beyond int64
    except (ValueError, TypeError, OverflowError):
        return False
    return not isinstance(token, str) or _plain(token)


def _plain(text: str) -> bool:
    """int() and float() also accept "1_0" and non-ASCII digits; uploads may not use them."""
    return text.isascii() and "_" not in text


def _check_width(width: int, num_classes: int) -> None:
    if width < 1:
        raise PredictionFormatError("no classes listed: each row needs at least one class")
    if width > num_classes:
        raise PredictionFormatError(f"rows list {width} classes, but the dataset has only {num_classes}")


def _check_classes(class_matrix: np.ndarray, rows: Rows, num_classes: int) -> None:
    bad = (class_matrix < 0) | (class_matrix >= num_classes)
    summary = f"class index out of range 0..{num_classes - 1}"
    _refuse(bad.any(axis=1), rows, summary, lambda i: f"class {class_matrix[i][bad[i]][0]}")
    ordered = np.sort(class_matrix, axis=1)
    again = ordered[:, 1:] == ordered[:, :-1]
    summary = "a class is listed twice in one row"
    _refuse(again.any(axis=1), rows, summary, lambda i: f"class {ordered[i, 1:][again[i]][0]}")


def _check_finite(values: np.ndarray, rows: Rows) -> None:
    not_finite = ~np.isfinite(values).all(axis=1)
    _refuse(not_finite, rows, "scores must be finite (float32)", lambda i: "NaN or infinite score")


def _positions(keys: Sequence[str], rows: Rows, context: _Context) -> np.ndarray:
    """Dataset position of each row; every dataset image must appear exactly once."""
    get = context.image_index.get
    positions = np.fromiter((get(key, -1) for key in keys), dtype=np.int64, count=len(keys))
    _refuse(positions < 0, rows, "unknown image keys", lambda i: f"unknown image {keys[i]!r}")
    _, first_rows = np.unique(positions, return_index=True)
    first_row_of = np.empty(len(context.image_keys), dtype=np.int64)
    first_row_of[positions[first_rows]] = first_rows
    repeated = np.ones(len(keys), dtype=bool)
    repeated[first_rows] = False

    def again(i: int) -> str:
        return f"image {keys[i]!r} again (first at {rows.name(first_row_of[positions[i]])})"

    _refuse(repeated, rows, "duplicate rows", again)
    missing = np.flatnonzero(np.bincount(positions, minlength=len(context.image_keys)) == 0)
    if missing.size:
        names = ", ".join(repr(context.image_keys[i]) for i in missing[:MAX_REPORTED])
        more = f" and {missing.size - MAX_REPORTED} more" if missing.size > MAX_REPORTED else ""
        raise PredictionFormatError(f"missing image keys: {names}{more} ({missing.size} missing)")
    return positions


def _load_arrays(raw: bytes, fmt: str, context: _Context) -> dict[str, np.ndarray]:
    try:
        if fmt == "npy":
            return {"": np.load(io.BytesIO(raw), allow_pickle=False)}
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            # The caller limits the compressed size only; refuse archives that would unpack far beyond
            # float64 scores plus int64 rankings plus keys for this dataset (zip bombs).
            limit = len(context.image_keys) * (16 * context.num_classes + 1024) + 2**20
            if sum(info.file_size for info in archive.zip.infolist()) > limit:
                raise PredictionFormatError(f"the .npz unpacks to more than {limit} bytes, too large for this dataset")
            return {name: archive[name] for name in archive.files}
    except PredictionFormatError:
        raise
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise PredictionFormatError("object (pickled) arrays are refused; save plain numeric arrays") from None
        raise PredictionFormatError(f"not a valid .{fmt} file: {error}") from None
    except Exception as error:
        # np.load raises many unrelated types (zip, EOF, tokenize errors) on corrupt input.
        raise PredictionFormatError(f"not a valid .{fmt} file: {error}") from None


def _assemble_arrays(arrays: dict[str, np.ndarray], context: _Context, fmt: str) -> ParsedPredictions:
    classes: np.ndarray | None
    scores: np.ndarray | None
    keys: np.ndarray | None
    if fmt == "npy":
        single = arrays[""]
        classes, scores, keys = (single, None, None) if single.dtype.kind in "iu" else (None, single, None)
    else:
        accepted = (*CLASS_FIELDS, *NPZ_SCORE_NAMES, *NPZ_KEY_NAMES)
        unknown = sorted(set(arrays) - set(accepted))
        if unknown:
            raise PredictionFormatError(f"unknown array(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}")
        classes, scores, keys = (_one_of(arrays, names) for names in (CLASS_FIELDS, NPZ_SCORE_NAMES, NPZ_KEY_NAMES))
        if classes is None and scores is None:
            raise PredictionFormatError(f"the .npz holds neither class indices ({', '.join(CLASS_FIELDS)}) nor scores")
    n_images = len(context.image_keys)
    rows = Rows.counted(n_images)
    for array in (classes, scores):
        if array is not None and (array.ndim != 2 or array.shape[0] != n_images):
            raise PredictionFormatError(f"expected a 2-D array with {n_images} rows (one per image), got {array.shape}")
    if scores is not None:
        if scores.dtype.kind not in "fiu" or scores.shape[1] != context.num_classes:
            raise PredictionFormatError(
                f"scores must be numeric with {context.num_classes} columns (class indices must be integers), "
                f"got {scores.dtype} {scores.shape}"
            )
        with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused as not finite just below
            scores = np.ascontiguousarray(scores, dtype=np.float32)
        _check_finite(scores, rows)
    if classes is not None:
        if classes.dtype.kind not in "iu":
            raise PredictionFormatError(f"class indices must be integers, got {classes.dtype}")
        _check_width(classes.shape[1], context.num_classes)
        _check_classes(classes, rows, context.num_classes)
        if scores is not None:
            _check_agreement(classes, scores)
        classes = classes[:, : context.k].astype(np.int32)
    else:
        classes = topk_from_scores(scores, context.k)  # type: ignore[arg-type]
    if keys is not None:
        positions = _positions(_key_strings(keys, n_images), rows, context)
        order = np.argsort(positions)
        classes = classes[order]
        scores = scores[order] if scores is not None else None
    topk_scores = np.take_along_axis(scores, classes, axis=1) if scores is not None else None
    return ParsedPredictions(topk=classes, scores=scores, topk_scores=topk_scores, format=fmt)


def _one_of(arrays: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray | None:
    present = [name for name in names if name in arrays]
    if len(present) > 1:
        raise PredictionFormatError(f"give only one of the arrays {', '.join(present)}")
    return arrays[present[0]] if present else None


def _key_strings(keys: np.ndarray, n_images: int) -> list[str]:
    if keys.ndim != 1 or keys.shape[0] != n_images or keys.dtype.kind not in "US":
        raise PredictionFormatError(f"image keys must be {n_images} strings, got {keys.dtype} {keys.shape}")
    if keys.dtype.kind == "S":
        try:
            return [key.decode("utf-8") for key in keys.tolist()]
        except UnicodeDecodeError:
            raise PredictionFormatError("image keys must be UTF-8") from None
    return keys.tolist()


def _check_agreement(classes: np.ndarray, scores: np.ndarray) -> None:
    """Given classes must be the score ranking's head; a mismatch means the arrays were not saved together."""
    ranked = np.take_along_axis(scores, classes, axis=1)
    wrong = (ranked[:, 0] < scores.max(axis=1)) | (np.diff(ranked, axis=1) > 0).any(axis=1)
    summary = "class indices disagree with scores"
    _refuse(wrong, Rows.counted(len(classes)), summary, lambda i: "classes are not ranked by score")
