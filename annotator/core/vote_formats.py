"""Reading answers collected elsewhere: ReaL's ``raters.npz`` / ``golden.npz`` and a generic CSV.

Pure (numpy and csv, no Django). Every reader returns a `VoteTable`: questions (image key, class
reference) and the votes on them; nothing is resolved against a dataset here.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, overload

import numpy as np

from annotator.core.aggregation import MAYBE, NO, YES, unique_first_inverse
from annotator.core.real_raters import read_real_raters

if TYPE_CHECKING:
    import pyarrow as pa

ANSWERS = {"no": NO, "yes": YES, "maybe": MAYBE}
CSV_HEADER = ["image", "class", "annotator", "answer"]
# No field may hold a NUL: PostgreSQL's text cannot, and numpy's fixed-width strings drop trailing ones, so the
# raters "a" and "a\x00" were one account (and the import failed on a duplicate vote).
NUL = "\x00"
NUL_REFUSED = "a NUL character (\\x00), which no field accepts"


class VoteFormatError(ValueError):
    """Unreadable input; the message names the first offending rows."""


@dataclass(frozen=True)
class VoteTable:
    image_keys: np.ndarray  # (Q,) str
    class_refs: np.ndarray  # (Q,) str: a class key, or its index in digits
    where: Sequence[str]  # (Q,) where each question was first read, for error messages
    rater_ids: np.ndarray  # (R,) str
    question: np.ndarray  # (V,) int
    rater: np.ndarray  # (V,) int
    answer: np.ndarray  # (V,) NO / YES / MAYBE
    class_by_name: bool = False  # a class reference may also be a class's name (the peers' choice values)
    image_fallback: np.ndarray | None = None  # (Q,) str: another key to try where the first is unknown, or ""

    @property
    def n_votes(self) -> int:
        return len(self.question)


@dataclass(frozen=True)
class GoldTable:
    image_keys: np.ndarray  # (G,) str
    class_refs: np.ndarray
    where: list[str]
    yes: np.ndarray  # (G,) bool


def read_real_votes(path: str | PathLike[str]) -> VoteTable:
    """ReaL's ``raters.npz``: one question per (file name, class index), five raters each."""
    ratings = read_real_raters(path)
    votes = ratings.votes
    return VoteTable(
        image_keys=ratings.file_names,
        class_refs=ratings.class_index.astype(str),
        where=[f"question {q}" for q in range(votes.n_items)],
        rater_ids=np.asarray(ratings.rater_ids).astype(str),
        question=votes.item,
        rater=votes.annotator,
        answer=votes.answer,
    )


def read_csv_votes(path: str | PathLike[str], *, max_errors: int = 5) -> VoteTable:
    """CSV `image,class,annotator,answer` (header optional); answer yes / no / maybe.

    Read with Arrow's CSV reader (columnar, multi-threaded: 20 M votes in seconds and a few hundred MB, where
    Python's csv module and dicts took minutes and GBs); a file it cannot take whole (a row of the wrong
    width, an empty field, an unknown answer, a blank line, bytes that are not UTF-8) is read again row by row,
    which names the offending lines. Both give the same table for a valid file (tested)."""
    table = _read_csv_votes_arrow(path)
    return table if table is not None else _read_csv_votes_rows(path, max_errors=max_errors)


class _FirstLines(Sequence[str]):
    """`where` of a question read by Arrow: its first line, formatted when an error message asks for it."""

    def __init__(self, lines: np.ndarray) -> None:
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [f"line {n}" for n in self._lines[index].tolist()]
        return f"line {int(self._lines[index])}"


# Bytes of the file per Arrow record batch: the file is read a block at a time, each block's columns turned into
# codes before the next is read (the whole file as an Arrow table was ~130 bytes a vote: 2.6 GB at 19.5 M votes).
CSV_BLOCK_BYTES = 1 << 20


