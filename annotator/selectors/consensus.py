"""Reads for consensus, Dawid–Skene and agreement, shared by services, views, APIs and tasks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Max

from annotator.core.consensus_rules import ANSWER_CODES, ConsensusSettings, DsParams, VoteData
from annotator.models import (
    AgreementSnapshot,
    Annotation,
    Consensus,
    Dataset,
    DatasetCounts,
    DawidSkeneRun,
    Image,
    LabelClass,
    Vote,
)
from annotator.pg_copy import read_int_column_chunks, read_int_columns
from annotator.pg_prepared import execute_prepared, fetchall_named

_ANSWER_SQL = "CASE v.answer WHEN 'no' THEN 0 WHEN 'yes' THEN 1 ELSE 2 END"


def consensus_settings(dataset: Dataset) -> ConsensusSettings:
    return ConsensusSettings(
        threshold=dataset.consensus_threshold,
        dispute_band=dataset.dispute_band,
        min_answers=dataset.annotations_first_needed,
        aggregation=dataset.aggregation,
        ds_threshold=dataset.ds_threshold,
        ds_prior=dataset.ds_prior,
        redundancy=dataset.redundancy,
        redundancy_min=dataset.redundancy_min,
        redundancy_max=dataset.redundancy_max,
        redundancy_confidence=dataset.redundancy_confidence,
    )


def dataset_vote_data(dataset: Dataset) -> VoteData:
    """Every image, vote and annotation of a dataset as arrays: three binary COPY reads and the classes.
    Under adaptive redundancy also each image's extra annotations and whether each vote's class is a candidate
    (as `relabel_consensus_inputs` reads them for one image).

    Per vote and per annotation the arrays are compact (issue 23: ~20 M votes at 1.3 M images): dense images
    int32, class and user ids in the narrowest of int32/int64 that holds them, class indices int16 when they
    fit, answers int8, flags bool; the votes and annotations are read a chunk at a time, never as one int64
    matrix. Images (one row each) stay int64. Votes and annotations keep the order of the read."""
    images = read_int_columns(
        f"SELECT id::bigint, annotations_needed::bigint, coalesce(original_label_id, -1)::bigint, "
        f"extra_annotations::bigint FROM {Image._meta.db_table} WHERE dataset_id = %s ORDER BY id",
        [dataset.pk],
        4,
    )
    ids = images[:, 0]
    candidate = (
        "(EXISTS (SELECT 1 FROM annotator_candidate k WHERE k.image_id = i.id AND k.label_class_id = v.label_class_id)"
        " OR (v.label_class_id IS NOT DISTINCT FROM i.original_label_id"
        " AND NOT EXISTS (SELECT 1 FROM annotator_candidate k WHERE k.image_id = i.id)))::int::smallint"
        if dataset.adaptive
        else "1::smallint"
    )
    class_ids, class_index = (
        np.array(LabelClass.objects.filter(dataset=dataset).order_by("id").values_list("id", "index"), np.int64)
        .reshape(-1, 2)
        .T
    )
    user_type = _narrowest(np.array([get_user_model().objects.aggregate(top=Max("pk"))["top"] or 0]), np.int32)
    class_type, index_type = _narrowest(class_ids, np.int32), _narrowest(class_index, np.int16)
    vote_columns = _read_columns(
        f"SELECT v.image_id::bigint, v.label_class_id::bigint, v.annotator_id::bigint, ({_ANSWER_SQL})::smallint, "
        f"{candidate} "
        f"FROM {Vote._meta.db_table} v JOIN {Image._meta.db_table} i ON i.id = v.image_id WHERE i.dataset_id = %s",
        [dataset.pk],
        widths=(8, 8, 8, 2, 2),
        columns=lambda image, label_class, annotator, answer, is_candidate: (
            np.searchsorted(ids, image), label_class, class_index[np.searchsorted(class_ids, label_class)],
            annotator, answer, is_candidate,
        ),
        dtypes=(np.int32, class_type, index_type, user_type, np.int8, bool),
    )  # fmt: skip
    ann_columns = _read_columns(
        f"SELECT image_id::bigint, annotator_id::bigint, none_fits::int::smallint, unsure::int::smallint, "
        f"bad_image::int::smallint, (cardinality(classes) > 0)::int::smallint, round(seconds * 1000)::bigint "
        f"FROM {Annotation._meta.db_table} WHERE dataset_id = %s",
        [dataset.pk],
        widths=(8, 8, 2, 2, 2, 2, 8),
        columns=lambda image, annotator, none_fits, unsure, bad_image, chose, milliseconds: (
            np.searchsorted(ids, image), annotator, none_fits, unsure, bad_image, chose, milliseconds / 1000.0,
        ),
        dtypes=(np.int32, user_type, bool, bool, bool, bool, np.float64),
    )  # fmt: skip
    return VoteData(
        image_id=ids,
        image_needed=images[:, 1],
        image_original=images[:, 2],
        vote_image=vote_columns[0],
        vote_class=vote_columns[1],
        vote_class_index=vote_columns[2],
        vote_annotator=vote_columns[3],
        vote_answer=vote_columns[4],
        ann_image=ann_columns[0],
        ann_annotator=ann_columns[1],
        ann_none_fits=ann_columns[2],
        ann_unsure=ann_columns[3],
        ann_bad_image=ann_columns[4],
        ann_has_classes=ann_columns[5],
        ann_seconds=ann_columns[6],
        vote_candidate=vote_columns[5],
        image_extra=images[:, 3],
    )


def _narrowest(values: np.ndarray, narrow: type[np.signedinteger]) -> type[np.signedinteger]:
    """`narrow` if it holds every value, else int64."""
    limits = np.iinfo(narrow)
    fits = not len(values) or (limits.min <= values.min() and values.max() <= limits.max)
    return narrow if fits else np.int64


def _read_columns(
    sql: str, params: list, *, widths: tuple[int, ...], columns: Callable[..., tuple], dtypes: tuple[type, ...]
) -> list[np.ndarray]:
    """The query's rows read a chunk at a time, each chunk turned into the final `columns` and copied into
    arrays of `dtypes` of the final length (one array per column; no int64 matrix, no chunks to join)."""
    out: list[np.ndarray] = [np.zeros(0, dtype) for dtype in dtypes]
    for first, total, chunk in read_int_column_chunks(sql, params, widths):
        if first == 0:
            out = [np.empty(total, dtype) for dtype in dtypes]
        for target, values in zip(out, columns(*chunk), strict=True):
            target[first : first + len(values)] = _checked(values, target.dtype)
    return out


def _checked(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`values` as `dtype`, refusing an integer that does not fit (a silent wrap would mislabel votes)."""
    if dtype.kind == "i" and len(values) and np.dtype(values.dtype).itemsize > dtype.itemsize:
        limits = np.iinfo(dtype)
        if values.min() < limits.min or values.max() > limits.max:
            raise OverflowError(f"a value does not fit {dtype}")
    return values.astype(dtype, copy=False)


