"""Importing answers collected elsewhere (see annotator.core.vote_formats) as annotations, votes and gold answers.

Every reference is resolved before anything is written: one unknown image, unknown class or repeated
answer refuses the whole import. Each outside rater becomes an inactive annotator account
(`imported-<rater id>`), so every agreement figure covers them, and each (image, rater) one annotation
with a deterministic client UUID: importing the same file again writes nothing. The write, by blocks of votes
with COPY, is annotator.services.votes_blocks.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from annotator.core.vote_formats import GoldTable, VoteTable
from annotator.models import Annotation, Dataset, GoldAnswer, Image, LabelClass, Vote
from annotator.pg_copy import ReferencedRowMissingError
from annotator.roles import ANNOTATOR, role_groups
from annotator.services.consensus import consensus_recompute_dataset
from annotator.services.votes_blocks import votes_plan, votes_write

logger = logging.getLogger(__name__)


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
    plan = votes_plan(dataset, votes, image_ids, class_ids, user_ids)
    report.annotations_skipped = len(plan.fresh) - int(plan.fresh.sum())
    if plan.fresh.any():
        try:
            report.annotations_created, report.votes_created = votes_write(dataset, votes, plan)
        except ReferencedRowMissingError as error:
            raise VotesImportError(f"{error}: rows referenced by the votes disappeared during the import") from None
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
