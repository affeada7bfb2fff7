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

from annotator.core.aggregation import NO, YES
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


def username_of(rater_id: str) -> str:
    return f"imported-{rater_id}"[:150]


@transaction.atomic
def votes_import(*, dataset: Dataset, votes: VoteTable, gold: GoldTable | None = None) -> VotesImportReport:
    """Import the votes (and gold answers), then recompute the dataset's consensus.

    Locking: none; run it while nobody annotates the same images (an imported rater never holds a lease).
    """
    started = time.perf_counter()
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
    user_ids, report.accounts_created = _accounts(dataset, votes.rater_ids)
    image_of_vote, user_of_vote = image_ids[votes.question], user_ids[votes.rater]
    fresh = ~_already_annotated(dataset, image_of_vote, user_of_vote)
    order = np.lexsort((class_ids[votes.question], user_of_vote, image_of_vote))
    order = order[fresh[order]]
    pair = image_of_vote[order] * (int(user_ids.max(initial=0)) + 1) + user_of_vote[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]]) if len(pair) else np.zeros(0, np.int64)
    report.annotations_skipped = len(
        np.unique(image_of_vote[~fresh] * (int(user_ids.max(initial=0)) + 1) + user_of_vote[~fresh])
    )
    if len(starts):
        rater_of_user = dict(zip(user_ids.tolist(), votes.rater_ids.tolist(), strict=True))
        _write(dataset, votes, order, starts, image_of_vote, user_of_vote, class_ids[votes.question], rater_of_user)
        report.annotations_created, report.votes_created = len(starts), len(order)
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
    """One answer per (image, class, rater), however the class was named (key or index)."""
    _, question = np.unique(image_ids * (int(class_ids.max(initial=0)) + 1) + class_ids, return_inverse=True)
    key = question[votes.question] * max(len(votes.rater_ids), 1) + votes.rater
    order = np.argsort(key, kind="stable")
    repeated = order[1:][key[order][1:] == key[order][:-1]]
    if len(repeated):
        lines = [
            f"{votes.where[votes.question[v]]}: rater {str(votes.rater_ids[votes.rater[v]])!r} answered it twice"
            for v in repeated[:5].tolist()
        ]
        raise VotesImportError("\n".join(lines))


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


def _already_annotated(dataset: Dataset, image_of_vote: np.ndarray, user_of_vote: np.ndarray) -> np.ndarray:
    users = np.unique(user_of_vote).tolist()
    done = np.array(
        Annotation.objects.filter(dataset=dataset, annotator_id__in=users).values_list("image_id", "annotator_id"),
        np.int64,
    ).reshape(-1, 2)
    width = int(max(user_of_vote.max(initial=0), done[:, 1].max(initial=0))) + 1
    return np.isin(image_of_vote * width + user_of_vote, done[:, 0] * width + done[:, 1])


VOTE_LINES_BLOCK = 65_536


def _vote_lines(*columns: np.ndarray) -> Iterator[str]:
    """COPY lines of the votes, converted to Python values a block at a time (19.5 M votes as five lists of
    Python objects at once took GBs)."""
    for start in range(0, len(columns[0]), VOTE_LINES_BLOCK):
        block = [column[start : start + VOTE_LINES_BLOCK].tolist() for column in columns]
        yield from (f"{i}\t{c}\t{u}\t{a}\t{w}\n" for i, c, u, a, w in zip(*block, strict=True))