@dataclass(frozen=True)
class ImageConsensusInputs:
    """What the live recount of one image needs."""

    dataset_id: int
    settings: ConsensusSettings
    ds: DsParams | None
    data: VoteData


def image_consensus_inputs(image_id: int) -> ImageConsensusInputs | None:
    """One image's votes and annotations with its dataset's consensus settings and Dawid–Skene run, in one
    query (`relabel_consensus_inputs`; the write of an answer returns the same rows with its outcome)."""
    with connection.cursor() as cursor:
        execute_prepared(cursor, "SELECT * FROM relabel_consensus_inputs(%s)", [image_id])
        return consensus_inputs_from_rows(image_id, fetchall_named(cursor))


def consensus_inputs_from_rows(image_id: int, rows: list[dict[str, Any]]) -> ImageConsensusInputs | None:
    """Parse rows carrying the columns of `relabel_consensus_row`, by name (the run's parameters are parsed once
    per process)."""
    if not rows:
        return None
    first = rows[0]
    adaptive = first["c_redundancy"] == "adaptive"
    settings = ConsensusSettings(
        threshold=first["c_threshold"], dispute_band=first["c_dispute_band"],
        min_answers=first["c_redundancy_min"] if adaptive else first["c_min_answers"],
        aggregation=first["c_aggregation"], ds_threshold=first["c_ds_threshold"], ds_prior=first["c_ds_prior"],
        redundancy=first["c_redundancy"], redundancy_min=first["c_redundancy_min"],
        redundancy_max=first["c_redundancy_max"], redundancy_confidence=first["c_redundancy_confidence"],
    )  # fmt: skip
    answers = [row for row in rows if row["c_annotator"] is not None]
    annotations = {row["c_annotator"]: row for row in answers}
    image_row = np.array([[image_id, first["c_needed"], first["c_original_label"] or -1, first["c_extra"]]], np.int64)
    vote_rows = np.array(
        [
            (image_id, r["c_class"], r["c_class_index"], r["c_annotator"], ANSWER_CODES[r["c_answer"]],
             r["c_candidate"])
            for r in answers
            if r["c_class"] is not None
        ],
        np.int64,
    ).reshape(-1, 6)  # fmt: skip
    ann_rows = np.array(
        [
            (image_id, a, r["c_none_fits"], r["c_unsure"], r["c_bad_image"], r["c_chose"], round(r["c_seconds"] * 1000))
            for a, r in annotations.items()
        ],
        np.int64,
    ).reshape(-1, 7)
    run_id = first["c_ds_run"]
    return ImageConsensusInputs(
        dataset_id=first["c_dataset"],
        settings=settings,
        ds=None if run_id is None else _ds_params_cached(run_id, first["c_ds_run_created"]),
        data=_vote_data(image_row, vote_rows, ann_rows),
    )


