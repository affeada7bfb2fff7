"""Metric snapshots: computed once per label-pool state, appended, never changed, safe under concurrency."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.utils import InternalError

from evaluation.core.metrics import compute_all, label_matrix, topk_from_scores
from evaluation.models import MetricSnapshot
from evaluation.selectors.label_pools import label_pool_for
from evaluation.selectors.prediction_sets import prediction_scores_path
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from evaluation.services.snapshots import metric_snapshot_compute, metric_snapshots_refresh
from evaluation.tasks import metrics_refresh_task
from tests.builders.prediction_sets import N_CLASSES, ORIGINAL, REFERENCE, TOP3, build_dataset, csv_bytes, npy_bytes


def _upload(dataset, name: str = "model"):
    return prediction_set_create(dataset=dataset, name=name, source=ContentFile(csv_bytes(TOP3), name="m.csv"))


def _reference(dataset, name: str, labels: list[list[int]] = REFERENCE):
    return reference_label_set_create(
        dataset=dataset, name=name, source=ContentFile(json.dumps(labels).encode(), name="real.json")
    )


def test_the_periodic_refresh_appends_nothing_when_no_label_pool_changed(tiny, tiny_reference):
    prediction_set = _upload(tiny)
    first = metric_snapshots_refresh()
    assert len(first) == 2  # live consensus and the reference set
    assert metric_snapshots_refresh() == []
    assert metrics_refresh_task.apply().get() == 0
    assert MetricSnapshot.objects.filter(prediction_set=prediction_set).count() == 2


def test_a_new_label_source_is_evaluated_for_every_set_on_the_next_run(tiny, tiny_reference):
    sets = [_upload(tiny, "a"), _upload(tiny, "b")]
    metric_snapshots_refresh()
    stricter = _reference(tiny, "stricter", [[0], [1], [2], [3], [4], [5], [0], [1]])
    created = metric_snapshots_refresh()
    assert sorted((s.prediction_set_id, s.watermark) for s in created) == [
        (sets[0].pk, f"reference:{stricter.pk}"),
        (sets[1].pk, f"reference:{stricter.pk}"),
    ]
    assert created[0].values["real_at_1"] == 4 / 8
    assert created[0].pool_size == 8


def test_the_live_consensus_pool_is_empty_until_consensus_exists(tiny):
    pool = label_pool_for(tiny)
    assert (pool.label_source, pool.size, pool.watermark, pool.indices.size) == ("consensus", 0, "consensus:0", 0)
    snapshot = metric_snapshot_compute(prediction_set=_upload(tiny), label_pool=pool)
    # Top-1 against the original labels needs no pool; multi-label metrics are undefined, not zero.
    assert snapshot.values["top1"] == 4 / 8
    assert snapshot.values["real_at_1"] is None and snapshot.values["n_evaluated_multilabel"] == 0


def test_a_snapshot_records_the_most_frequent_valid_errors_with_example_images(tiny, tiny_reference):
    prediction_set = _upload(tiny)
    pool = label_pool_for(tiny, reference_set=tiny_reference)
    snapshot = metric_snapshot_compute(prediction_set=prediction_set, label_pool=pool)
    pairs = snapshot.values["valid_error_pairs"]
    assert [(p["original"], p["predicted"], p["count"]) for p in pairs] == [(1, 2, 1), (3, 4, 1)]
    image_1 = tiny.images.get(position=1).pk
    assert snapshot.valid_error_examples["1,2"] == [image_1]
    assert snapshot.values["top1_error_in_label_set_share"] == 2 / 3  # errors on images 1, 3 and 6; 7 has no label


def test_computing_the_same_pool_state_twice_appends_one_snapshot(tiny, tiny_reference):
    prediction_set = _upload(tiny)
    pool = label_pool_for(tiny, reference_set=tiny_reference)
    assert metric_snapshot_compute(prediction_set=prediction_set, label_pool=pool) is not None
    assert metric_snapshot_compute(prediction_set=prediction_set, label_pool=pool) is None
    with pytest.raises(IntegrityError), transaction.atomic():
        snapshot = MetricSnapshot.objects.get(prediction_set=prediction_set)
        snapshot.pk = None
        snapshot.save()


def test_the_database_refuses_to_update_a_snapshot(tiny, tiny_reference):
    prediction_set = _upload(tiny)
    snapshot = metric_snapshot_compute(
        prediction_set=prediction_set, label_pool=label_pool_for(tiny, reference_set=tiny_reference)
    )
    with pytest.raises(InternalError, match="append-only"), transaction.atomic():
        MetricSnapshot.objects.filter(pk=snapshot.pk).update(pool_size=1)


def test_a_set_locked_by_another_worker_is_skipped_not_computed_twice(tiny, tiny_reference):
    prediction_set = _upload(tiny)
    pool = label_pool_for(tiny, reference_set=tiny_reference)
    other = connection.copy()  # a second session, as another worker would hold
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x45564131, prediction_set.pk])
            assert metric_snapshot_compute(prediction_set=prediction_set, label_pool=pool) is None
            cursor.execute("ROLLBACK")
    finally:
        other.close()
    assert metric_snapshot_compute(prediction_set=prediction_set, label_pool=pool) is not None


@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_at_once_append_each_snapshot_exactly_once(media_root):
    dataset = build_dataset("race")
    _reference(dataset, "ReaL")
    sets = [_upload(dataset, f"model {i}") for i in range(6)]
    MetricSnapshot.objects.all().delete()  # drop what the uploads computed; the race starts from nothing
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                metric_snapshots_refresh()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    metric_snapshots_refresh()  # whatever a skipped (locked) set missed is caught up by the next run
    watermarks = list(MetricSnapshot.objects.values_list("prediction_set_id", "watermark"))
    assert len(watermarks) == len(set(watermarks)) == len(sets) * 2


def test_a_snapshot_with_full_scores_is_computed_streaming_and_equals_the_dense_metrics(tiny, tiny_reference):
    """The service reads the labels as CSR and the scores memory-mapped; its figures equal compute_all's."""
    rng = np.random.default_rng(11)
    scores = rng.standard_normal((len(ORIGINAL), N_CLASSES)).astype(np.float32)
    prediction_set = prediction_set_create(
        dataset=tiny, name="logits", source=ContentFile(npy_bytes(scores), name="logits.npy")
    )
    pool = label_pool_for(tiny, reference_set=tiny_reference)
    snapshot = metric_snapshot_compute(prediction_set=prediction_set, label_pool=pool)
    labels = label_matrix(REFERENCE, N_CLASSES)
    dense = compute_all(topk_from_scores(scores, N_CLASSES), np.array(ORIGINAL), labels, scores)
    assert snapshot.values["mean_average_precision"] is not None and snapshot.values["score_transform"] == "softmax"
    assert snapshot.values == json.loads(json.dumps(dense))


def test_scores_in_a_storage_without_local_paths_are_copied_to_a_temporary_file_and_removed(
    tiny, tiny_reference, settings
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},  # no local paths, as S3
    }
    scores = np.random.default_rng(12).random((len(ORIGINAL), N_CLASSES)).astype(np.float32)
    prediction_set = prediction_set_create(
        dataset=tiny, name="remote", source=ContentFile(npy_bytes(scores), name="scores.npy")
    )
    with prediction_scores_path(prediction_set) as path:
        assert path is not None and not path.startswith(str(settings.MEDIA_ROOT))
        np.testing.assert_array_equal(np.load(path, mmap_mode="r"), scores)
    assert not Path(path).exists()
    pool = label_pool_for(tiny, reference_set=tiny_reference)
    snapshot = metric_snapshot_compute(prediction_set=prediction_set, label_pool=pool)
    dense = compute_all(
        topk_from_scores(scores, N_CLASSES), np.array(ORIGINAL), label_matrix(REFERENCE, N_CLASSES), scores
    )
    assert snapshot.values["score_transform"] == "none" and snapshot.values == json.loads(json.dumps(dense))
