"""Agreement figures of a dataset, computed from all its votes at once and stored as an append-only snapshot.

Maths in `annotator.core.agreement` (maybe answers dropped as "no verdict" for every binary statistic; label
sets hold the yes answers). "Valid" is the stored effective consensus, adjudications included; images
still pending count for the vote statistics but not for label-set figures (sizes, pairs, rejections).
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
from django.db import transaction

from annotator.core.agreement import (
    LabelSets,
    agreement_histogram,
    binary_alpha,
    consensus_set_sizes,
    cooccurring_pairs,
    per_annotator_agreement,
    per_class_agreement,
    per_image_agreement,
    set_alpha,
)
from annotator.core.consensus_rules import Questions, VoteData, questions_of
from annotator.models import AgreementSnapshot, Consensus, Dataset, GoldAnswer, Image, LabelClass
from annotator.pg_copy import read_int_columns
from annotator.selectors.consensus import answers_per_image, consensus_status_counts, dataset_vote_data

TOP_PAIRS = 20


@transaction.atomic
def agreement_compute(*, dataset: Dataset) -> AgreementSnapshot:
    """Compute every agreement figure and append a snapshot. Locking: none (reads, then one insert)."""
    started = time.perf_counter()
    data = dataset_vote_data(dataset)
    q = questions_of(data)
    # Below, the questions hold the votes: the vote columns go (issue 23: ~300 MB at 1.3 M images).
    data = _without_votes(data)
    votes = q.votes
    settled_q, valid = settled_questions(dataset, data.image_id, q)
    classes = {pk: (index, key, name) for pk, index, key, name in LabelClass.objects.filter(dataset=dataset)
               .values_list("id", "index", "key", "name")}  # fmt: skip
    n_classes = max((index for index, _, _ in classes.values()), default=-1) + 1
    sizes = consensus_set_sizes(valid[settled_q], q.image[settled_q]) if settled_q.any() else None
    image_agreement = per_image_agreement(votes) if votes.n_votes else np.zeros(0)
    counts, edges = agreement_histogram(image_agreement)
    figures = {
        "n_images": int(data.n_images),
        "n_annotated_images": int(len(np.unique(data.ann_image))),
        "n_questions": int(votes.n_items),
        "n_votes": int(votes.n_votes),
        "status": consensus_status_counts(dataset, n_images=data.n_images),
        "binary_alpha": _num(binary_alpha(votes)) if votes.n_votes else None,
        "set_alpha_masi": _num(set_alpha(LabelSets.from_votes(votes, q.class_index))) if votes.n_votes else None,
        "multi_label_share": _num(sizes.multi_label_share) if sizes else None,
        "empty_share": _num(sizes.empty_share) if sizes else None,
        "n_settled_images": int(sizes.n_images) if sizes else 0,
        "set_size_counts": sizes.size_counts.tolist() if sizes else [],
        "histogram": {"counts": counts.tolist(), "edges": [round(float(e), 3) for e in edges]},
        "mean_image_agreement": _num(np.nanmean(image_agreement)) if np.any(~np.isnan(image_agreement)) else None,
        "classes": _per_class(votes, q, valid, settled_q, classes, n_classes),
        "pairs": _pairs(valid & settled_q, q, classes),
        "annotators": _per_annotator(dataset, data, q),
        # One GROUP BY over the images, here rather than on every dashboard view (issue 23: pages never scan).
        "answers_per_image": answers_per_image(dataset),
    }
    return AgreementSnapshot.objects.create(
        dataset=dataset, n_votes=votes.n_votes, figures=figures, seconds=time.perf_counter() - started
    )


_SETTLED_SQL = f"SELECT image_id::bigint FROM {Consensus._meta.db_table} WHERE dataset_id = %s AND status <> %s"
_SETTLED_LABELS_SQL = (
    f"SELECT c.image_id::bigint, label::bigint FROM {Consensus._meta.db_table} c, unnest(c.labels) AS label "
    f"WHERE c.dataset_id = %s AND c.status <> %s"
)
_GOLD_SQL = (
    f"SELECT g.image_id::bigint, g.label_class_id::bigint, (g.answer = 'yes')::int::bigint "
    f"FROM {GoldAnswer._meta.db_table} g JOIN {Image._meta.db_table} i ON i.id = g.image_id WHERE i.dataset_id = %s"
)


def _packed(classes: np.ndarray, image: np.ndarray, class_id: np.ndarray) -> np.ndarray:
    """(dense image, class pk) pairs packed into one int64 each, by the class's position in the sorted `classes`;
    −1 for a pair whose image is −1 or whose class is not among them (no question has −1)."""
    if not len(classes):
        return np.full(len(image), -1, np.int64)
    at = np.minimum(np.searchsorted(classes, class_id), len(classes) - 1)
    return np.where((classes[at] == class_id) & (image >= 0), image * len(classes) + at, -1)


def _dense_images(image_ids: np.ndarray, pks: np.ndarray) -> np.ndarray:
    """Dense index of each image pk in the sorted `image_ids`, −1 for a pk not among them."""
    if not len(image_ids):
        return np.full(len(pks), -1, np.int64)
    at = np.minimum(np.searchsorted(image_ids, pks), len(image_ids) - 1)
    return np.where(image_ids[at] == pks, at, -1)


def settled_questions(dataset: Dataset, image_ids: np.ndarray, q: Questions) -> tuple[np.ndarray, np.ndarray]:
    """(Q,) whether each question's image has a consensus that is not pending, and whether its class is in
    that consensus's label set: two COPY reads and sorted lookups on packed keys (no Python object per image
    or question; issue 23)."""
    pending = Consensus.Status.PENDING
    settled = read_int_columns(_SETTLED_SQL, [dataset.pk, pending.value], 1)[:, 0]
    settled_q = np.isin(q.image, _dense_images(image_ids, settled))
    labels = read_int_columns(_SETTLED_LABELS_SQL, [dataset.pk, pending.value], 2)
    classes = np.unique(q.class_id)
    own = _packed(classes, q.image, q.class_id)
    valid = np.isin(own, _packed(classes, _dense_images(image_ids, labels[:, 0]), labels[:, 1]))
    return settled_q, valid & (own >= 0)


def gold_of_questions(dataset: Dataset, image_ids: np.ndarray, q: Questions) -> np.ndarray:
    """(Q,) each question's gold answer, 1 yes / 0 no / −1 none: one COPY read and a sorted lookup (a gold
    answer per question at most: a unique constraint)."""
    rows = read_int_columns(_GOLD_SQL, [dataset.pk], 3)
    gold = np.full(q.votes.n_items, -1, np.int8)
    if len(rows):
        classes = np.unique(q.class_id)
        keys = _packed(classes, _dense_images(image_ids, rows[:, 0]), rows[:, 1])
        order = np.argsort(keys)
        keys, answers = keys[order], rows[order, 2]
        own = _packed(classes, q.image, q.class_id)
        at = np.minimum(np.searchsorted(keys, own), len(keys) - 1)
        found = (keys[at] == own) & (own >= 0)
        gold[found] = answers[at[found]]
    return gold


def _without_votes(data: VoteData) -> VoteData:
    """`data` with its per-vote columns emptied: nothing after `questions_of` reads them."""
    empty = np.zeros(0, np.int64)
    return dataclasses.replace(
        data, vote_image=empty, vote_class=empty, vote_class_index=empty, vote_annotator=empty,
        vote_answer=empty.astype(np.int8), vote_candidate=None,
    )  # fmt: skip


def _num(x: float | np.floating) -> float | None:
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else round(x, 6)


def _per_class(votes, q, valid, settled_q, classes, n_classes) -> list[dict]:
    stats = per_class_agreement(
        votes, q.class_index, n_classes=max(n_classes, 1), valid=valid, is_original=q.is_original & settled_q
    )
    by_index = {index: (key, name) for index, key, name in classes.values()}
    return [
        {
            "index": c,
            "key": by_index[c][0],
            "name": by_index[c][1],
            "n_questions": int(stats.n_questions[c]),
            "n_votes": int(stats.n_votes[c]),
            "yes_share": _num(stats.yes_share[c]),
            "positive_agreement": _num(stats.positive_agreement[c]),
            "fleiss_kappa": _num(stats.fleiss_kappa[c]),
            "n_original": int(stats.n_original[c]),
            "original_rejected": int(stats.original_rejected[c]),
            "original_rejected_share": _num(stats.original_rejected[c] / stats.n_original[c])
            if stats.n_original[c]
            else None,
        }  # fmt: skip
        for c in np.flatnonzero(stats.n_questions > 0).tolist()
        if c in by_index
    ]


def _pairs(valid, q, classes) -> list[dict]:
    by_index = {index: name for index, _, name in classes.values()}
    a, b, count = cooccurring_pairs(valid, q.image, q.class_index, top=TOP_PAIRS)
    return [
        {
            "a": int(x),
            "b": int(y),
            "a_name": by_index.get(int(x), ""),
            "b_name": by_index.get(int(y), ""),
            "count": int(n),
        }
        for x, y, n in zip(a.tolist(), b.tolist(), count.tolist(), strict=True)
    ]


def _per_annotator(dataset: Dataset, data, q) -> list[dict]:
    from django.contrib.auth import get_user_model

    gold = gold_of_questions(dataset, data.image_id, q)
    stats = per_annotator_agreement(q.votes, gold=gold)
    names = dict(get_user_model().objects.filter(pk__in=q.annotator_ids.tolist()).values_list("id", "username"))
    # annotations and median seconds per image, per annotator (every annotator, even one without votes)
    order = np.argsort(data.ann_annotator, kind="stable")
    users, starts, n_annotations = np.unique(data.ann_annotator[order], return_index=True, return_counts=True)
    seconds = np.split(data.ann_seconds[order], starts[1:]) if len(users) else []
    median = {int(u): float(np.median(s)) for u, s in zip(users.tolist(), seconds, strict=True)}
    count = dict(zip(users.tolist(), n_annotations.tolist(), strict=True))
    rows = []
    for a, uid in enumerate(q.annotator_ids.tolist()):
        rows.append({
            "id": uid, "username": names.get(uid, str(uid)), "annotations": count.get(uid, 0),
            "median_seconds": _num(median.get(uid, float("nan"))), "n_votes": int(stats.n_votes[a]),
            "n_maybe": int(stats.n_maybe[a]), "n_compared": int(stats.n_compared[a]),
            "sensitivity": _num(stats.sensitivity[a]), "specificity": _num(stats.specificity[a]),
            "kappa": _num(stats.kappa[a]), "n_gold": int(stats.n_gold[a]),
            "gold_accuracy": _num(stats.gold_accuracy[a]),
        })  # fmt: skip
    return sorted(rows, key=lambda r: (-r["annotations"], r["username"]))