def _vote_data(images: np.ndarray, votes: np.ndarray, annotations: np.ndarray) -> VoteData:
    ids = images[:, 0]  # sorted ascending (ORDER BY id, or a single image)

    def dense(image_ids: np.ndarray) -> np.ndarray:
        return np.searchsorted(ids, image_ids)

    return VoteData(
        image_id=ids,
        image_needed=images[:, 1],
        image_original=images[:, 2],
        vote_image=dense(votes[:, 0]),
        vote_class=votes[:, 1],
        vote_class_index=votes[:, 2],
        vote_annotator=votes[:, 3],
        vote_answer=votes[:, 4].astype(np.int8),
        ann_image=dense(annotations[:, 0]),
        ann_annotator=annotations[:, 1],
        ann_none_fits=annotations[:, 2].astype(bool),
        ann_unsure=annotations[:, 3].astype(bool),
        ann_bad_image=annotations[:, 4].astype(bool),
        ann_has_classes=annotations[:, 5].astype(bool),
        ann_seconds=annotations[:, 6] / 1000.0,
        vote_candidate=votes[:, 5].astype(bool),
        image_extra=images[:, 3],
    )


def ds_params_of_run(run: DawidSkeneRun | None) -> DsParams | None:
    """`ds_params` of a stored run, whose parameters never change once written, parsed once per process
    (the live update of every submit needs them). `run` needs only its id and creation time loaded: the
    cache is keyed on both, so a reused id (a restored database, a test that resets sequences) is never
    taken for another run."""
    return None if run is None else _ds_params_cached(run.pk, run.created_at)


@lru_cache(maxsize=16)
def _ds_params_cached(run_id: int, created_at: datetime) -> DsParams | None:
    fields = ("prior_mode", "annotators", "default_llr", "group_prior")
    return ds_params(DawidSkeneRun.objects.only(*fields).get(pk=run_id, created_at=created_at))


def ds_params(run: DawidSkeneRun | None) -> DsParams | None:
    if run is None:
        return None
    group_prior = np.clip(np.asarray(run.group_prior, np.float64), 1e-12, 1 - 1e-12)
    return DsParams(
        run_id=run.pk,
        prior_mode=run.prior_mode,
        llr={int(uid): tuple(a["llr"]) for uid, a in run.annotators.items()},
        default_llr=tuple(run.default_llr),
        group_log_odds=np.log(group_prior / (1 - group_prior)),
    )


def votes_watermark(dataset: Dataset) -> str:
    """Changes whenever an annotation of the dataset is added or revised (every vote change is one)."""
    state = Annotation.objects.filter(dataset=dataset).aggregate(n=Count("id"), last=Max("updated_at"))
    last = state["last"].isoformat() if state["last"] else "-"
    return f"{state['n']}:{last}"


def latest_agreement_snapshot(dataset: Dataset) -> AgreementSnapshot | None:
    return AgreementSnapshot.objects.filter(dataset=dataset).order_by("-created_at", "-id").first()


def answers_per_image(dataset: Dataset) -> dict:
    """How many annotations the dataset's images have (one GROUP BY): `histogram` {count: images} over every image,
    `mean` over the images with at least one (None before any), `n_images`, and the redundancy setting."""
    images = Image.objects.filter(dataset=dataset)
    rows = dict(images.values_list("annotation_count").annotate(n=Count("pk")).order_by())
    started = {k: n for k, n in rows.items() if k > 0}
    n_started = sum(started.values())
    return {
        "redundancy": dataset.redundancy,
        "n_images": sum(rows.values()),
        "mean": sum(k * n for k, n in started.items()) / n_started if n_started else None,
        "histogram": {str(k): rows[k] for k in sorted(rows)},
    }