def _write(dataset, votes: VoteTable, order, starts, image_of_vote, user_of_vote, class_of_vote, rater_of_user) -> None:
    """Annotations (ids drawn from their sequence), one revision each, and the votes, all by COPY. Per vote and
    per annotation everything stays in numpy arrays; Python values are made one line at a time (or one block of
    votes, `_vote_lines`), so 19.5 M votes never become lists of Python objects."""
    n = len(starts)
    table = Annotation._meta.db_table
    annotation_ids = read_int_columns(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))::bigint FROM generate_series(1, %s)", [n], 1
    )[:, 0]
    now = timezone.now().isoformat()
    bounds = np.r_[starts, len(order)]
    images, users = image_of_vote[order][starts], user_of_vote[order][starts]
    classes, answers = class_of_vote[order], votes.answer[order]
    image_keys = votes.image_keys[votes.question[order][starts]]

    def annotation_lines() -> Iterator[str]:  # streamed into the COPY: 6.5 M lines are never held at once
        for a in range(n):
            lo, hi = int(bounds[a]), int(bounds[a + 1])
            shown, chosen = classes[lo:hi], classes[lo:hi][answers[lo:hi] == YES]
            image, user = int(images[a]), int(users[a])
            client = uuid.uuid5(IMPORT_NAMESPACE, f"{dataset.slug}/{image_keys[a]}/{rater_of_user[user]}")
            yield (
                f"{annotation_ids[a]}\t{image}\t{user}\t{dataset.pk}\t{pg_array(shown.tolist())}\t"
                f"{pg_array(chosen.tolist())}\tf\tf\tf\t0\t{client}\t1\t{now}\t{now}\n"
            )

    annotation_of_vote = np.repeat(annotation_ids, np.diff(bounds))
    names = np.array([_ANSWER_NAMES[NO], _ANSWER_NAMES[YES], _ANSWER_NAMES[2]])[answers]
    # The annotations, their revisions and the votes refer to images, classes, users and the dataset, locked once
    # here instead of a trigger check per row (6.5 M annotations and revisions took minutes of row-wise checks);
    # a revision's or vote's annotation was inserted by this transaction, which nobody else can delete.
    references = ((Image, np.unique(images).tolist()), (LabelClass, np.unique(classes).tolist()),
                  (get_user_model(), np.unique(users).tolist()), (Dataset, [dataset.pk]))  # fmt: skip
    try:
        with foreign_keys_checked_in_bulk(references):
            copy_text(
                table,
                (
                    "id",
                    "image_id",
                    "annotator_id",
                    "dataset_id",
                    "shown",
                    "classes",
                    "none_fits",
                    "unsure",
                    "bad_image",
                    "seconds",
                    "client_uuid",
                    "revision_count",
                    "created_at",
                    "updated_at",
                ),
                annotation_lines(),
            )
            # Each annotation's first revision is its own copy, made by the server (no second stream of lines).
            revision_columns = "annotator_id, classes, none_fits, unsure, bad_image, seconds, client_uuid, created_at"
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {AnnotationRevision._meta.db_table} (annotation_id, number, {revision_columns}) "
                    f"SELECT a.id, 1, {', '.join('a.' + c for c in revision_columns.split(', '))} "
                    f"FROM {table} a JOIN unnest(%s::bigint[]) AS n(id) ON n.id = a.id",
                    # One array literal: a list parameter becomes ARRAY[…] with a parse node per element (6.5 M
                    # of them held the server process at 5 GB).
                    [pg_array(annotation_ids.tolist())],
                )
            copy_text(
                Vote._meta.db_table,
                ("image_id", "label_class_id", "annotator_id", "annotation_id", "answer"),
                _vote_lines(image_of_vote[order], classes, user_of_vote[order], annotation_of_vote, names),
            )
    except ReferencedRowMissingError as error:
        raise VotesImportError(f"{error}: rows referenced by the votes disappeared during the import") from None
    added_images, added = np.unique(images, return_counts=True)
    with connection.cursor() as cursor:
        # Raise `annotations_needed` where the import brings more annotations than the image needed.
        cursor.execute(
            f"UPDATE {Image._meta.db_table} AS i SET annotation_count = i.annotation_count + n.k, "
            "annotations_needed = GREATEST(i.annotations_needed, i.annotation_count + n.k + i.lease_count) "
            "FROM unnest(%s::bigint[], %s::int[]) AS n(id, k) WHERE i.id = n.id",
            [pg_array(added_images.tolist()), pg_array(added.tolist())],
        )


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
