"""Releases: create one (state `building`), build its files in a Celery task, and only then make it visible.

`release_create` makes the row and enqueues the build after commit. `release_build` claims the row with a
conditional update (so a second delivery of the task does nothing), writes every file to a temporary folder
while hashing it, stores it, zips the stored files, and turns the row `ready` together with its file rows
in one transaction. Any failure deletes whatever was stored and marks the row `failed`. Reads run in one
REPEATABLE READ transaction, so all files describe the same state of the consensus; progress is written
through a second connection so the page can follow it while that transaction is open.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from annotator.models import Dataset, DawidSkeneRun, Image
from annotator.selectors.consensus import latest_agreement_snapshot
from evaluation.core.release_datasheet import DatasheetFacts, datasheet_markdown, ds_run_facts
from evaluation.core.release_formats import HashingWriter, ImageFileWriters, ReleaseCounts, write_zip
from evaluation.core.release_parquet import ImagesParquetWriter, votes_csv_to_parquet
from evaluation.core.release_rules import DAWID_SKENE, MAJORITY
from evaluation.models import Release, ReleaseFile
from evaluation.selectors.releases import (
    annotator_pseudonyms,
    class_refs,
    has_original_labels,
    image_records,
    release_parameters,
    votes_copy,
)
from evaluation.services.release_claims import ReleaseClaim

logger = logging.getLogger(__name__)

Kind = ReleaseFile.Kind
# kind, name inside the zip, content type — in the order they are written.
FILES = [
    (Kind.REAL_JSON, "real.json", "application/json"),
    (Kind.REAL_STATUS, "real_status.json", "application/json"),
    (Kind.IMAGES_JSONL, "images.jsonl", "application/jsonl"),
    (Kind.IMAGES_CSV, "images.csv", "text/csv"),
    (Kind.VOTES_CSV, "votes.csv", "text/csv"),
    (Kind.IMAGES_PARQUET, "images.parquet", "application/vnd.apache.parquet"),
    (Kind.VOTES_PARQUET, "votes.parquet", "application/vnd.apache.parquet"),
    (Kind.DATASHEET, "DATASHEET.md", "text/markdown"),
]
ZIP_CONTENT_TYPE = "application/zip"


class ReleaseInputError(ValueError):
    pass


def release_storage() -> Storage:
    """Where release files go: the storage alias named by RELABEL_RELEASE_STORAGE (default: "default")."""
    return storages[getattr(settings, "RELABEL_RELEASE_STORAGE", "default")]


@transaction.atomic
def release_create(
    *,
    dataset: Dataset,
    created_by: User | None = None,
    aggregation: str | None = None,
    threshold: float | None = None,
    min_annotations: int | None = None,
    apply_adjudications: bool = True,
    unanswered_as_original: bool | None = None,
    client_uuid: uuid.UUID | None = None,
) -> tuple[Release, bool]:
    """A new release in state `building`, numbered after the dataset's last; the build runs after commit.

    Unset parameters take the dataset's settings; `unanswered_as_original` defaults to whether the dataset
    has original labels (ReaL's convention). Locks the dataset row so two creations get two numbers.
    Returns (the release, whether it was created now). Idempotent with `client_uuid`: a retry by the same user
    returns the release the first call made, whatever its state, and False.
    """
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    if client_uuid is not None and created_by is not None:
        earlier = Release.objects.filter(created_by=created_by, client_uuid=client_uuid).first()
        if earlier is not None:
            if earlier.dataset_id != dataset.pk:
                raise ReleaseInputError(f"client_uuid {client_uuid} was already used for another dataset")
            return earlier, False
    aggregation = aggregation or dataset.aggregation
    if aggregation not in (MAJORITY, DAWID_SKENE):
        raise ReleaseInputError(f"unknown aggregation {aggregation!r}")
    if aggregation == DAWID_SKENE and dataset.ds_run_id is None:
        raise ReleaseInputError("this dataset has no Dawid–Skene run yet; release a majority vote or run it first")
    if threshold is None:
        threshold = dataset.ds_threshold if aggregation == DAWID_SKENE else dataset.consensus_threshold
    if not 0 < threshold <= 1:
        raise ReleaseInputError("the threshold must lie in (0, 1]")
    # N, or under adaptive redundancy its minimum (a settled image may stop there)
    min_annotations = dataset.annotations_first_needed if min_annotations is None else min_annotations
    if min_annotations < 1:
        raise ReleaseInputError("minimum annotations must be at least 1")
    if unanswered_as_original is None:
        unanswered_as_original = has_original_labels(dataset)
    version = (Release.objects.filter(dataset=dataset).aggregate(v=Max("version"))["v"] or 0) + 1
    release = Release.objects.create(
        dataset=dataset,
        version=version,
        aggregation=aggregation,
        threshold=threshold,
        min_annotations=min_annotations,
        apply_adjudications=apply_adjudications,
        unanswered_as_original=unanswered_as_original,
        created_by=created_by,
        client_uuid=client_uuid,
    )
    transaction.on_commit(lambda: _enqueue_build(release.pk))
    logger.info("release %s (v%s of %s) created", release.pk, version, dataset.slug)
    return release, True


def _enqueue_build(release_id: int) -> None:
    from evaluation.tasks import release_build_task

    release_build_task.delay(release_id)


def release_build(*, release_id: int) -> Release | None:
    """Build a release claimed by this call; None when it is not (or no longer) ours to build.

    Raises what made the build fail, after deleting its stored files and marking it `failed`.
    """
    stored: list[str] = []
    started = time.perf_counter()
    with ReleaseClaim(release_id) as claim:
        if not claim.held:
            return None
        release = Release.objects.select_related("dataset", "created_by").get(pk=release_id)
        try:
            with tempfile.TemporaryDirectory(prefix="relabel-release-") as tmp:
                built = _write_files(release, Path(tmp), stored, claim)
                claim.update("publishing", 0.99)
                _publish(release, built, time.perf_counter() - started)
        except BaseException as error:
            _fail(release_id, stored, error)
            raise
    logger.info("release %s built in %.2f s", release_id, time.perf_counter() - started)
    _remove_abandoned_attempts(release, keep=built.files[0].storage_name.rsplit("/", 1)[0])
    return Release.objects.get(pk=release_id)


@dataclass
class _Built:
    counts: ReleaseCounts
    n_votes: int
    n_annotators: int
    files: list[ReleaseFile]
    ds_run: DawidSkeneRun | None


def _write_files(release: Release, tmp: Path, stored: list[str], progress: ReleaseClaim) -> _Built:
    dataset, storage = release.dataset, release_storage()
    local = {kind: tmp / name for kind, name, _ in FILES}
    hashes: dict[Kind, HashingWriter] = {}
    with transaction.atomic():
        if len(connection.atomic_blocks) == 1:  # our own transaction (not a caller's, as in tests)
            _repeatable_read()
        n_images = Image.objects.filter(dataset=dataset).count()
        classes = class_refs(dataset)
        # The run behind the posteriors read below: a run rewrites every posterior in its own transaction.
        ds_run = _ds_run_of(dataset) if release.aggregation == DAWID_SKENE else None
        kinds = (Kind.REAL_JSON, Kind.REAL_STATUS, Kind.IMAGES_JSONL, Kind.IMAGES_CSV)
        handles = [local[kind].open("wb") for kind in kinds]
        try:
            for kind, handle in zip(kinds, handles, strict=True):
                hashes[kind] = HashingWriter(handle)
            # pyarrow writes the Parquet file itself (to a path): it is hashed once closed, as votes.csv is.
            table = ImagesParquetWriter(local[Kind.IMAGES_PARQUET])
            writers = ImageFileWriters.to(*(hashes[kind] for kind in kinds), table=table)
            progress.update("per-image files", 0.0)
            writers.add_all(
                image_records(
                    dataset,
                    release_parameters(release),
                    classes,
                    lambda done: progress.update("per-image files", 0.6 * done / max(n_images, 1)),
                )
            )
            writers.close()
        finally:
            for handle in handles:
                handle.close()
        progress.update("votes", 0.6)
        pseudonyms = annotator_pseudonyms(dataset, secrets.token_bytes(32))
        # COPY writes row by row: into the buffered file directly, hashed afterwards in 1 MiB reads.
        with local[Kind.VOTES_CSV].open("wb") as handle:
            n_votes = votes_copy(dataset, pseudonyms, handle)
        hashes[Kind.VOTES_CSV] = HashingWriter.of_file(local[Kind.VOTES_CSV])
    hashes[Kind.IMAGES_PARQUET] = HashingWriter.of_file(local[Kind.IMAGES_PARQUET])
    progress.update("votes (Parquet)", 0.7)
    votes_csv_to_parquet(local[Kind.VOTES_CSV], local[Kind.VOTES_PARQUET])
    hashes[Kind.VOTES_PARQUET] = HashingWriter.of_file(local[Kind.VOTES_PARQUET])
    snapshot = latest_agreement_snapshot(dataset)
    agreement = {**snapshot.figures, "created_at": f"{snapshot.created_at:%Y-%m-%d %H:%M UTC}"} if snapshot else None
    names = {kind: name for kind, name, _ in FILES}
    facts = DatasheetFacts(
        dataset_name=dataset.name,
        dataset_slug=dataset.slug,
        version=release.version,
        created_at=f"{release.created_at:%Y-%m-%d %H:%M UTC}",
        created_by=release.created_by.get_username() if release.created_by else "—",
        parameters=release_parameters(release),
        counts=writers.counts,
        n_votes=n_votes,
        n_annotators=len(pseudonyms),
        agreement=agreement,
        files=[(names[kind], hashes[kind].size, hashes[kind].sha256) for kind in hashes],
        ds_run=ds_run_facts(ds_run),
    )
    with local[Kind.DATASHEET].open("wb") as handle:
        hashes[Kind.DATASHEET] = HashingWriter(handle)
        hashes[Kind.DATASHEET].write(datasheet_markdown(facts).encode())
    files: list[ReleaseFile] = []
    # A folder of this build's own: a build retaken from a dead worker never touches the files it left.
    prefix = f"releases/{dataset.slug}/{release.pk}-{secrets.token_hex(4)}"
    for number, (kind, name, content_type) in enumerate(FILES):
        progress.update("storing", 0.75 + 0.1 * number / len(FILES))
        storage_name = _store(storage, f"{prefix}/{name}", local[kind], stored)
        files.append(_file_row(release, kind, name, storage_name, content_type, hashes[kind]))
    progress.update("zip", 0.85)
    zip_name = f"relabel-{dataset.slug}-v{release.version}.zip"
    zip_path = tmp / zip_name
    with zip_path.open("wb") as handle:
        zipped = HashingWriter(handle)
        # Level 1: about three times faster than the default 6, for a zip some 10% larger.
        write_zip(zipped, [(f.filename, _opener(storage, f.storage_name)) for f in files], compresslevel=1)
    storage_name = _store(storage, f"{prefix}/{zip_name}", zip_path, stored)
    files.append(_file_row(release, Kind.ZIP, zip_name, storage_name, ZIP_CONTENT_TYPE, zipped))
    return _Built(counts=writers.counts, n_votes=n_votes, n_annotators=len(pseudonyms), files=files, ds_run=ds_run)


def _ds_run_of(dataset: Dataset) -> DawidSkeneRun | None:
    current = Dataset.objects.filter(pk=dataset.pk).values("ds_run_id")[:1]
    fields = ("id", "created_at", "prior_mode", "n_votes", "iterations", "converged")
    return DawidSkeneRun.objects.filter(pk=current).only(*fields).first()


def _repeatable_read() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def _store(storage: Storage, name: str, path: Path, stored: list[str]) -> str:
    with path.open("rb") as handle:
        saved = storage.save(name, File(handle, name=name))
    stored.append(saved)
    return saved


def _opener(storage: Storage, name: str):  # noqa: ANN202
    return lambda: storage.open(name, "rb")


def _file_row(release, kind, name, storage_name, content_type, hashed: HashingWriter) -> ReleaseFile:  # noqa: ANN001
    return ReleaseFile(
        release=release,
        kind=kind,
        filename=name,
        storage_name=storage_name,
        content_type=content_type,
        size=hashed.size,
        sha256=hashed.sha256,
    )


@transaction.atomic
def _publish(release: Release, built: _Built, seconds: float) -> None:
    """The release becomes visible: its file rows and state `ready` in one transaction."""
    locked = Release.objects.select_for_update().filter(pk=release.pk, state=Release.State.BUILDING).first()
    if locked is None:
        raise RuntimeError(f"release {release.pk} vanished or stopped building while it was built")
    ReleaseFile.objects.bulk_create(built.files)
    c = built.counts
    Release.objects.filter(pk=release.pk).update(
        state=Release.State.READY,
        n_images=c.n_images,
        n_labelled=c.n_labelled,
        n_empty=c.n_empty,
        n_pending=c.n_pending,
        n_excluded=c.n_excluded,
        n_adjudicated=c.n_adjudicated,
        n_original=c.n_original,
        n_labels=c.n_labels,
        n_votes=built.n_votes,
        n_annotators=built.n_annotators,
        multi_label_share=c.multi_label_share,
        mean_agreement=c.mean_agreement,
        ds_run=built.ds_run,
        ds_prior=built.ds_run.prior_mode if built.ds_run else "",
        progress=1.0,
        phase="ready",
        build_seconds=seconds,
        ready_at=timezone.now(),
    )


def _fail(release_id: int, stored: list[str], error: BaseException) -> None:
    storage = release_storage()
    for name in stored:
        try:
            storage.delete(name)
        except Exception:  # noqa: BLE001 - keep deleting the rest; the release is marked failed regardless
            logger.exception("could not delete %s of failed release %s", name, release_id)
    message = f"{type(error).__name__}: {error}"[:2000]
    Release.objects.filter(pk=release_id, state=Release.State.BUILDING).update(
        state=Release.State.FAILED, phase="failed", error=message
    )
    logger.error("release %s failed: %s", release_id, message)


def _remove_abandoned_attempts(release: Release, *, keep: str) -> None:
    """Delete the folders earlier builds of this release left when their worker died mid-way (each build
    writes to a folder of its own, `<pk>-<token>`); best effort, the release is published already."""
    storage = release_storage()
    parent = f"releases/{release.dataset.slug}"
    try:
        folders, _ = storage.listdir(parent)
    except (FileNotFoundError, NotImplementedError):
        return
    for folder in folders:
        path = f"{parent}/{folder}"
        if not folder.startswith(f"{release.pk}-") or path == keep:
            continue
        for name in storage.listdir(path)[1]:
            storage.delete(f"{path}/{name}")
        logger.info("release %s: removed the files of an abandoned build in %s", release.pk, path)