def _read_csv_votes_arrow(path: str | PathLike[str]) -> VoteTable | None:
    """The file through Arrow, a block at a time, or None where the row-by-row reader must decide (and explain).

    Each block's columns are dictionary-encoded, then only their distinct values are stripped (and the answers
    lowered) in Python and numbered across the file, so the file's strings are never copied; per vote, memory
    keeps three int32 codes and the answer."""
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    # At most one row per 9 bytes ("a,b,c,no" and its newline): arrays of that length are reserved, and only the
    # part written to takes memory (no list of blocks to join at the end, no copy).
    capacity = Path(path).stat().st_size // 9 + 1
    columns = [_Codes(capacity) for _ in CSV_HEADER[:3]]
    answer = np.empty(capacity, np.int8)
    n, skip = 0, 0
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=CSV_HEADER, block_size=CSV_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(CSV_HEADER, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for number, batch in enumerate(reader):
            if number == 0 and _starts_with_header(batch):
                skip, batch = 1, batch.slice(1)
            if not batch.num_rows:
                continue
            if not all(codes.add(batch.column(c), n) for c, codes in enumerate(columns)):
                return None  # an empty field
            answers = _stripped(batch.column(3), lower=True)
            if answers is None or any(a not in ANSWERS for a in answers[1]):
                return None
            indices, values = answers
            answer[n : n + len(indices)] = np.array([ANSWERS[a] for a in values], np.int8)[indices]
            n += len(indices)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    finally:
        # Arrow's pool keeps what the blocks used, for blocks to come; none come (60 MB of the peak at 3 M votes).
        pa.default_memory_pool().release_unused()
    (image_code, images), (ref_code, refs), (rater_code, raters) = (codes.result(n) for codes in columns)
    n_refs = max(len(refs), 1)
    key = image_code.astype(np.int64)
    key *= n_refs
    key += ref_code
    del image_code, ref_code  # a question's image and class are its key's quotient and remainder
    # Questions and raters numbered by first appearance, as the row-by-row reader numbers them (a column's codes
    # already are).
    question, firsts, question_keys = _by_first_appearance(key)
    del key
    return VoteTable(
        image_keys=np.array(images, dtype=str)[question_keys // n_refs] if n else np.zeros(0, dtype=str),
        class_refs=np.array(refs, dtype=str)[question_keys % n_refs] if n else np.zeros(0, dtype=str),
        where=_FirstLines(firsts + 1 + skip),
        rater_ids=np.array(raters, dtype=str),
        question=question,
        rater=rater_code,
        answer=answer[:n],
    )


def _starts_with_header(batch: pa.RecordBatch) -> bool:
    return batch.num_rows > 0 and [str(v[0].as_py()).strip().lower() for v in batch.columns] == CSV_HEADER


class _Codes:
    """One column read block by block: each row's code (int32) among the column's distinct stripped values,
    numbered as they first appear."""

    def __init__(self, capacity: int) -> None:
        self._code_of: dict[str, int] = {}
        self._codes = np.empty(capacity, np.int32)

    def add(self, column: pa.Array, start: int) -> bool:
        """The codes of a block whose first row is row `start`; False where some row holds an empty value or a NUL."""
        stripped = _stripped(column, lower=False)
        if stripped is None:
            return False
        indices, values = stripped
        code_of = self._code_of
        codes = np.array([code_of.setdefault(v, len(code_of)) for v in values], np.int32)
        self._codes[start : start + len(indices)] = codes[indices]
        return True

    def result(self, n: int) -> tuple[np.ndarray, list[str]]:
        return self._codes[:n], list(self._code_of)


def _stripped(column: pa.Array, *, lower: bool) -> tuple[np.ndarray, list[str]] | None:
    """Each row's index into the block's distinct values after str.strip() (and lower()), values merged by
    equality; None where one of them is empty or holds a NUL (the row reader names the line)."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column)
    clean = [v.strip().lower() if lower else v.strip() for v in encoded.dictionary.to_pylist()]
    if "" in clean or any(NUL in v for v in clean):
        return None
    merged: dict[str, int] = {}
    index_of_raw = np.array([merged.setdefault(v, len(merged)) for v in clean], np.int32)
    return index_of_raw[encoded.indices.to_numpy(zero_copy_only=False)], list(merged)


def _by_first_appearance(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's number among the distinct keys, numbered in order of first appearance (int32 where they fit);
    each number's first row and its key. `keys` (int64) is overwritten (`unique_first_inverse`)."""
    distinct, first, inverse = unique_first_inverse(keys)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), np.int32 if len(order) < 2**31 else np.int64)
    rank[order] = np.arange(len(order))
    return rank[inverse], first[order], distinct[order]