def consensus_status_counts(dataset: Dataset, *, n_images: int) -> dict[str, int]:
    """Images per status; images without a consensus row yet are pending (one GROUP BY)."""
    counts = dict(Consensus.objects.filter(dataset=dataset).values_list("status").annotate(n=Count("pk")).order_by())
    result = {status: counts.get(status, 0) for status in Consensus.Status.values}
    result[Consensus.Status.PENDING] += n_images - sum(counts.values())
    return result


@dataclass(frozen=True)
class SettledLabels:
    """Effective label sets (class ids) of every image whose consensus is not pending and that no reviewer
    excluded (marked bad or ambiguous): an adjudicated image contributes its adjudicated set."""

    image_ids: list[int]
    labels: list[list[int]]
    watermark: str


def settled_consensus_labels(dataset: Dataset) -> SettledLabels:
    """Two queries: the state (for the watermark) and the rows."""
    state = Consensus.objects.filter(dataset=dataset).aggregate(n=Count("pk"), last=Max("updated_at"))
    rows = list(
        Consensus.objects.filter(dataset=dataset)
        .exclude(status=Consensus.Status.PENDING)
        .exclude(excluded=True)
        .values_list("image_id", "labels")
    )
    # "consensus:0" while no image has a consensus row: the watermark of snapshots taken before consensus rows
    # existed, so they still match an empty pool
    watermark = f"consensus:{state['n']}:{state['last'].timestamp():.6f}" if state["n"] else "consensus:0"
    return SettledLabels(image_ids=[r[0] for r in rows], labels=[r[1] for r in rows], watermark=watermark)


# --- the agreement dashboard and API ----------------------------------------------------------------------

CLASS_SORTS = {
    "name": "Class", "n_questions": "Questions", "yes_share": "Yes share", "positive_agreement": "Positive agreement",
    "fleiss_kappa": "Fleiss κ", "n_original": "Original label asked", "original_rejected_share": "Original rejected",
}  # fmt: skip


_COUNTED = tuple(Consensus.Status.values)


def live_status_counts(dataset: Dataset) -> dict[str, int]:
    """Images per consensus status, as `consensus_status_counts` counts them, from the dataset's one row of
    counts that the database keeps (DatasetCounts): one query, whatever the dataset's size."""
    row = DatasetCounts.objects.filter(dataset=dataset).values(*_COUNTED, "images").first()
    if row is None:  # only if the row was deleted by hand: count, as before the counts were kept
        return consensus_status_counts(dataset, n_images=Image.objects.filter(dataset=dataset).count())
    result = {status: row[status] for status in Consensus.Status.values}
    result[Consensus.Status.PENDING] += row["images"] - sum(row[status] for status in _COUNTED)
    return result


def _snapshot_answers(snapshot: AgreementSnapshot | None, dataset: Dataset) -> dict | None:
    """Answers per image as of the latest agreement snapshot (None before one that holds them), with the
    dataset's current redundancy setting."""
    answers = snapshot.figures.get("answers_per_image") if snapshot else None
    return None if answers is None else {**answers, "redundancy": dataset.redundancy}


def agreement_overview(dataset: Dataset) -> dict:
    """Latest snapshot (with the answers per image), latest Dawid–Skene run and the live status counts (three
    queries; none counts rows)."""
    snapshot = latest_agreement_snapshot(dataset)
    run = DawidSkeneRun.objects.filter(dataset=dataset).order_by("-created_at", "-id").defer("annotators").first()
    return {
        "dataset": dataset.slug,
        "status": live_status_counts(dataset),
        "answers_per_image": _snapshot_answers(snapshot, dataset),
        "snapshot_created_at": snapshot.created_at if snapshot else None,
        "figures": snapshot.figures if snapshot else None,
        "dawid_skene": None if run is None else {
            "created_at": run.created_at.isoformat(), "prior_mode": run.prior_mode, "n_votes": run.n_votes,
            "iterations": run.iterations, "converged": run.converged, "prior": run.prior,
            "group_prior": run.group_prior, "seconds": run.seconds,
        },
    }  # fmt: skip


def sorted_classes(rows: list[dict], key: str, descending: bool) -> list[dict]:
    """Per-class rows by `key` (unknown keys: by questions); rows without a value go last either way."""
    key = key if key in CLASS_SORTS else "n_questions"
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    return sorted(present, key=lambda r: r[key], reverse=descending) + missing
