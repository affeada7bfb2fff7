"""Candidate proposals: which classes annotators are asked about for each image. Evaluation computes them (the
original label and the top-k of the selected prediction sets) and writes them through this service."""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
from django.db import connection, transaction

from annotator.models import Candidate, Dataset, Image, LabelClass

CANDIDATE_LOCK_NAMESPACE = 0x43414E44  # "CAND"


def candidates_lock(*, dataset: Dataset) -> None:
    """Serialise the replacement of one dataset's candidates until the current transaction ends (an advisory
    lock): call it before reading what the new candidates are computed from."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CANDIDATE_LOCK_NAMESPACE, dataset.pk])


@transaction.atomic
def candidates_add(*, proposals: Iterable[tuple[Image, LabelClass, str]]) -> int:
    """Add (image, class, source) candidates, keeping every one already there (a proposal already made is left
    as it is); returns how many proposals were given."""
    rows = [Candidate(image=image, label_class=label_class, source=source) for image, label_class, source in proposals]
    return len(Candidate.objects.bulk_create(rows, ignore_conflicts=True))


@transaction.atomic
def candidates_replace(
    *,
    dataset: Dataset,
    image_ids: np.ndarray,
    label_class_ids: np.ndarray,
    sources: np.ndarray,
    scores: np.ndarray,
) -> None:
    """Make the dataset's Candidate rows exactly these (image id, class id, source, score; NaN: no score), in
    bulk SQL: COPY into a temporary table, then one DELETE, one UPDATE and one INSERT, each a join. Rows that
    stay keep their id and created_at. Call with `candidates_lock` held since the proposals were read, so two
    replacements of one dataset never interleave."""
    table, image_table = Candidate._meta.db_table, Image._meta.db_table
    buffer = io.StringIO()
    score_text = np.where(np.isnan(scores), "", np.char.mod("%.6g", np.nan_to_num(scores)))
    buffer.write(
        "\n".join(
            map(",".join, zip(image_ids.astype(str), label_class_ids.astype(str), sources, score_text, strict=True))
        )
    )
    buffer.write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        # Dropped at commit; dropped here too in case an enclosing transaction already made one.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.candidate_new")
        cursor.execute(
            "CREATE TEMP TABLE candidate_new (image_id bigint, label_class_id bigint, source varchar(16), "
            "score double precision) ON COMMIT DROP"
        )
        if image_ids.size:
            cursor.copy_expert("COPY candidate_new FROM STDIN (FORMAT csv)", buffer)
        cursor.execute("ANALYZE candidate_new")
        cursor.execute(
            f"""DELETE FROM {table} c USING {image_table} i
                WHERE c.image_id = i.id AND i.dataset_id = %s
                  AND NOT EXISTS (SELECT 1 FROM candidate_new n
                                  WHERE n.image_id = c.image_id AND n.label_class_id = c.label_class_id)""",
            [dataset.pk],
        )
        # Only changed rows are updated; new rows go through the unique index (ON CONFLICT DO NOTHING), so
        # the insert never depends on the planner's view of the candidate table's size, which is stale
        # right after a bulk fill (a NOT EXISTS anti-join was once planned as nested loops: minutes).
        cursor.execute(
            f"""UPDATE {table} c SET source = n.source, score = n.score
                FROM candidate_new n
                WHERE c.image_id = n.image_id AND c.label_class_id = n.label_class_id
                  AND (c.source, c.score) IS DISTINCT FROM (n.source, n.score)"""
        )
        cursor.execute(
            f"""INSERT INTO {table} (image_id, label_class_id, source, score, created_at)
                SELECT n.image_id, n.label_class_id, n.source, n.score, now() FROM candidate_new n
                ON CONFLICT (image_id, label_class_id) DO NOTHING"""
        )


MODEL_SCORE_BATCH = 5_000


def model_scores_replace(*, dataset: Dataset, image_ids: np.ndarray, scores: np.ndarray) -> int:
    """Make these images' `model_score` equal `scores` (NaN: no score); returns how many rows changed.

    Not atomic on purpose: one short transaction per batch of 5,000 images, each updating only the rows whose
    score differs, so the hand-out (which skips locked rows) never waits behind, nor skips, the whole dataset.
    Running it again with the same scores changes nothing. Images of other datasets are left alone.
    """
    changed = 0
    for start in range(0, image_ids.size, MODEL_SCORE_BATCH):
        ids = image_ids[start : start + MODEL_SCORE_BATCH]
        values = scores[start : start + MODEL_SCORE_BATCH]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Image._meta.db_table} i SET model_score = v.score "
                "FROM unnest(%s::bigint[], %s::float8[]) AS v(id, score) "
                "WHERE i.id = v.id AND i.dataset_id = %s AND i.model_score IS DISTINCT FROM v.score",
                [ids.tolist(), [None if np.isnan(v) else float(v) for v in values.tolist()], dataset.pk],
            )
            changed += cursor.rowcount
    return changed
