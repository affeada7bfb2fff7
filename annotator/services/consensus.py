"""Writing consensus: live per image (in the submit's transaction) and in bulk for a whole dataset.

Both paths compute rows with `annotator.core.consensus_rules.consensus_compute` and write them with the same
upsert, which leaves the status and label set of an adjudicated image alone (a reviewer decided) and touches
`updated_at` only when something actually changed, so `max(updated_at)` is an honest watermark.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from annotator.core.consensus_rules import ConsensusRow, DsParams, VoteData, consensus_compute, vote_data_blocks
from annotator.core.redundancy import OPEN
from annotator.models import Consensus, Dataset
from annotator.pg_copy import copy_text, pg_array
from annotator.pg_prepared import execute_prepared
from annotator.selectors.consensus import (
    ImageConsensusInputs,
    consensus_settings,
    dataset_vote_data,
    ds_params_of_run,
    image_consensus_inputs,
)

logger = logging.getLogger(__name__)

TABLE = Consensus._meta.db_table
COLUMNS = (
    "image_id", "dataset_id", "status", "dispute_reasons", "annotation_count", "counts", "shares",
    "majority_labels", "unsure_count", "bad_image_count", "none_fits_count", "agreement", "ds_posterior",
    "ds_labels", "ds_run_id", "labels", "settled_classes", "open_classes", "redundancy_state", "adjudicated",
    "updated_at",
)  # fmt: skip
_KEPT_WHEN_ADJUDICATED = ("status", "labels")
_COMPARED = [c for c in COLUMNS if c not in ("image_id", "dataset_id", "adjudicated", "updated_at")]
_ON_CONFLICT = (
    "ON CONFLICT (image_id) DO UPDATE SET "
    + ", ".join(
        f"{c} = CASE WHEN c.adjudicated THEN c.{c} ELSE EXCLUDED.{c} END"
        if c in _KEPT_WHEN_ADJUDICATED
        else f"{c} = EXCLUDED.{c}"
        for c in COLUMNS[2:]
        if c != "adjudicated"
    )
    + f" WHERE ({', '.join('c.' + c for c in _COMPARED)}) IS DISTINCT FROM "
    f"({', '.join('EXCLUDED.' + c for c in _COMPARED)})"
)
_CASTS = {
    "dispute_reasons": "::varchar(24)[]", "counts": "::jsonb", "shares": "::jsonb", "majority_labels": "::bigint[]",
    "ds_posterior": "::jsonb", "ds_labels": "::bigint[]", "labels": "::bigint[]", "settled_classes": "::bigint[]",
    "open_classes": "::bigint[]",
}  # fmt: skip


_PLACEHOLDERS = ", ".join(f"%s{_CASTS.get(c, '')}" for c in COLUMNS)
# A new row copies its image's position (the review queue's last sort key); an update leaves it alone.
_UPSERT_ONE_SQL = (
    f"INSERT INTO {TABLE} AS c ({', '.join(COLUMNS)}, position) "
    f"VALUES ({_PLACEHOLDERS}, (SELECT position FROM annotator_image WHERE id = %s)) {_ON_CONFLICT}"
)
_UPSERT_INCOMING_SQL = (
    f"INSERT INTO {TABLE} AS c ({', '.join(COLUMNS)}, position) "
    f"SELECT {', '.join('n.' + c for c in COLUMNS)}, i.position FROM consensus_incoming AS n, annotator_image AS i "
    f"WHERE i.id = n.image_id {_ON_CONFLICT}"
)


@transaction.atomic(savepoint=False)  # part of the submit: no savepoint round trips
def consensus_refresh_image(*, image_id: int, inputs: ImageConsensusInputs | None = None) -> ConsensusRow | None:
    """Recount one image's consensus from its own votes and annotations (a few rows; never the dataset).

    Locking: call with the image row locked (`annotation_submit` / `annotation_revise` hold it), so two
    submits of one image cannot interleave their recounts. Two queries: the image's votes with its
    dataset's settings (`image_consensus_inputs`; the submit passes them, read in its own call, after its
    writes), and the upsert.
    """
    inputs = image_consensus_inputs(image_id) if inputs is None else inputs
    if inputs is None:
        return None
    rows = consensus_compute(inputs.data, inputs.settings, inputs.ds)
    row = rows[0] if rows else _empty_row(image_id)
    values = _row_values(row, inputs.dataset_id, timezone.now())
    with connection.cursor() as cursor:
        execute_prepared(cursor, _UPSERT_ONE_SQL, [*values, image_id])
        if row.redundancy_state == OPEN and row.annotation_count >= inputs.data.image_needed[0]:
            # Adaptive, undecided, every slot answered: one more. The image row is locked, and the raise is
            # conditional on the count it saw, so two submits finishing at once raise it once.
            execute_prepared(cursor, _RAISE_ONE_SQL, [image_id, inputs.settings.redundancy_max])
    return row


def consensus_recompute_dataset(
    *, dataset: Dataset, data: VoteData | None = None, ds: DsParams | None | bool = True, chunk: int | None = None
) -> int:
    """Recompute every image's consensus from all of the dataset's votes; returns the rows changed.

    Vectorised: three COPY reads into compact arrays, then per block of `chunk` consecutive images (default
    `RELABEL_CONSENSUS_WRITE_CHUNK`, 20,000; `vote_data_blocks`), in image-id order, one numpy pass and the
    block's rows written in a transaction of their own: one COPY into a temporary table and one upsert (only
    changed rows are written). So no transaction rewrites a whole large dataset, and memory holds one block's
    rows, not the dataset's (the rows are those of one pass over the whole, exactly). Called inside an outer
    transaction, the chunks are savepoints of it. `ds=True` scores with the latest Dawid–Skene run, if any;
    the DS service passes its fresh parameters and the data it already loaded. Used after bulk imports and by
    DS runs.

    What a reader sees meanwhile: each chunk appears whole at its commit, so until the last one commits the
    dataset holds recomputed rows (chunks written) and earlier ones (chunks to come), never a half-written
    row. Locking: none beyond each upsert's row locks. A submit committing before a chunk's upsert reaches its
    image (including one during the read) is overwritten by the row computed from the votes read, as with a
    single transaction, but the window is longer for later chunks; the image's next submit or the next
    recompute corrects it. A submit arriving during a chunk's upsert waits for its row lock and runs after it.
    """
    started = time.perf_counter()
    data = dataset_vote_data(dataset) if data is None else data
    params = ds_params_of_run(dataset.ds_run) if ds is True else ds or None
    rules = consensus_settings(dataset)
    size = chunk or settings.RELABEL_CONSENSUS_WRITE_CHUNK
    loaded = time.perf_counter()
    computing = writing = 0.0
    changed = n_rows = n_chunks = 0
    # Computed and written one block of images at a time (issue 23: 1.3 M rows of Python objects are GBs)
    for block in vote_data_blocks(data, size):
        block_started = time.perf_counter()
        rows = consensus_compute(block, rules, params)
        block_computed = time.perf_counter()
        if rows:
            with transaction.atomic():
                changed += consensus_rows_write(rows, dataset_id=dataset.pk)
            n_rows, n_chunks = n_rows + len(rows), n_chunks + 1
        computing += block_computed - block_started
        writing += time.perf_counter() - block_computed
        del rows
    if dataset.adaptive:
        with transaction.atomic():
            changed_needs = images_needs_raise(dataset=dataset)
        logger.info("consensus of %s: %d undecided images get one more annotation", dataset.slug, changed_needs)
    logger.info(
        "consensus of %s: %d images, %d changed in %d chunks; read %.2f s, compute %.2f s, write %.2f s",
        dataset.slug, n_rows, changed, n_chunks, loaded - started, computing, writing,
    )  # fmt: skip
    return changed


# Adaptive redundancy: an undecided image whose every slot is answered gets one more (up to the maximum plus a
# reviewer's extras). Call with the image row locked (the live path) or as a set-wise update (the bulk path).
_RAISE_ONE_SQL = (
    "UPDATE annotator_image SET annotations_needed = annotations_needed + 1 WHERE id = %s "
    "AND annotation_count >= annotations_needed AND annotations_needed < %s + extra_annotations"
)


def images_needs_raise(*, dataset: Dataset) -> int:
    """Give every undecided image of an adaptive dataset whose slots are all answered one more annotation (after
    a Dawid–Skene run or a bulk recount opened it). Returns the images raised. Call inside a transaction; row
    locks only."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE annotator_image i SET annotations_needed = i.annotation_count + 1 FROM annotator_consensus c "
            "WHERE c.image_id = i.id AND i.dataset_id = %s AND c.redundancy_state = %s "
            "AND i.annotation_count >= i.annotations_needed AND i.annotation_count < %s + i.extra_annotations",
            [dataset.pk, OPEN, dataset.redundancy_max],
        )
        return cursor.rowcount


