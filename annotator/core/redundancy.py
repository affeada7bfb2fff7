"""Adaptive redundancy: when a question, and so an image, needs no more answers. Pure numpy, no Django.

A *question* is one (image, class shown) pair. It is **settled** once it has at least `min_annotations`
answers and

- with the parameters of a Dawid–Skene run: its label is confidently decided, i.e. its posterior odds are at
  least c / (1 − c) times (c = `confidence`) beyond the odds of the label cut t (`label_threshold`, the
  dataset's DS threshold): |log-odds − logit(t)| ≥ logit(c). With t = ½ that is the posterior outside
  [1 − c, c]; with the product's t = 0.8 the band sits around the cut that decides the label (issue 21's
  follow-up: on ReaL's answers it saves answers where the label is not in doubt and spends them near the
  cut). The log-odds are the run's per-annotator answer weights summed plus the prior of the question's
  stratum (`DsParams.log_odds`), so a new answer moves it without a refit;
- before any run exists, by a majority margin: |yes − no| ≥ `margin` (a maybe counts for neither side).
  With the defaults (min 2, margin 2) that is "the first two answers agree, yes/yes or no/no"; a split
  needs two more agreeing answers than disagreeing ones (y n y y settles at 4; y n y n stays open to 5).

An **image** is settled when it has at least `min_annotations` annotations and every question on it is
settled; it is **exhausted** when it has `max_annotations` (it gets no more, settled or not). Otherwise it
is open and gets one more annotation, which is asked only its still-open questions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

OPEN, SETTLED, EXHAUSTED = "open", "settled", "exhausted"


@dataclass(frozen=True)
class RedundancyRule:
    min_annotations: int = 2
    max_annotations: int = 5
    confidence: float = 0.95  # c: settled when the posterior odds are c / (1 − c) times beyond the label cut's
    margin: int = 2  # before any Dawid–Skene run: settled when |yes − no| ≥ margin
    label_threshold: float = 0.5  # t: the posterior at which the label flips (the dataset's DS threshold)

    def __post_init__(self) -> None:
        if not 1 <= self.min_annotations <= self.max_annotations:
            raise ValueError("need 1 ≤ min annotations ≤ max annotations")
        if not 0.5 < self.confidence < 1:
            raise ValueError("the confidence must lie strictly between 0.5 and 1")
        if self.margin < 1:
            raise ValueError("the majority margin must be at least 1")
        if not 0 < self.label_threshold < 1:
            raise ValueError("the label threshold must lie strictly between 0 and 1")

    @property
    def log_odds_bound(self) -> float:
        """|log-odds − logit(t)| at or beyond which a question is settled: logit(c)."""
        return math.log(self.confidence / (1 - self.confidence))

    @property
    def label_log_odds(self) -> float:
        """The centre of the band: logit(t), the log-odds at which the label flips."""
        return math.log(self.label_threshold / (1 - self.label_threshold))


def questions_settled(
    rule: RedundancyRule,
    *,
    n_answers: np.ndarray,
    yes: np.ndarray,
    no: np.ndarray,
    log_odds: np.ndarray | None = None,
) -> np.ndarray:
    """(Q,) bool: each question settled after its answers so far. `log_odds` (the Dawid–Skene posterior's,
    scored with the latest run's parameters) when a run exists, else None for the majority margin."""
    enough = np.asarray(n_answers) >= rule.min_annotations
    if log_odds is not None:
        # a hair of tolerance, so odds of exactly c / (1 − c) beyond the cut (19:1 at c = 0.95, t = ½) count as outside
        distance = np.abs(np.asarray(log_odds, np.float64) - rule.label_log_odds)
        decided = distance >= rule.log_odds_bound - 1e-9
    else:
        decided = np.abs(np.asarray(yes, np.int64) - np.asarray(no, np.int64)) >= rule.margin
    settled: np.ndarray = enough & decided
    return settled


def images_state(
    rule: RedundancyRule,
    *,
    annotations: np.ndarray,
    question_image: np.ndarray,
    question_settled: np.ndarray,
    maximum: np.ndarray | None = None,
) -> np.ndarray:
    """(I,) OPEN / SETTLED / EXHAUSTED per image, given its annotation count and its questions' states
    (`question_image` dense image 0..I−1 per question). An image without any question yet is settled once
    it has its minimum (its annotators found nothing to ask about). `maximum` (I,) overrides the rule's
    maximum per image (the product adds a reviewer's extra annotations to it)."""
    annotations = np.asarray(annotations, np.int64)
    open_questions = np.bincount(
        np.asarray(question_image, np.int64), (~np.asarray(question_settled, bool)).astype(np.float64),
        minlength=len(annotations),
    )  # fmt: skip
    settled = (annotations >= rule.min_annotations) & (open_questions == 0)
    exhausted = annotations >= (rule.max_annotations if maximum is None else np.asarray(maximum, np.int64))
    return np.where(settled, SETTLED, np.where(exhausted, EXHAUSTED, OPEN))


def open_reason(state: str, annotations: int, open_questions: int) -> str:
    """Why an image is (still) handed out, or why not, in words for the review queue and the status."""
    if state == SETTLED:
        return f"settled after {annotations} answer{'s' if annotations != 1 else ''}"
    if state == EXHAUSTED:
        return f"still undecided after the maximum of {annotations} answers"
    if open_questions == 0:
        return f"below the minimum after {annotations} answer{'s' if annotations != 1 else ''}"
    return (
        f"undecided after {annotations} answer{'s' if annotations != 1 else ''} "
        f"({open_questions} open question{'s' if open_questions != 1 else ''})"
    )