def _read_csv_votes_rows(path: str | PathLike[str], *, max_errors: int) -> VoteTable:
    """Row by row with Python's csv module: every check with its line number."""
    questions: dict[tuple[str, str], int] = {}
    where: list[str] = []
    raters: dict[str, int] = {}
    question, rater, answer, errors = [], [], [], []
    with Path(path).open(newline="") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if line == 1 and [c.strip().lower() for c in row] == CSV_HEADER:
                continue
            if len(row) != 4 or not all(c.strip() for c in row):
                errors.append(f"line {line}: expected 4 non-empty columns {','.join(CSV_HEADER)}, got {row!r}")
            elif any(NUL in c for c in row):
                errors.append(f"line {line}: {NUL_REFUSED}")
            elif (code := ANSWERS.get(row[3].strip().lower())) is None:
                errors.append(f"line {line}: answer {row[3]!r} is not yes, no or maybe")
            else:
                key = (row[0].strip(), row[1].strip())
                if key not in questions:
                    questions[key] = len(questions)
                    where.append(f"line {line}")
                question.append(questions[key])
                rater.append(raters.setdefault(row[2].strip(), len(raters)))
                answer.append(code)
            if len(errors) >= max_errors:
                break
    if errors:
        raise VoteFormatError("\n".join(errors))
    keys = list(questions)
    return VoteTable(
        image_keys=np.array([k[0] for k in keys], dtype=str),
        class_refs=np.array([k[1] for k in keys], dtype=str),
        where=where,
        rater_ids=np.array(list(raters), dtype=str),
        question=np.array(question, np.int64),
        rater=np.array(rater, np.int64),
        answer=np.array(answer, np.int8),
    )


def read_real_gold(path: str | PathLike[str]) -> GoldTable:
    """ReaL's ``golden.npz``: the gold answer is the experts' majority (yes-share ≥ ½; they never said maybe),
    as in `annotator.core.real_raters.gold_answers`."""
    ratings = read_real_raters(path)
    counts = ratings.votes.answer_counts()
    n = counts.sum(axis=1)
    answered = n > 0
    share = (counts[:, YES] + 0.5 * counts[:, MAYBE]) / np.maximum(n, 1)
    return GoldTable(
        image_keys=ratings.file_names[answered],
        class_refs=ratings.class_index[answered].astype(str),
        where=[f"question {q}" for q in np.flatnonzero(answered)],
        yes=(share >= 0.5)[answered],
    )


def read_csv_gold(path: str | PathLike[str]) -> GoldTable:
    """CSV `image,class,answer` (header optional); answer yes / no."""
    keys, classes, where, yes, errors = [], [], [], [], []
    with Path(path).open(newline="") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if line == 1 and [c.strip().lower() for c in row] == ["image", "class", "answer"]:
                continue
            if len(row) != 3 or row[2].strip().lower() not in ("yes", "no"):
                errors.append(f"line {line}: expected image,class,yes|no, got {row!r}")
                if len(errors) >= 5:
                    break
                continue
            keys.append(row[0].strip())
            classes.append(row[1].strip())
            where.append(f"line {line}")
            yes.append(row[2].strip().lower() == "yes")
    if errors:
        raise VoteFormatError("\n".join(errors))
    return GoldTable(np.array(keys, dtype=str), np.array(classes, dtype=str), where, np.array(yes, bool))