def consensus_rows_write(rows: Sequence[ConsensusRow], *, dataset_id: int) -> int:
    """Bulk upsert through a temporary table. Call inside a transaction."""
    now = timezone.now().isoformat()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS consensus_incoming")
        cursor.execute(
            f"CREATE TEMPORARY TABLE consensus_incoming ON COMMIT DROP AS SELECT {', '.join(COLUMNS)} FROM {TABLE} "
            "WITH NO DATA"
        )
    copy_text("consensus_incoming", COLUMNS, (_copy_line(row, dataset_id, now) for row in rows))
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT_INCOMING_SQL)
        changed = cursor.rowcount
        cursor.execute("DROP TABLE consensus_incoming")
    return changed


def _row_values(row: ConsensusRow, dataset_id: int, now) -> list:
    return [
        row.image_id, dataset_id, row.status, row.dispute_reasons, row.annotation_count, row.counts, row.shares,
        row.majority_labels, row.unsure_count, row.bad_image_count, row.none_fits_count, row.agreement,
        row.ds_posterior, row.ds_labels, row.ds_run_id, row.labels, row.settled_classes, row.open_classes,
        row.redundancy_state, False, now,
    ]  # fmt: skip


def _empty_row(image_id: int) -> ConsensusRow:
    return ConsensusRow(image_id, "pending", [], 0, "{}", "{}", [], 0, 0, 0, None, None, [], None, [])


def _copy_line(row: ConsensusRow, dataset_id: int, now: str) -> str:
    def nullable(value: object) -> str:
        return "\\N" if value is None else str(value)

    fields = (
        row.image_id, dataset_id, row.status, pg_array(row.dispute_reasons), row.annotation_count, row.counts,
        row.shares, pg_array(row.majority_labels), row.unsure_count, row.bad_image_count, row.none_fits_count,
        nullable(row.agreement), nullable(row.ds_posterior), pg_array(row.ds_labels), nullable(row.ds_run_id),
        pg_array(row.labels), pg_array(row.settled_classes), pg_array(row.open_classes), row.redundancy_state, "f",
        now,
    )  # fmt: skip
    return "\t".join(map(str, fields)) + "\n"
