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
Offending rows are named as evaluation.core.format_errors says, the same in every format. One module per
format family: `text` (CSV, JSONL) and `numpy_files` (.npy, .npz); `common` holds what they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import BinaryIO

from evaluation.core.prediction_formats.common import Context, ParsedPredictions, PredictionFormatError
from evaluation.core.prediction_formats.numpy_files import assemble_arrays, load_arrays
from evaluation.core.prediction_formats.text import assemble_text, decode, read_csv, read_jsonl

__all__ = ["ParsedPredictions", "PredictionFormatError", "parse_predictions"]


def parse_predictions(
    data: bytes | BinaryIO, filename: str, *, image_keys: Sequence[str], num_classes: int, k: int = 5
) -> ParsedPredictions:
    """Parses and fully validates one prediction file; ``image_keys[i]`` is the dataset's image at position i."""
    if k < 1:
        raise ValueError("k must be at least 1")
    raw = bytes(data) if isinstance(data, bytes | bytearray | memoryview) else data.read()
    image_index = {key: position for position, key in enumerate(image_keys)}
    context = Context(image_keys, image_index, num_classes, k)
    fmt = _detect_format(raw, filename)
    if fmt == "csv":
        return assemble_text(*read_csv(decode(raw)), context, fmt)
    if fmt == "jsonl":
        return assemble_text(*read_jsonl(decode(raw)), context, fmt)
    return assemble_arrays(load_arrays(raw, fmt, context), context, fmt)


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
