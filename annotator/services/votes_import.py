"""Importing answers collected elsewhere (see annotator.core.vote_formats) as annotations, votes and gold answers.

Every reference is resolved before anything is written: one unknown image, unknown class or repeated
answer refuses the whole import. Each outside rater becomes an inactive annotator account
(`imported-<rater id>`), so every agreement figure covers them, and each (image, rater) one annotation
with a deterministic client UUID: importing the same file again writes nothing. Votes go in with COPY.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from annotator.core.aggregation import YES
from annotator.core.vote_formats import GoldTable, VoteTable
from annotator.models import Annotation, AnnotationRevision, Dataset, GoldAnswer, Image, LabelClass, Vote
from annotator.pg_copy import (
    ReferencedRowMissingError,
    copy_text,
    foreign_keys_checked_in_bulk,
    pg_array,
    read_int_columns,
)
from annotator.roles import ANNOTATOR, role_groups
from annotator.services.consensus import consensus_recompute_dataset

logger = logging.getLogger(__name__)

IMPORT_NAMESPACE = uuid.UUID("6f1c1d44-3b0e-4a4e-9a43-7e4d2c1f0a04")
_ANSWER_NAMES = {0: "no", 1: "yes", 2: "maybe"}


class VotesImportError(ValueError):
    """Input that does not fit the dataset; the message names the first offending rows."""


@dataclass
class VotesImportReport:
    raters: int = 0
    accounts_created: int = 0
    annotations_created: int = 0
    votes_created: int = 0
    annotations_skipped: int = 0
    gold_answers: int = 0
    consensus_changed: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.raters} raters ({self.accounts_created} new accounts), {self.annotations_created} annotations "
            f"and {self.votes_created} votes imported, {self.annotations_skipped} annotations already present, "
            f"{self.gold_answers} gold answers, {self.consensus_changed} consensus rows changed, "
            f"in {self.seconds:.1f} s"
        )


USERNAME_PREFIX = "imported-"
# A rater's account is `imported-<rater id>`, in Django's 150-character username: a longer rater id is refused (cut
# short, two raters sharing their first 141 characters were one account, and the import failed on a duplicate vote).
RATER_ID_MAX = 150 - len(USERNAME_PREFIX)


def username_of(rater_id: str) -> str:
    return f"{USERNAME_PREFIX}{rater_id}"


@transaction.atomic
def votes_import(*, dataset: Dataset, votes: VoteTable, gold: GoldTable | None = None) -> VotesImportReport:
    """Import the votes (and gold answers), then recompute the dataset's consensus.

    Locking: none; run it while nobody annotates the same images (an imported rater never holds a lease).
    """
    started = time.perf_counter()
    report = _votes_write(dataset, votes)  # its arrays are gone before the consensus below reads every vote
    if gold is not None:
        report.gold_answers = _gold_write(dataset, gold)
    if report.annotations_created:
        with connection.cursor() as cursor:
            # Fresh statistics, or the planner takes the new million rows for none (nested loops: 5 s per read).
            for model in (Annotation, Vote, Image):
                cursor.execute(f"ANALYZE {model._meta.db_table}")
    if report.annotations_created:
        report.consensus_changed = consensus_recompute_dataset(dataset=dataset)
    report.seconds = time.perf_counter() - started
    logger.info("votes imported into %s: %s", dataset.slug, report.summary())
    return report


def _votes_write(dataset: Dataset, votes: VoteTable) -> VotesImportReport:
    with connection.cursor() as cursor:
        # Check foreign keys row by row as the rows arrive: a deferred check of 4 keys × 925k votes queued
        # to the commit costs 30 s, the immediate one a few seconds.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    image_ids, class_ids = resolve_questions(
        dataset,
        votes.image_keys,
        votes.class_refs,
        votes.where,
        by_name=votes.class_by_name,
        image_fallback=votes.image_fallback,
    )
    _refuse_repeated_answers(votes, image_ids, class_ids)
    report = VotesImportReport(raters=len(votes.rater_ids))
    _refuse_long_rater_ids(votes)
    user_ids, report.accounts_created = _accounts(dataset, votes.rater_ids)
    plan = _plan(dataset, votes, image_ids, class_ids, user_ids)
    report.annotations_skipped = len(plan.fresh) - int(plan.fresh.sum())
    if plan.fresh.any():
        report.annotations_created, report.votes_created = _write(dataset, votes, plan)
    return report


def resolve_questions(
    dataset: Dataset,
    image_keys: np.ndarray,
    class_refs: np.ndarray,
    where: Sequence[str],
    *,
    max_errors: int = 5,
    by_name: bool = False,
    image_fallback: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(image id, class id) per question. A class reference is its key or, failing that, its index, or with
    `by_name` its name when no other class has the same one. An image key not in the dataset is tried again
    as its `image_fallback`, where one is given."""
    known_keys, known_ids = _sorted_pairs(Image.objects.filter(dataset=dataset).values_list("key", "id"))
    image_ids = _lookup(known_keys, known_ids, image_keys)
    if image_fallback is not None:
        missing = (image_ids < 0) & (image_fallback != "")
        image_ids[missing] = _lookup(known_keys, known_ids, image_fallback[missing])
    classes = list(LabelClass.objects.filter(dataset=dataset).values_list("key", "index", "id", "name"))
    by_ref = {str(index): pk for _, index, pk, _ in classes}
    shared_names: set[str] = set()
    if by_name:
        named = Counter(name for *_, name in classes)
        shared_names = {name for name, n in named.items() if n > 1}
        by_ref |= {name: pk for _, _, pk, name in classes if name not in shared_names}
    by_ref |= {key: pk for key, _, pk, _ in classes}
    ref_keys, ref_ids = _sorted_pairs(by_ref.items())
    class_ids = _lookup(ref_keys, ref_ids, class_refs)
    errors = []
    for q in np.flatnonzero((image_ids < 0) | (class_ids < 0))[:max_errors].tolist():
        what = f"image {str(image_keys[q])!r} is not in {dataset.slug}" if image_ids[q] < 0 else ""
        if class_ids[q] < 0:
            ref = str(class_refs[q])
            problem = "names several classes; use its key" if ref in shared_names else "is not in its vocabulary"
            what += ("; " if what else "") + f"class {ref!r} {problem}"
        errors.append(f"{where[q]}: {what}")
    if errors:
        raise VotesImportError("\n".join(errors))
    return image_ids, class_ids


