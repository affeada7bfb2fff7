"""The seeded pilot sampler (pure numpy, no Django); `evaluation.core.pilot` documents the sample and its
estimates, `annotator.services.pilots` draws it for a dataset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

SampleMode = Literal["uniform", "stratified"]
SAMPLE_MODES: tuple[SampleMode, ...] = ("uniform", "stratified")


def pilot_sample(
    image_ids: Sequence[int] | np.ndarray,
    original_labels: Sequence[int] | np.ndarray | None = None,
    *,
    n: int,
    mode: SampleMode = "uniform",
    seed: int,
) -> np.ndarray:
    """The ids of the pilot images, sorted; see the module docstring. `original_labels` (-1: none) is needed
    for `stratified` only, aligned with `image_ids`."""
    ids = np.asarray(image_ids, dtype=np.int64)
    if ids.ndim != 1 or np.unique(ids).size != ids.size:
        raise ValueError("image ids must be a list of distinct integers")
    if not 1 <= n <= ids.size:
        raise ValueError(f"the pilot size must lie in 1..{ids.size} (the dataset's images)")
    if mode not in SAMPLE_MODES:
        raise ValueError(f"mode must be one of {', '.join(SAMPLE_MODES)}")
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    rng = np.random.default_rng(seed)
    if mode == "uniform":
        return np.sort(rng.choice(ids, size=n, replace=False))
    if original_labels is None:
        raise ValueError("a stratified sample needs the original labels")
    strata = np.asarray(original_labels, dtype=np.int64)[order]
    if strata.shape != ids.shape:
        raise ValueError("one original label per image is needed")
    classes, stratum_of, sizes = np.unique(strata, return_inverse=True, return_counts=True)
    quota = sizes * n / ids.size
    take = np.floor(quota).astype(np.int64)
    short = n - int(take.sum())
    # Largest remainder first; a seeded random key breaks ties, so no class is favoured by its index.
    remainder_order = np.lexsort((rng.random(classes.size), -(quota - take)))
    take[remainder_order[:short]] += 1
    chosen = [rng.choice(ids[stratum_of == s], size=int(t), replace=False) for s, t in enumerate(take) if t]
    return np.sort(np.concatenate(chosen))


def pilot_order(n: int, seed: int) -> np.ndarray:
    """The hand-out rank of each of the n sampled images (in the sampler's id order): a seeded permutation of
    0..n-1, drawn from a stream of its own, so the images settled first are a random part of the pilot even
    when positions follow classes (an ImageFolder tree), and the sample itself does not depend on it."""
    return np.random.default_rng([seed, 1]).permutation(n)
