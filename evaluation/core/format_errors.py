"""How upload parsers name the rows they refuse: the same way in every format (pure Python + numpy).

Rows count from 1 in the order the file lists them; a CSV's header and blank lines, and blank JSONL lines,
are not rows. Text formats add the line of the file ("row 1234 (line 1235)"); arrays and JSON lists add the
0-based index their tools use ("row 1234 (index 1233)"). An error's `rows` are the 1-based row numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MAX_REPORTED = 5


class RowsError(ValueError):
    """A file that cannot be used; ``rows`` are the 1-based numbers of the first offending rows, if any."""

    def __init__(self, message: str, rows: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.rows = [int(r) for r in rows]


@dataclass(frozen=True)
class Rows:
    """The parsed rows of one file: ``numbers[i]`` is row i's 1-based number, ``lines[i]`` its file line (text)."""

    numbers: Sequence[int]
    lines: Sequence[int] | None = None

    @classmethod
    def counted(cls, n: int) -> Rows:
        """Rows 1..n of an array or a JSON list."""
        return cls(range(1, n + 1))

    def name(self, i: int) -> str:
        number = self.numbers[i]
        if self.lines is not None:
            return f"row {number} (line {self.lines[i]})"
        return f"row {number} (index {number - 1})"


def raise_for(found: list[tuple[int, str, str]], total: int, summary: str, error: type[RowsError]) -> None:
    """Raises naming the first few (row number, row name, what is wrong) and how many rows are affected."""
    if not total:
        return
    shown = found[:MAX_REPORTED]
    listed = "; ".join(f"{name}: {detail}" for _, name, detail in shown)
    more = f" ({total} rows in all)" if total > len(shown) else ""
    raise error(f"{summary} — {listed}{more}", rows=[number for number, _, _ in shown])


def refuse(
    offending: npt.ArrayLike, rows: Rows, summary: str, detail: Callable[[int], str], error: type[RowsError]
) -> None:
    """Raises if any row is flagged in the bool mask ``offending``."""
    flagged = np.flatnonzero(offending)
    found = [(int(rows.numbers[i]), rows.name(i), detail(i)) for i in flagged[:MAX_REPORTED].tolist()]
    raise_for(found, flagged.size, summary, error)
