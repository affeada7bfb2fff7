"""The write of an import (annotator.services.votes_import): the votes in write order, grouped into one annotation
per (image, rater), written by blocks of `WRITE_BLOCK` votes with COPY — each block's annotations, their first
revisions and its votes made and sent before the next block is built, so memory holds one block's arrays and lines
(the whole import's took GBs at 19.5 M votes). The caller holds the transaction: all blocks or none."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from annotator.core.aggregation import YES
from annotator.core.vote_formats import VoteTable
from annotator.models import Annotation, AnnotationRevision, Dataset, Image, LabelClass, Vote
from annotator.pg_copy import copy_text, foreign_keys_checked_in_bulk, pg_array, read_int_columns

# Annotations' client UUIDs: uuid5 of dataset, image and rater, so a second import of a file finds them.
IMPORT_NAMESPACE = uuid.UUID("6f1c1d44-3b0e-4a4e-9a43-7e4d2c1f0a04")
_ANSWER_NAMES = {0: "no", 1: "yes", 2: "maybe"}


@dataclass(frozen=True)
class VotePlan:
    """The votes in the order they are written, grouped into annotations, and the ids they carry."""

    order: np.ndarray  # (V,) votes by image id, annotator id, class id; ties in file order
    bounds: np.ndarray  # (A + 1,) where each (image, annotator) group of `order` starts, then V
    fresh: np.ndarray  # (A,) bool: no annotation of the pair in the dataset yet
    image_ids: np.ndarray  # (Q,) per question
    class_ids: np.ndarray  # (Q,)
    user_ids: np.ndarray  # (R,) per rater


# Votes per block of the write: each block's annotations, revisions and votes are made and sent on their own, so
# memory holds one block's arrays and lines (the whole import's took GBs at 19.5 M votes).
WRITE_BLOCK = 1 << 19


def votes_plan(dataset: Dataset, votes: VoteTable, image_ids, class_ids, user_ids) -> VotePlan:
    order = _vote_order(votes, image_ids, class_ids, user_ids)
    width = int(user_ids.max(initial=0)) + 1
    starts, pairs, previous = [], [], None
    for lo in range(0, len(order), WRITE_BLOCK):
        block = order[lo : lo + WRITE_BLOCK]
        pair = image_ids[votes.question[block]] * width + user_ids[votes.rater[block]]
        new = np.empty(len(pair), bool)
        new[0] = previous is None or pair[0] != previous
        np.not_equal(pair[1:], pair[:-1], out=new[1:])
        starts.append(np.flatnonzero(new) + lo)
        pairs.append(pair[new])
        previous = pair[-1]
    pair = np.concatenate(pairs) if pairs else np.zeros(0, np.int64)
    bounds = np.r_[np.concatenate(starts) if starts else np.zeros(0, np.int64), len(order)]
    fresh = ~_already_annotated(dataset, pair // width, pair % width)
    return VotePlan(order, bounds, fresh, image_ids, class_ids, user_ids)


def _vote_order(votes: VoteTable, image_ids, class_ids, user_ids) -> np.ndarray:
    """The permutation np.lexsort((class id, user id, image id)) of the votes, from one int64 key of the three ranks
    instead of three int64 columns (24 bytes a vote, and lexsort's own)."""
    image_rank = np.unique(image_ids, return_inverse=True)[1].reshape(-1)
    users, user_rank = np.unique(user_ids, return_inverse=True)
    classes, class_rank = np.unique(class_ids, return_inverse=True)
    n_images = int(image_rank.max(initial=0)) + 1
    if n_images * len(users) * len(classes) >= 2**62:
        return np.lexsort((class_ids[votes.question], user_ids[votes.rater], image_ids[votes.question]))
    key = (image_rank * len(users))[votes.question]
    key += user_rank.reshape(-1)[votes.rater]
    key *= len(classes)
    key += class_rank.reshape(-1)[votes.question]
    return np.argsort(key, kind="stable")


def _already_annotated(dataset: Dataset, images: np.ndarray, users: np.ndarray) -> np.ndarray:
    """Whether each (image, user) already has an annotation in the dataset."""
    done = np.array(
        Annotation.objects.filter(dataset=dataset, annotator_id__in=np.unique(users).tolist()).values_list(
            "image_id", "annotator_id"
        ),
        np.int64,
    ).reshape(-1, 2)
    width = int(max(users.max(initial=0), done[:, 1].max(initial=0))) + 1
    return np.isin(images * width + users, done[:, 0] * width + done[:, 1])


@dataclass(frozen=True)
class _Block:
    """The fresh annotations of one block of the plan, and their votes in order."""

    bounds: np.ndarray  # (a + 1,) into the block's votes
    question: np.ndarray  # (v,) per vote
    image: np.ndarray
    label_class: np.ndarray
    user: np.ndarray
    answer: np.ndarray
    image_key: np.ndarray  # (a,) str: the image's key in the input, per annotation


def _blocks(votes: VoteTable, plan: VotePlan) -> Iterator[_Block]:
    bounds, n = plan.bounds, len(plan.fresh)
    first = 0
    while first < n:
        last = max(int(np.searchsorted(bounds, bounds[first] + WRITE_BLOCK, "right")) - 1, first + 1)
        last = min(last, n)
        fresh, sizes = plan.fresh[first:last], np.diff(bounds[first : last + 1])
        first, lo, hi = last, int(bounds[first]), int(bounds[last])
        if not fresh.any():
            continue
        order = plan.order[lo:hi][np.repeat(fresh, sizes)]
        question = votes.question[order]
        block_bounds = np.r_[0, np.cumsum(sizes[fresh])]
        yield _Block(
            bounds=block_bounds,
            question=question,
            image=plan.image_ids[question],
            label_class=plan.class_ids[question],
            user=plan.user_ids[votes.rater[order]],
            answer=votes.answer[order],
            image_key=votes.image_keys[question[block_bounds[:-1]]],
        )


LINES_BLOCK = 1 << 16


def _vote_lines(annotation_ids: np.ndarray, block: _Block) -> Iterator[str]:
    """COPY lines of a block's votes, made into Python values `LINES_BLOCK` votes at a time (the five columns of a
    whole block as lists of ints held 100 MB)."""
    annotation_of_vote = np.repeat(annotation_ids, np.diff(block.bounds))
    columns = (block.image, block.label_class, block.user, annotation_of_vote, block.answer)
    names = [_ANSWER_NAMES[k] for k in range(3)]
    for start in range(0, len(annotation_of_vote), LINES_BLOCK):
        values = [column[start : start + LINES_BLOCK].tolist() for column in columns]
        for i, c, u, a, w in zip(*values, strict=True):
            yield f"{i}\t{c}\t{u}\t{a}\t{names[w]}\n"


ANNOTATION_COLUMNS = ("id", "image_id", "annotator_id", "dataset_id", "shown", "classes", "none_fits", "unsure",
                      "bad_image", "seconds", "client_uuid", "revision_count", "created_at", "updated_at")  # fmt: skip
VOTE_COLUMNS = ("image_id", "label_class_id", "annotator_id", "annotation_id", "answer")


def votes_write(dataset: Dataset, votes: VoteTable, plan: VotePlan) -> tuple[int, int]:
    """Annotations (ids drawn from their sequence), one revision each, and the votes, by COPY, a block of votes
    (`WRITE_BLOCK`) at a time; (annotations, votes) written. Everything per vote stays in numpy arrays of one
    block; Python values are made a line at a time."""
    now = timezone.now().isoformat()
    rater_of_user = dict(zip(plan.user_ids.tolist(), votes.rater_ids.tolist(), strict=True))
    # The annotations, their revisions and the votes refer to images, classes, users and the dataset, locked once
    # here instead of a trigger check per row (6.5 M annotations and revisions took minutes of row-wise checks);
    # a revision's or vote's annotation was inserted by this transaction, which nobody else can delete.
    images, classes, users = set(), set(), set()
    for block in _blocks(votes, plan):
        images.update(np.unique(block.image[block.bounds[:-1]]).tolist())
        users.update(np.unique(block.user[block.bounds[:-1]]).tolist())
        classes.update(np.unique(block.label_class).tolist())
    references = ((Image, sorted(images)), (LabelClass, sorted(classes)), (get_user_model(), sorted(users)),
                  (Dataset, [dataset.pk]))  # fmt: skip
    added, n_annotations, n_votes = [], 0, 0
    with foreign_keys_checked_in_bulk(references):  # ReferencedRowMissingError: the caller explains it
        for block in _blocks(votes, plan):
            annotation_ids = _annotations_write(dataset, block, rater_of_user, now)
            copy_text(Vote._meta.db_table, VOTE_COLUMNS, _vote_lines(annotation_ids, block))
            added.append(block.image[block.bounds[:-1]])
            n_annotations, n_votes = n_annotations + len(annotation_ids), n_votes + len(block.question)
    added_images, counts = np.unique(np.concatenate(added), return_counts=True)
    with connection.cursor() as cursor:
        # Raise `annotations_needed` where the import brings more annotations than the image needed.
        cursor.execute(
            f"UPDATE {Image._meta.db_table} AS i SET annotation_count = i.annotation_count + n.k, "
            "annotations_needed = GREATEST(i.annotations_needed, i.annotation_count + n.k + i.lease_count) "
            "FROM unnest(%s::bigint[], %s::int[]) AS n(id, k) WHERE i.id = n.id",
            [pg_array(added_images.tolist()), pg_array(counts.tolist())],
        )
    return n_annotations, n_votes


def _annotations_write(dataset: Dataset, block: _Block, rater_of_user: dict[int, str], now: str) -> np.ndarray:
    """One block's annotations and their first revisions; their ids."""
    table = Annotation._meta.db_table
    n = len(block.bounds) - 1
    annotation_ids = read_int_columns(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))::bigint FROM generate_series(1, %s)", [n], 1
    )[:, 0]
    starts = block.bounds[:-1]
    images, users = block.image[starts], block.user[starts]

    def lines() -> Iterator[str]:
        for a in range(n):
            lo, hi = int(block.bounds[a]), int(block.bounds[a + 1])
            shown = block.label_class[lo:hi]
            chosen = shown[block.answer[lo:hi] == YES]
            image, user = int(images[a]), int(users[a])
            client = uuid.uuid5(IMPORT_NAMESPACE, f"{dataset.slug}/{block.image_key[a]}/{rater_of_user[user]}")
            yield (
                f"{annotation_ids[a]}\t{image}\t{user}\t{dataset.pk}\t{pg_array(shown.tolist())}\t"
                f"{pg_array(chosen.tolist())}\tf\tf\tf\t0\t{client}\t1\t{now}\t{now}\n"
            )

    copy_text(table, ANNOTATION_COLUMNS, lines())
    # Each annotation's first revision is its own copy, made by the server (no second stream of lines).
    revision_columns = "annotator_id, classes, none_fits, unsure, bad_image, seconds, client_uuid, created_at"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AnnotationRevision._meta.db_table} (annotation_id, number, {revision_columns}) "
            f"SELECT a.id, 1, {', '.join('a.' + c for c in revision_columns.split(', '))} "
            f"FROM {table} a JOIN unnest(%s::bigint[]) AS n(id) ON n.id = a.id",
            # One array literal: a list parameter becomes ARRAY[…] with a parse node per element (6.5 M of them
            # held the server process at 5 GB).
            [pg_array(annotation_ids.tolist())],
        )
    return annotation_ids
