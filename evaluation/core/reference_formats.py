"""Parsing reference label sets in the ReaL format (pure Python + numpy, no Django).

ReaL JSON: a list with one entry per image in dataset order, each a list of valid class indices
(`[[490], [361, 171], [], …]`); an empty list means the image holds no valid class. Offending entries are
named as rows, as in every upload format (evaluation.core.format_errors): "row 1234 (index 1233)".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator.core import bounded_json
from evaluation.core.format_errors import MAX_REPORTED, Rows, RowsError, raise_for


class ReferenceFormatError(RowsError):
    """A reference label file that cannot be used; ``rows`` are the 1-based numbers of offending entries."""


@dataclass(frozen=True)
class ParsedReferenceLabels:
    """CSR label lists in dataset order: image i holds ``indices[indptr[i]:indptr[i + 1]]`` (sorted, unique)."""

    indptr: np.ndarray  # int64, N + 1
    indices: np.ndarray  # int32

    @property
    def n_images(self) -> int:
        return int(self.indptr.size - 1)

    @property
    def n_labelled(self) -> int:
        return int(np.count_nonzero(np.diff(self.indptr)))


def parse_real_json(data: bytes, *, n_images: int, num_classes: int) -> ParsedReferenceLabels:
    try:
        entries = bounded_json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ReferenceFormatError(f"not a JSON document: {error}") from None
    if not isinstance(entries, list):
        raise ReferenceFormatError("expected a JSON list with one list of class indices per image")
    if len(entries) != n_images:
        raise ReferenceFormatError(f"the list has {len(entries)} entries, the dataset has {n_images} images")
    rows = Rows.counted(n_images)
    bad: list[tuple[int, str, str]] = []
    total_bad = 0
    lengths = np.zeros(n_images, dtype=np.int64)
    flat: list[int] = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, list) or not all(type(c) is int for c in entry):
            problem = "expected a list of integers"
        elif any(c < 0 or c >= num_classes for c in entry):
            problem = f"class index out of range 0..{num_classes - 1}"
        elif len(set(entry)) != len(entry):
            problem = "a class is listed twice"
        else:
            lengths[position] = len(entry)
            flat.extend(sorted(entry))
            continue
        total_bad += 1
        if len(bad) < MAX_REPORTED:
            bad.append((rows.numbers[position], rows.name(position), problem))
    raise_for(bad, total_bad, "invalid label lists", ReferenceFormatError)
    indptr = np.zeros(n_images + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return ParsedReferenceLabels(indptr=indptr, indices=np.asarray(flat, dtype=np.int32))
