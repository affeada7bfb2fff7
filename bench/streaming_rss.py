"""Peak RSS of one full-score evaluation, dense `compute_all` against `compute_all_streaming`.

``python -m bench.streaming_rss [50000,200000]`` writes a synthetic N×1000 float32 .npy (logits that favour
1-3 random labels per image, a tenth of the images without labels) per size into a temporary folder, and
its top-5 ranking beside it. Each evaluation then runs in a fresh child process
(`python -m bench.streaming_rss child …`), which reports its peak RSS (VmHWM, as `bench.releases` does),
its peak before the evaluation and the evaluation's wall time. The dense child loads the scores and builds
the N×C label matrix as the service did before; the streaming child gets the path and the CSR labels, as the
service does now. Pure numpy: no database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.releases import _high_water_mb
from evaluation.core.metrics import compute_all, compute_all_streaming, label_matrix, topk_from_scores

NUM_CLASSES = 1000
BLOCK = 20_000


def _labels(n_images: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n_images)
    sizes = rng.integers(1, 4, size=n_images)
    sizes[rng.random(n_images) < 0.1] = 0
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    indices = np.concatenate([np.sort(rng.choice(NUM_CLASSES, s, replace=False)) for s in sizes]).astype(np.int64)
    return indptr, indices


def _write_scores(path: Path, n_images: int) -> None:
    indptr, indices = _labels(n_images)
    rng = np.random.default_rng(n_images + 1)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_images, NUM_CLASSES))
    for start in range(0, n_images, BLOCK):
        stop = min(start + BLOCK, n_images)
        block = rng.standard_normal((stop - start, NUM_CLASSES), dtype=np.float32)
        block += 2.5 * label_matrix(
            (indptr[start : stop + 1] - indptr[start], indices[indptr[start] : indptr[stop]]), NUM_CLASSES
        )
        out[start:stop] = block
    out.flush()
    del out


def _topk(path: Path, n_images: int) -> np.ndarray:
    parts = []
    for start in range(0, n_images, BLOCK):
        mapped = np.load(path, mmap_mode="r")
        parts.append(topk_from_scores(np.array(mapped[start : start + BLOCK]), 5))
        del mapped
    return np.concatenate(parts)


def _child(mode: str, path: Path, n_images: int) -> dict:
    indptr, indices = _labels(n_images)
    topk = np.load(path.with_suffix(".topk.npy"))
    original = np.full(n_images, -1, dtype=np.int64)
    before = _high_water_mb()
    started = time.monotonic()
    if mode == "dense":
        values = compute_all(topk, original, label_matrix((indptr, indices), NUM_CLASSES), np.load(path))
    else:
        values = compute_all_streaming(topk, original, (indptr, indices), NUM_CLASSES, str(path))
    seconds = time.monotonic() - started
    return {
        "mode": mode, "n_images": n_images, "seconds": seconds, "peak_rss_mb": _high_water_mb(),
        "peak_rss_before_mb": before, "map": values["mean_average_precision"], "lrap": values["lrap"],
    }  # fmt: skip


def main(sizes: list[int]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n_images in sizes:
            path = Path(folder) / f"scores_{n_images}.npy"
            _write_scores(path, n_images)
            np.save(path.with_suffix(".topk.npy"), _topk(path, n_images))  # here, so the children start small
            for mode in ("dense", "streaming"):
                command = [sys.executable, "-m", "bench.streaming_rss", "child", mode, str(path), str(n_images)]
                rows.append(json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout))
                print(json.dumps(rows[-1]), flush=True)
            path.unlink()
    dense = {r["n_images"]: r for r in rows if r["mode"] == "dense"}
    for r in rows:
        if r["mode"] == "streaming":
            assert r["map"] == dense[r["n_images"]]["map"]
            assert r["lrap"] == dense[r["n_images"]]["lrap"]
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        print(json.dumps(_child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))))
    else:
        main([int(n) for n in (sys.argv[1] if len(sys.argv) > 1 else "50000,200000").split(",")])
