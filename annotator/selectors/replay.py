"""Replaying a dataset's answers under redundancy policies (the proof of adaptive redundancy; read-only).

The dataset's votes are read once (`dataset_vote_data`), replayed in memory per policy
(`annotator.core.replay`), and each policy's final label sets are what the product would compute from the
answers it used: the same Dawid–Skene fit with the dataset's prior strata, posterior > the dataset's DS
threshold. They are compared with the full-answer result (the same fit on every answer), with the majority
vote on the used answers against the majority on all, and, when given, with a published label set (ReaL's
`real.json`: a list by image position of class indices).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from annotator.core.consensus_rules import prior_groups, questions_of
from annotator.core.redundancy import RedundancyRule
from annotator.core.replay import (
    ADAPTIVE,
    FIRST_TWO,
    FIXED,
    MARGIN,
    Policy,
    adaptive_taken,
    answers_taken,
    arrival,
    equal_shares,
    label_sets,
    used_votes,
    warmup_images,
)
from annotator.models import Dataset, Image
from annotator.selectors.consensus import dataset_vote_data

logger = logging.getLogger(__name__)

DEFAULT_CONFIDENCES = (0.9, 0.95, 0.98, 0.99, 0.995, 0.998)


def default_policies(
    confidences: Sequence[float] = DEFAULT_CONFIDENCES, *, rule: RedundancyRule | None = None
) -> list[Policy]:
    """fixed-5 (and fixed-3, fixed-2 for reference), the issue's simple first-two rule image- and question-level,
    the majority margin alone (2 and 3), adaptive at each confidence with `rule`'s label cut (the product's rule:
    the dataset's DS threshold; question-level, and image-level at the rule's confidence), the same with the band
    around ½ (the first rule, for comparison), with the full run's parameters (the ceiling of known answer
    weights), and stopped with those but labelled by a refit on the answers used (what the refit costs)."""
    rule = rule or RedundancyRule()

    def fixed(n: int) -> Policy:
        return Policy(FIXED, RedundancyRule(min_annotations=n, max_annotations=n))

    def adaptive(c: float, question_level: bool = True, label_threshold: float = rule.label_threshold) -> Policy:
        return Policy(ADAPTIVE, replace(rule, confidence=c, label_threshold=label_threshold), question_level)

    return [
        fixed(rule.max_annotations), fixed(3), fixed(2),
        Policy(FIRST_TWO, rule, question_level=False), Policy(FIRST_TWO, rule), Policy(MARGIN, rule),
        Policy(MARGIN, replace(rule, margin=rule.margin + 1)),
        *[adaptive(c) for c in confidences], adaptive(rule.confidence, question_level=False),
        *([adaptive(c, label_threshold=0.5) for c in confidences] if rule.label_threshold != 0.5 else []),
        *[replace(adaptive(c), known_run=True) for c in confidences],
        *[replace(adaptive(c), known_run=True, refit_labels=True) for c in confidences],
    ]  # fmt: skip


@dataclass(frozen=True)
class ReplayInput:
    dataset: Dataset
    seed: int = 0
    warmup_share: float = 0.1  # images answered before the first Dawid–Skene run
    real: list[list[int]] | None = None  # a published label set by image position, e.g. real.json
    prior_mode: str | None = None  # Dawid–Skene prior strata; default the dataset's


def dataset_replay(options: ReplayInput, policies: Sequence[Policy]) -> list[dict]:
    """One result row per policy (shares are fractions in [0, 1])."""
    started = time.perf_counter()
    dataset = options.dataset
    data = dataset_vote_data(dataset)
    q = questions_of(data)
    votes, groups = q.votes, prior_groups(options.prior_mode or dataset.ds_prior, q)
    arrived = arrival(votes, seed=options.seed)
    full, full_weights = label_sets(votes, groups, ds_threshold=dataset.ds_threshold)
    real_questions, real_extra = _published(options.real, dataset, data.image_id, q) if options.real else (None, None)
    warmup = warmup_images(votes.n_images, options.warmup_share, seed=options.seed)
    logger.info("replay of %s: %d answers read and ordered in %.1f s", dataset.slug, votes.n_votes,
                time.perf_counter() - started)  # fmt: skip
    rows = []
    for policy in policies:
        known = full_weights if policy.known_run else None
        if policy.kind == ADAPTIVE and not policy.known_run:
            taken, _ = adaptive_taken(arrived, policy, groups, warmup=warmup)
        else:
            taken = answers_taken(arrived, policy, known, groups)
        used = used_votes(arrived, taken)
        ours, _ = label_sets(used, groups, ds_threshold=dataset.ds_threshold,
                             weights=None if policy.refit_labels else known)  # fmt: skip
        questions_equal, images_equal = equal_shares(ours.ds, full.ds, arrived.image, votes.n_images)
        majority_q, majority_i = equal_shares(ours.majority, full.majority, arrived.image, votes.n_images)
        row = {
            "policy": policy.name,
            "confidence": policy.rule.confidence if policy.kind == ADAPTIVE else None,
            "question_level": policy.question_level if policy.kind != FIXED else None,
            "known_run": policy.known_run,
            "refit_labels": policy.refit_labels,
            "label_threshold": policy.rule.label_threshold if policy.kind == ADAPTIVE else None,
            "ds_parameters": _parameters_used(policy, options.warmup_share),
            "min_annotations": policy.rule.min_annotations,
            "max_annotations": policy.rule.max_annotations,
            "answers_used": used.n_votes,
            "answers_used_share": used.n_votes / votes.n_votes,
            "answers_per_question": used.n_votes / votes.n_items,
            "questions_equal_share": questions_equal,
            "images_equal_share": images_equal,
            "questions_equal_majority_share": majority_q,
            "images_equal_majority_share": majority_i,
            "images_equal_real_share": None,
        }
        if real_questions is not None:
            row["images_equal_real_share"] = equal_shares(
                ours.ds, real_questions, arrived.image, votes.n_images, image_extra=real_extra
            )[1]
        rows.append(row)
        logger.info("replay of %s: %s done", dataset.slug, policy.name)
    return rows


def _parameters_used(policy: Policy, warmup_share: float) -> str:
    if policy.known_run and policy.refit_labels:
        return "stopping: the run on all answers (known answer weights); labels: a run on the answers used"
    if policy.known_run:
        return "the run on all answers, for stopping and labels (known answer weights: a ceiling)"
    if policy.kind == ADAPTIVE:
        return (
            f"stopping: a run on the first {warmup_share:.0%} of images (answered by the majority margin); "
            "labels: a run on the answers used"
        )
    return "labels: a run on the answers used"


def _published(real: list[list[int]], dataset: Dataset, image_ids: np.ndarray, q) -> tuple[np.ndarray, np.ndarray]:
    """Per question: is its class in the published set of its image; per image: published classes it has no
    question about (they make the image unequal whatever the policy)."""
    position_of = dict(Image.objects.filter(dataset=dataset).values_list("id", "position"))
    published = [set(real[position_of[int(i)]]) if position_of[int(i)] < len(real) else set() for i in image_ids]
    in_published = np.array(
        [int(c) in published[int(i)] for i, c in zip(q.image.tolist(), q.class_index.tolist(), strict=True)], bool
    )
    found = np.bincount(q.image, in_published.astype(np.float64), minlength=len(image_ids))
    extra = np.array([len(s) for s in published], np.float64) - found
    return in_published, extra
