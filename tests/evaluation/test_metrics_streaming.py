"""`compute_all_streaming` (image blocks, column blocks of a memory-mapped .npy) equals `compute_all` exactly.

Every comparison is ``==`` on the whole result dict, floats included: the streaming path reduces the same
per-image values in the same order (see its docstring), so no tolerance is needed anywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.core.metrics import compute_all, compute_all_streaming, label_matrix, topk_from_scores
from evaluation.core.prediction_formats import parse_predictions
from tests.evaluation.test_real_reference_values import PREDICTIONS, reference

N_IMAGES, N_CLASSES, K = 1037, 23, 5


def random_case(seed: int, *, logits: bool) -> tuple[np.ndarray, np.ndarray, list[list[int]], np.ndarray]:
    """Ties in scores (few distinct values), empty label sets, |Y| up to 8 > k, blank slots, no original."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice([0, 0, 1, 1, 1, 2, 3, 6, 8], size=N_IMAGES)
    label_sets = [sorted(rng.choice(N_CLASSES, size=s, replace=False).tolist()) for s in sizes]
    levels = rng.integers(0, 6, size=(N_IMAGES, N_CLASSES))
    scores = (levels * 3.0 - 7.0 if logits else levels / 5.0).astype(np.float32)
    topk = topk_from_scores(scores, K).astype(np.int64)
    blank = rng.random(N_IMAGES) < 0.05
    topk[blank, 3:] = -1
    topk[rng.random(N_IMAGES) < 0.01] = -1
    original = rng.integers(-1, N_CLASSES, size=N_IMAGES)
    return topk, original, label_sets, scores


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("block_rows", [1, 7, 100, 1037, 5000])
def test_streaming_without_scores_equals_dense(seed: int, block_rows: int) -> None:
    topk, original, label_sets, _ = random_case(seed, logits=False)
    dense = compute_all(topk, original, label_matrix(label_sets, N_CLASSES))
    streamed = compute_all_streaming(topk, original, label_sets, N_CLASSES, block_rows=block_rows)
    assert dense["vtk_left_out"] > 0 and dense["n_empty_label_sets"] > 0  # the case covers |Y| > k and Y = ∅
    assert streamed == dense


@pytest.mark.parametrize(
    ("logits", "transform"), [(False, "auto"), (True, "auto"), (True, "sigmoid"), (False, "softmax")]
)
@pytest.mark.parametrize(("block_rows", "column_block"), [(7, 1), (100, 5), (333, 64), (5000, 23)])
def test_streaming_with_scores_from_a_memory_mapped_npy_equals_dense(
    tmp_path: Path, logits: bool, transform: str, block_rows: int, column_block: int
) -> None:
    topk, original, label_sets, scores = random_case(3, logits=logits)
    path = tmp_path / "scores.npy"
    np.save(path, scores)
    dense = compute_all(topk, original, label_matrix(label_sets, N_CLASSES), scores, score_transform=transform)  # type: ignore[arg-type]
    streamed = compute_all_streaming(
        topk, original, label_sets, N_CLASSES, path, block_rows=block_rows, column_block=column_block,
        score_transform=transform,  # type: ignore[arg-type]
    )  # fmt: skip
    assert dense["vtk_left_out"] == 0 and dense["mean_average_precision"] is not None
    expected_transform = "softmax" if logits and transform == "auto" else transform.replace("auto", "none")
    assert dense["score_transform"] == expected_transform
    assert streamed == dense
    # The same from an in-memory array and from a memory-mapped one.
    for source in (scores, np.load(path, mmap_mode="r")):
        again = compute_all_streaming(
            topk, original, label_sets, N_CLASSES, source, block_rows=block_rows, score_transform=transform,  # type: ignore[arg-type]
        )  # fmt: skip
        assert again == dense


def test_streaming_with_no_label_at_all_equals_dense(tmp_path: Path) -> None:
    topk, original, _, scores = random_case(4, logits=False)
    empty: list[list[int]] = [[] for _ in range(N_IMAGES)]
    dense = compute_all(topk, original, label_matrix(empty, N_CLASSES), scores)
    assert dense["mean_average_precision"] is None
    assert compute_all_streaming(topk, original, empty, N_CLASSES, scores, block_rows=50) == dense


def test_streaming_rejects_scores_of_the_wrong_shape_or_not_finite(tmp_path: Path) -> None:
    topk, original, label_sets, scores = random_case(5, logits=False)
    path = tmp_path / "scores.npy"
    np.save(path, scores[:, :-1])
    with pytest.raises(ValueError, match="shape"):
        compute_all_streaming(topk, original, label_sets, N_CLASSES, path)
    scores[N_IMAGES - 1, 3] = np.nan  # in the last block only
    np.save(path, scores)
    with pytest.raises(ValueError, match="finite"):
        compute_all_streaming(topk, original, label_sets, N_CLASSES, path, block_rows=100)
    with pytest.raises(ValueError, match="must lie in"):
        compute_all_streaming(topk, original, [[N_CLASSES]] * N_IMAGES, N_CLASSES)


@pytest.mark.parametrize("model", ["resnet50", "resnet18", "vgg16"])
def test_streaming_equals_dense_on_imagenet_val_real_with_the_shipped_models(model: str) -> None:
    keys, original, real = reference()
    parsed = parse_predictions(
        (PREDICTIONS / f"{model}_top5.csv").read_bytes(), f"{model}_top5.csv", image_keys=keys, num_classes=1000
    )
    dense = compute_all(parsed.topk, original, label_matrix(real, 1000))
    streamed = compute_all_streaming(parsed.topk, original, real, 1000, block_rows=20_000)
    assert dense["n_images"] == 50_000 and dense["vtk_left_out"] > 0
    assert streamed == dense


def test_streaming_equals_dense_on_imagenet_val_real_with_full_scores(tmp_path: Path) -> None:
    """Full scores on the real label sets: synthetic logits that favour the ReaL labels, 50,000 × 1000."""
    keys, original, real = reference()
    rng = np.random.default_rng(7)
    labels = label_matrix(real, 1000)
    scores = rng.standard_normal((len(keys), 1000), dtype=np.float32)
    scores += 2.5 * labels
    path = tmp_path / "scores.npy"
    np.save(path, scores)
    topk = topk_from_scores(scores, 5)
    dense = compute_all(topk, original, labels, scores)
    streamed = compute_all_streaming(topk, original, real, 1000, path, block_rows=20_000)
    assert dense["score_transform"] == "softmax" and dense["vtk_left_out"] == 0
    assert streamed == dense
