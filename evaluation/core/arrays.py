"""`.npy` bytes to and from numpy arrays (pure numpy): how evaluation stores arrays in bytea columns."""

from __future__ import annotations

import io

import numpy as np

# Ranked classes kept per image of a prediction set; more than any metric or candidate count uses. The offline
# evaluator keeps as many, so its numbers equal the server's.
STORED_TOP_K = 10


def to_npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def from_npy_bytes(data: bytes | memoryview) -> np.ndarray:
    array: np.ndarray = np.load(io.BytesIO(bytes(data)), allow_pickle=False)
    return array
