"""How many labels the images of a label source hold: its multi-label share (pure Python + numpy, no Django).

The agreement dashboard shows it for the live consensus and every evaluation for its label source
(`evaluation.core.metrics.compute_all`), so both read it from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from annotator.core.intervals import interval, ratio


def label_count_summary(counts: Iterable[int], confidence: float = 0.95) -> dict[str, Any]:
    """The multi-label share of a label source from its |Y| histogram: `counts[s]` images have s labels
    (s = 0: an empty set, left out of the share)."""
    histogram = [int(c) for c in counts]
    n_labelled, n_multilabel = sum(histogram[1:]), sum(histogram[2:])
    return {
        "n_labelled": n_labelled,
        "n_multilabel": n_multilabel,
        "multilabel_share": ratio(n_multilabel, n_labelled),
        "multilabel_share_ci": interval(n_multilabel, n_labelled, confidence),
        "label_count_histogram": histogram,
    }
