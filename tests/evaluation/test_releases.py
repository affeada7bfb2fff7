"""Releases: frozen consensus, stored and hashed files, round trip through ReaL, immutability, crashes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import InternalError, transaction
from django.utils import timezone

from annotator.models import Consensus, Image
from annotator.services.agreement_figures import agreement_compute
from annotator.services.dawid_skene import dawid_skene_run
from evaluation.models import MetricSnapshot, ReferenceLabelSet, Release, ReleaseFile
from evaluation.selectors.releases import ready_releases
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from evaluation.services.release_claims import (
    STALE_CLAIM,
    UNCLAIMED_GRACE,
    ReleaseClaim,
    release_build_held_elsewhere,
    releases_needing_a_build,
)
from evaluation.services.releases import ReleaseInputError, release_build, release_create, release_storage
from evaluation.services.snapshots import metric_snapshots_refresh
from evaluation.tasks import release_build_task, releases_resume_task
from tests.builders.annotations import hubble_submit, photographs_dataset
from tests.builders.prediction_sets import TOP3, csv_bytes
from tests.builders.releases import EXPECTED_REAL, EXPECTED_STATUS, built_release, voted_dataset, votes_csv

pytestmark = pytest.mark.django_db


def _read(release: Release, kind: str) -> bytes:
    stored = release.files.get(kind=kind)
    with release_storage().open(stored.storage_name, "rb") as handle:
        return handle.read()


@pytest.fixture
def dataset(tmp_path):
    return voted_dataset(tmp_path)


def test_a_release_freezes_the_consensus_in_real_format_with_a_companion_status_list(
    dataset, django_capture_on_commit_callbacks
):
    release = built_release(dataset, django_capture_on_commit_callbacks)
    assert release.state == "ready" and release.version == 1 and release.progress == 1.0
    assert json.loads(_read(release, "real")) == EXPECTED_REAL
    assert json.loads(_read(release, "status")) == EXPECTED_STATUS
    assert (release.n_images, release.n_labelled, release.n_empty, release.n_pending, release.n_original) == (
        8, 5, 1, 1, 1
    )  # fmt: skip
    assert release.n_labels == 7 and release.multi_label_share == pytest.approx(2 / 5)
    assert (release.aggregation, release.threshold, release.min_annotations) == ("majority", 0.5, 3)
    assert release.unanswered_as_original and (release.ds_run, release.ds_prior) == (None, "")
    assert release.n_votes == 28 and release.n_annotators == 3


def test_the_real_file_is_shaped_like_the_published_real_json(dataset, django_capture_on_commit_callbacks):
    release = built_release(dataset, django_capture_on_commit_callbacks)
    assert _read(release, "real") == json.dumps(EXPECTED_REAL).encode()


def test_every_file_is_stored_with_its_size_and_sha256_and_the_zip_holds_them_all(
    dataset, django_capture_on_commit_callbacks
):
    release = built_release(dataset, django_capture_on_commit_callbacks)
    files = {f.kind: f for f in release.files.all()}
    assert set(files) == set(ReleaseFile.Kind.values)
    for stored in files.values():
        data = _read(release, stored.kind)
        assert len(data) == stored.size and hashlib.sha256(data).hexdigest() == stored.sha256
    archive = zipfile.ZipFile(io.BytesIO(_read(release, "zip")))
    assert sorted(archive.namelist()) == sorted(f.filename for k, f in files.items() if k != "zip")
    assert archive.read("real.json") == _read(release, "real")
    assert files["zip"].filename == "relabel-tiny-v1.zip"


def test_per_image_records_name_each_class_with_its_support_annotators_agreement_and_status(
    dataset, django_capture_on_commit_callbacks
):
    release = built_release(dataset, django_capture_on_commit_callbacks)
    records = [json.loads(line) for line in _read(release, "jsonl").decode().splitlines()]
    assert [r["key"] for r in records] == [f"img_{p:05d}.JPEG" for p in range(8)]
    second = records[1]
    assert second["original"] == {"index": 1, "wnid": "n00000001", "name": "class 1"}
    assert [(c["index"], c["wnid"], c["support"]) for c in second["classes"]] == [
        (1, "n00000001", 1.0),
        (2, "n00000002", pytest.approx(2 / 3, abs=1e-6)),
    ]
    assert second["annotators"] == 3 and second["status"] == "agreed" and second["adjudicated"] is False
    assert 0 < second["agreement"] < 1
    assert records[4]["classes"] == [] and records[4]["status"] == "agreed"
    assert records[6] == {**records[6], "classes": [], "annotators": 1, "status": "pending", "agreement": None}
    unanswered = [{"index": 1, "wnid": "n00000001", "name": "class 1", "support": None}]
    assert records[7] == {**records[7], "classes": unanswered, "annotators": 0, "status": "original"}
    rows = list(csv.DictReader(io.StringIO(_read(release, "csv").decode())))
    assert rows[1]["class_indices"] == "1 2" and rows[1]["class_names"] == "class 1|class 2"
    assert rows[1]["support"] == "1 0.666667" and rows[6]["status"] == "pending"


def test_raw_votes_carry_pseudonyms_that_differ_between_releases_and_never_the_user_id(
    dataset, django_capture_on_commit_callbacks
):
    first = built_release(dataset, django_capture_on_commit_callbacks)
    second = built_release(dataset, django_capture_on_commit_callbacks)
    votes = [list(csv.DictReader(io.StringIO(_read(r, "votes").decode()))) for r in (first, second)]
    assert len(votes[0]) == 28 and list(votes[0][0]) == ["key", "position", "class_index", "class_wnid",
                                                          "annotator", "answer"]  # fmt: skip
    names = [{row["annotator"] for row in rows} for rows in votes]
    assert len(names[0]) == 3 and names[0].isdisjoint(names[1])
    user_ids = {str(a.annotator_id) for a in dataset.images.first().annotations.all()}
    assert not any(row["annotator"] in user_ids or "imported" in row["annotator"] for row in votes[0])


def test_the_datasheet_states_parameters_counts_agreement_and_the_other_files_hashes(
    dataset, django_capture_on_commit_callbacks
):
    figures = agreement_compute(dataset=dataset).figures
    release = built_release(dataset, django_capture_on_commit_callbacks)
    sheet = _read(release, "datasheet").decode()
    assert f"| binary Krippendorff α over questions | {figures['binary_alpha']:.3f} |" in sheet
    assert f"(this release) | {release.mean_agreement:.3f} |" in sheet
    assert "# Tiny — release v1" in sheet and "| aggregation | majority |" in sheet
    assert (
        "| with at least one valid class | 5 (62.5%) |" in sheet and "| pending (not enough annotations) | 1" in sheet
    )
    assert "| nobody answered, given their original label | 1 (12.5%) |" in sheet
    assert "| images nobody answered | their original label (ReaL's convention), status `original` |" in sheet
    assert "| Dawid–Skene run | — (not used: majority vote) |" in sheet
    assert release.files.get(kind="real").sha256 in sheet and "ReaL@k" in sheet


def test_round_trip_real_export_reimported_as_reference_gives_identical_metrics(
    dataset, django_capture_on_commit_callbacks
):
    release = built_release(dataset, django_capture_on_commit_callbacks, unanswered_as_original=False)
    reference = reference_label_set_create(
        dataset=dataset, name="release v1", source=ContentFile(_read(release, "real"), name="real.json")
    )
    prediction_set_create(dataset=dataset, name="model", source=ContentFile(csv_bytes(TOP3), name="m.csv"))
    metric_snapshots_refresh(datasets=[dataset])
    against_consensus = MetricSnapshot.objects.get(label_source="consensus")
    against_release = MetricSnapshot.objects.get(reference_set=reference)
    assert against_release.values == against_consensus.values
    assert against_release.values["n_evaluated_multilabel"] == 5
    assert ReferenceLabelSet.objects.get(pk=reference.pk).n_labelled == release.n_labelled


def test_a_release_does_not_change_when_annotations_arrive_after_it(
    dataset, tmp_path, django_capture_on_commit_callbacks
):
    release = built_release(dataset, django_capture_on_commit_callbacks)
    before = {f.kind: (f.sha256, _read(release, f.kind)) for f in release.files.all()}
    # Two more raters settle image 6 and image 7 afterwards.
    later = votes_csv(tmp_path / "later.csv", {6: {0: "yy"}, 7: {3: "yy"}}, rater_prefix="late")
    call_command("import_votes", dataset.slug, str(later), verbosity=0)
    assert Consensus.objects.get(image__position=6).status == "agreed"
    release.refresh_from_db()
    assert release.n_pending == release.n_original == 1
    assert {f.kind: (f.sha256, _read(release, f.kind)) for f in release.files.all()} == before
    newer = built_release(dataset, django_capture_on_commit_callbacks)
    # Image 7, answered twice now, is pending: its original label stood only while nobody had answered.
    assert json.loads(_read(newer, "real"))[6:] == [[0], []] and newer.version == 2


def test_the_database_refuses_to_change_a_ready_release_or_its_files(dataset, django_capture_on_commit_callbacks):
    release = built_release(dataset, django_capture_on_commit_callbacks)
    with pytest.raises(InternalError, match="immutable"), transaction.atomic():
        Release.objects.filter(pk=release.pk).update(n_labelled=0)
    with pytest.raises(InternalError, match="immutable"), transaction.atomic():
        ReleaseFile.objects.filter(release=release).update(sha256="0" * 64)


@pytest.mark.parametrize("fail_on_save", [1, 4, 7])
def test_a_build_that_fails_halfway_lists_nothing_and_leaves_no_file(
    dataset, settings, media_root, fail_on_save, django_capture_on_commit_callbacks
):
    settings.STORAGES = {
        **settings.STORAGES,
        "failing": {
            "BACKEND": "tests.evaluation.failing_storage.FailingStorage",
            "OPTIONS": {"location": str(media_root), "fail_on_save": fail_on_save},
        },
    }
    settings.RELABEL_RELEASE_STORAGE = "failing"
    with django_capture_on_commit_callbacks(execute=True):  # the worker logs the error; the build cleans up
        release_create(dataset=dataset)
    release = Release.objects.get()
    assert release.state == "failed" and "no space left" in release.error
    assert not ready_releases().exists() and not ReleaseFile.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_running_the_build_twice_builds_once(dataset, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        release, _ = release_create(dataset=dataset)
    assert release_build_task.apply(args=[release.pk]).get() is True
    assert release_build_task.apply(args=[release.pk]).get() is False
    assert release_build(release_id=release.pk) is None
    assert ReleaseFile.objects.filter(release=release).count() == len(ReleaseFile.Kind.values)


def test_a_building_release_is_never_listed(dataset, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        release, _ = release_create(dataset=dataset)
    assert release.state == "building" and not ready_releases(dataset).exists()


def test_adjudicated_and_excluded_images_follow_the_reviewer_when_adjudications_apply(
    dataset, django_capture_on_commit_callbacks
):
    image = Image.objects.get(dataset=dataset, position=4)
    bad = Image.objects.get(dataset=dataset, position=0)
    c5 = dataset.classes.get(index=5).pk
    # What the review queue stores when a reviewer settles an image or marks it bad.
    Consensus.objects.filter(image=image).update(status="adjudicated", adjudicated=True, labels=[c5])
    Consensus.objects.filter(image=bad).update(status="adjudicated", adjudicated=True, excluded=True, labels=[])
    applied = built_release(dataset, django_capture_on_commit_callbacks)
    assert json.loads(_read(applied, "real"))[:5] == [[], [1, 2], [2], [3, 4], [5]]
    assert json.loads(_read(applied, "status"))[0] == "excluded"
    assert (applied.n_excluded, applied.n_adjudicated, applied.n_empty) == (1, 2, 0)
    crowd_only = built_release(dataset, django_capture_on_commit_callbacks, apply_adjudications=False)
    assert json.loads(_read(crowd_only, "real")) == EXPECTED_REAL and crowd_only.n_excluded == 0


def test_parameters_change_the_label_sets_and_are_recorded(dataset, django_capture_on_commit_callbacks):
    strict = built_release(dataset, django_capture_on_commit_callbacks, threshold=0.9, min_annotations=1)
    assert json.loads(_read(strict, "real")) == [[0], [1], [2], [3], [], [], [0], [1]]
    assert (strict.threshold, strict.min_annotations, strict.n_pending, strict.n_original) == (0.9, 1, 0, 1)
    pending = built_release(dataset, django_capture_on_commit_callbacks, unanswered_as_original=False)
    assert json.loads(_read(pending, "real")) == [*EXPECTED_REAL[:7], []]
    assert json.loads(_read(pending, "status")) == [*EXPECTED_STATUS[:7], "pending"]
    assert (pending.unanswered_as_original, pending.n_pending, pending.n_original) == (False, 2, 0)
    assert "| images nobody answered | pending (an empty list) |" in _read(pending, "datasheet").decode()


def test_a_dawid_skene_release_needs_a_dawid_skene_run_and_a_threshold_in_range(dataset):
    with pytest.raises(ReleaseInputError, match="Dawid–Skene run"):
        release_create(dataset=dataset, aggregation="dawid_skene")
    with pytest.raises(ReleaseInputError, match="threshold"):
        release_create(dataset=dataset, threshold=1.5)
    assert not Release.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_progress_is_written_where_other_connections_see_it_while_the_build_transaction_is_open(tmp_path):
    dataset = voted_dataset(tmp_path, slug="progress")
    release = Release.objects.create(dataset=dataset, version=1, aggregation="majority", threshold=0.5,
                                     min_annotations=3)  # fmt: skip
    with ReleaseClaim(release.pk) as claim, transaction.atomic():
        assert claim.held
        Image.objects.select_for_update().filter(dataset=dataset).first()  # the build's own open transaction
        claim.update("votes", 0.6)
        assert Release.objects.filter(pk=release.pk).values_list("phase", "progress").get() == ("votes", 0.6)


def test_a_dawid_skene_release_holds_the_classes_whose_posterior_exceeds_the_threshold(
    dataset, django_capture_on_commit_callbacks
):
    dawid_skene_run(dataset=dataset)
    dataset.refresh_from_db()
    release = built_release(dataset, django_capture_on_commit_callbacks, aggregation="dawid_skene", threshold=0.8)
    index_of = dict(dataset.classes.values_list("id", "index"))
    consensus = {c.image.position: c for c in Consensus.objects.filter(dataset=dataset).select_related("image")}
    expected = [
        sorted(index_of[int(k)] for k, p in consensus[i].ds_posterior.items() if p > 0.8)
        if i in consensus and consensus[i].annotation_count >= 3
        else [1]
        if i == 7  # nobody answered it: its original label
        else []
        for i in range(8)
    ]
    real = json.loads(_read(release, "real"))
    assert real == expected and real[0] == [0] and real[6] == [] and real[7] == [1]
    records = [json.loads(line) for line in _read(release, "jsonl").decode().splitlines()]
    assert records[0]["classes"][0]["support"] == pytest.approx(
        consensus[0].ds_posterior[str(dataset.classes.get(index=0).pk)]
    )
    assert (
        release.aggregation == "dawid_skene" and "Dawid–Skene posterior > 0.8" in _read(release, "datasheet").decode()
    )


def test_a_build_held_by_a_live_worker_is_left_alone_and_one_whose_worker_died_is_retaken(
    dataset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        release, _ = release_create(dataset=dataset)
    Release.objects.filter(pk=release.pk).update(claimed_at=timezone.now() - STALE_CLAIM / 2)
    assert release_build(release_id=release.pk) is None and release_build_held_elsewhere(release_id=release.pk)
    # Well past stale: the claim compares with the database's now(), the start of this test's transaction, which
    # a slow set-up leaves seconds behind timezone.now() (a 1 s margin failed once under load).
    Release.objects.filter(pk=release.pk).update(claimed_at=timezone.now() - STALE_CLAIM - timedelta(minutes=5))
    assert not release_build_held_elsewhere(release_id=release.pk)
    assert release_build_task.apply(args=[release.pk]).get() is True
    assert Release.objects.get(pk=release.pk).state == "ready"


def test_the_periodic_sweep_finds_lost_and_dead_builds_and_a_rebuild_removes_the_dead_builds_files(
    dataset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the task message is "lost": never delivered
        lost, _ = release_create(dataset=dataset)
        dead, _ = release_create(dataset=dataset)
        live, _ = release_create(dataset=dataset)
    now = timezone.now()
    assert releases_needing_a_build(now=now) == []  # just created: their tasks may still arrive
    # Well past stale (the claim compares with the transaction's now(), behind `now` by the set-up's time).
    Release.objects.filter(pk=dead.pk).update(claimed_at=now - STALE_CLAIM - timedelta(minutes=5))
    later = now + UNCLAIMED_GRACE + timedelta(seconds=1)
    Release.objects.filter(pk=live.pk).update(claimed_at=later - STALE_CLAIM / 2)
    assert sorted(releases_needing_a_build(now=later)) == [lost.pk, dead.pk]

    # The dead worker had stored a file in its own folder before it died.
    storage = release_storage()
    leftover = storage.save(f"releases/{dataset.slug}/{dead.pk}-deadbeef/real.json", ContentFile(b"[[1]"))
    assert releases_resume_task.apply().get() == 1  # `lost` was never claimed at `now`; the dead one was
    assert Release.objects.get(pk=dead.pk).state == "ready"
    assert not storage.exists(leftover)
    assert all(storage.exists(f.storage_name) for f in ReleaseFile.objects.filter(release=dead))


def test_a_retried_creation_with_the_same_client_uuid_makes_one_release(
    dataset, researcher, django_capture_on_commit_callbacks
):
    key = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first, created = release_create(dataset=dataset, created_by=researcher, client_uuid=key)
        again, created_again = release_create(dataset=dataset, created_by=researcher, client_uuid=key)
    assert again.pk == first.pk and (created, created_again) == (True, False)
    assert Release.objects.filter(dataset=dataset).count() == 1 and len(callbacks) == 1


@pytest.mark.parametrize("aggregation", ["majority", "dawid_skene"])
def test_a_class_one_annotator_found_through_search_never_reaches_a_release_beside_none_fits_and_bad_image(
    team, aggregation, django_capture_on_commit_callbacks
):
    dataset, hubble = photographs_dataset(team)
    dawid_skene_run(dataset=dataset)
    planetarium = dataset.classes.get(index=5).pk  # never proposed: found through the vocabulary search
    hubble_submit(team[0], dataset, hubble, none_fits=True)
    hubble_submit(team[1], dataset, hubble, bad_image=True)
    hubble_submit(team[2], dataset, hubble, classes=[planetarium])
    dataset.refresh_from_db()
    # A threshold so low that the one yes vote carries the class over it, by share or by posterior.
    release = built_release(dataset, django_capture_on_commit_callbacks, aggregation=aggregation, threshold=0.05)
    assert json.loads(_read(release, "real"))[hubble.position] == []
    record = [json.loads(line) for line in _read(release, "jsonl").decode().splitlines()][hubble.position]
    assert (record["key"], record["classes"], record["status"]) == ("hubble_deep_field.jpg", [], "disputed")