def _sorted_pairs(rows) -> tuple[np.ndarray, np.ndarray]:
    rows = sorted(rows)
    return np.array([r[0] for r in rows], dtype=str), np.array([r[1] for r in rows], np.int64)


def _lookup(keys: np.ndarray, ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    if not len(keys):
        return np.full(len(wanted), -1, np.int64)
    pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[pos] == wanted, ids[pos], -1)


def _refuse_repeated_answers(votes: VoteTable, image_ids: np.ndarray, class_ids: np.ndarray) -> None:
    """One answer per (image, class, rater), however the class was named (key or index). Checked on one sorted
    int64 key (9 bytes a vote); the rows to name are looked for only when there are some."""
    _, question = np.unique(image_ids * (int(class_ids.max(initial=0)) + 1) + class_ids, return_inverse=True)
    key = question.reshape(-1)[votes.question] * max(len(votes.rater_ids), 1) + votes.rater
    key.sort()
    if not np.any(key[1:] == key[:-1]):
        return
    key = question.reshape(-1)[votes.question] * max(len(votes.rater_ids), 1) + votes.rater
    order = np.argsort(key, kind="stable")
    repeated = order[1:][key[order][1:] == key[order][:-1]]
    lines = [
        f"{votes.where[votes.question[v]]}: rater {str(votes.rater_ids[votes.rater[v]])!r} answered it twice"
        for v in repeated[:5].tolist()
    ]
    raise VotesImportError("\n".join(lines))


def _refuse_long_rater_ids(votes: VoteTable) -> None:
    long = [r for r in votes.rater_ids.tolist() if len(r) > RATER_ID_MAX]
    if long:
        lines = [f"rater {r[:30]!r}…{r[-10:]!r} is {len(r)} characters long; at most {RATER_ID_MAX} fit an account"
                 for r in long]  # fmt: skip
        raise VotesImportError("\n".join(lines[:5]))


def _accounts(dataset: Dataset, rater_ids: np.ndarray) -> tuple[np.ndarray, int]:
    """User id per rater: inactive annotator accounts, created where missing, assigned to the dataset."""
    User = get_user_model()
    names = [username_of(r) for r in rater_ids.tolist()]
    existing = dict(User.objects.filter(username__in=names).values_list("username", "id"))
    missing = [name for name in dict.fromkeys(names) if name not in existing]
    unusable = make_password(None)
    User.objects.bulk_create([User(username=name, is_active=False, password=unusable) for name in missing])
    ids = dict(User.objects.filter(username__in=names).values_list("username", "id"))
    (group,) = role_groups(ANNOTATOR)
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=pk, group_id=group.pk) for pk in ids.values()], ignore_conflicts=True
    )
    Dataset.annotators.through.objects.bulk_create(
        [Dataset.annotators.through(dataset_id=dataset.pk, user_id=pk) for pk in ids.values()], ignore_conflicts=True
    )
    return np.array([ids[name] for name in names], np.int64), len(missing)


@dataclass(frozen=True)
class _Plan:
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


def _plan(dataset: Dataset, votes: VoteTable, image_ids, class_ids, user_ids) -> _Plan:
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
    return _Plan(order, bounds, fresh, image_ids, class_ids, user_ids)


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


def _blocks(votes: VoteTable, plan: _Plan) -> Iterator[_Block]:
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


def _write(dataset: Dataset, votes: VoteTable, plan: _Plan) -> tuple[int, int]:
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
    try:
        with foreign_keys_checked_in_bulk(references):
            for block in _blocks(votes, plan):
                annotation_ids = _annotations_write(dataset, block, rater_of_user, now)
                copy_text(Vote._meta.db_table, VOTE_COLUMNS, _vote_lines(annotation_ids, block))
                added.append(block.image[block.bounds[:-1]])
                n_annotations, n_votes = n_annotations + len(annotation_ids), n_votes + len(block.question)
    except ReferencedRowMissingError as error:
        raise VotesImportError(f"{error}: rows referenced by the votes disappeared during the import") from None
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


def _gold_write(dataset: Dataset, gold: GoldTable) -> int:
    image_ids, class_ids = resolve_questions(dataset, gold.image_keys, gold.class_refs, gold.where)
    rows = [
        GoldAnswer(image_id=i, label_class_id=c, answer="yes" if y else "no", source="import")
        for i, c, y in zip(image_ids.tolist(), class_ids.tolist(), gold.yes.tolist(), strict=True)
    ]
    GoldAnswer.objects.bulk_create(
        rows, batch_size=5000, update_conflicts=True, unique_fields=["image", "label_class"], update_fields=["answer"]
    )
    return len(rows)
