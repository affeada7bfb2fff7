"""Synthetic annotation answers with realistic disagreement, as a CSV for `import_votes`.

Each image has a true label set: its original label, plus a second valid class for about 20% of
images (the multi-label share the seed paper reports). Annotators are asked about 3 candidates
(the true classes plus distractors) and answer with their own sensitivity (0.80–0.97) and
specificity (0.88–0.99), so that consensus, Dawid–Skene and agreement have real work to do.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def write_votes_csv(
    path: Path,
    *,
    image_keys: list[str],
    original_index: np.ndarray,
    num_classes: int = 1000,
    annotators_per_image: int = 5,
    annotator_pool: int = 40,
    candidates: int = 3,
    multi_label_share: float = 0.2,
    seed: int = 0,
) -> int:
    """Write `image,class,annotator,answer` rows; returns the number of votes."""
    rng = np.random.default_rng(seed)
    n = len(image_keys)
    sensitivity = rng.uniform(0.80, 0.97, annotator_pool)
    specificity = rng.uniform(0.88, 0.99, annotator_pool)
    second = (original_index + rng.integers(1, num_classes, n)) % num_classes
    has_second = rng.random(n) < multi_label_share
    distractors = (original_index[:, None] + rng.integers(1, num_classes, (n, candidates))) % num_classes
    rows = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "class", "annotator", "answer"])
        for i, key in enumerate(image_keys):
            shown = [int(original_index[i])]
            if has_second[i]:
                shown.append(int(second[i]))
            for d in distractors[i]:
                if len(shown) == candidates:
                    break
                if int(d) not in shown:
                    shown.append(int(d))
            valid = set(shown[: 2 if has_second[i] else 1])
            raters = rng.choice(annotator_pool, annotators_per_image, replace=False)
            draws = rng.random((annotators_per_image, len(shown)))
            for r, rater in enumerate(raters):
                for c, cls in enumerate(shown):
                    p_yes = sensitivity[rater] if cls in valid else 1 - specificity[rater]
                    writer.writerow([key, cls, f"synthetic-{rater:02d}", "yes" if draws[r, c] < p_yes else "no"])
                    rows += 1
    return rows
