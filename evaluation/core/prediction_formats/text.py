"""Text formats: CSV with a header and JSONL, one row per image (pure Python + numpy, no Django)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np

from annotator.core import bounded_json
from annotator.core.bounded_json import JsonTooDeepError
from evaluation.core.format_errors import Rows
from evaluation.core.prediction_formats.common import (
    CLASS_FIELDS,
    IMAGE_FIELD,
    SCORE_FIELD,
    Context,
    ParsedPredictions,
    PredictionFormatError,
    check_classes,
    check_finite,
    check_width,
    dataset_positions,
    raise_rows,
    refuse_rows,
)


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise PredictionFormatError(f"not UTF-8 text (line {line} of the file)") from None


# Tokens per row: strings from a CSV, numbers from JSONL.
_Tokens = list[list[Any]]
# Where each row is, image keys, class tokens per row, score tokens per row (or None).
_TextRows = tuple[Rows, list[str], _Tokens, _Tokens | None]


def read_csv(text: str) -> _TextRows:
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
    raise_rows(bad_width, len(bad_width), "rows with the wrong number of fields")
    return Rows(numbers, lines), keys, classes, scores if scores_at is not None else None


def read_jsonl(text: str) -> _TextRows:
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
    raise_rows(invalid, len(invalid), "malformed JSONL")
    rows = Rows(numbers, lines)
    with_scores = sum(s is not None for s in scores)
    if 0 < with_scores < len(scores):
        missing = np.array([s is None for s in scores])
        refuse_rows(missing, rows, "scores given for some rows only", lambda i: "no 'scores'")
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


def assemble_text(
    rows: Rows, keys: list[str], classes: _Tokens, scores: _Tokens | None, context: Context, fmt: str
) -> ParsedPredictions:
    """Turns per-line class (and score) lists into dataset-ordered arrays, validating as it goes."""
    n_classes_listed = np.fromiter(map(len, classes), dtype=np.int64, count=len(classes))
    width = int(np.bincount(n_classes_listed).argmax()) if len(classes) else 1
    summary = f"rows list different numbers of classes (most list {width})"
    refuse_rows(n_classes_listed != width, rows, summary, lambda i: f"{n_classes_listed[i]} classes")
    check_width(width, context.num_classes)
    class_matrix = _to_matrix(classes, rows, np.int64, "class index").reshape(-1, width)
    check_classes(class_matrix, rows, context.num_classes)
    score_matrix = None
    if scores is not None:
        n_scores = np.fromiter(map(len, scores), dtype=np.int64, count=len(scores))
        summary = f"scores must align with the {width} classes of each row"
        refuse_rows(n_scores != width, rows, summary, lambda i: f"{n_scores[i]} scores")
        with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused as not finite just below
            score_matrix = _to_matrix(scores, rows, np.float64, "score").reshape(-1, width).astype(np.float32)
        check_finite(score_matrix, rows)
        rising = (np.diff(score_matrix, axis=1) > 0).any(axis=1)
        summary = "scores must be non-increasing, as classes are listed best first"
        refuse_rows(rising, rows, summary, lambda i: "scores increase")
    positions = dataset_positions(keys, rows, context)
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


def _to_matrix(tokens: _Tokens, rows: Rows, dtype: type[np.int64] | type[np.float64], what: str) -> np.ndarray:
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
    raise_rows(bad, len(bad), f"non-numeric {what}s")
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
