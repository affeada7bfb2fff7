"""ImageNet val end to end: the public ReaL labels and three models' top-5, through the real services.

The dataset (50,000 file-less images) is built once for the module, outside the per-test transactions,
and deleted afterwards.
"""

from __future__ import annotations

import time

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from annotator.import_sources import discover
from annotator.models import Candidate, Image
from annotator.services.datasets import dataset_create, vocabulary_import
from annotator.services.image_import import images_import
from annotator.vocabulary import BUILTIN_IMAGENET, parse_vocabulary
from evaluation.models import MetricSnapshot, PredictionSet
from evaluation.selectors import label_pool_for
from evaluation.services.candidates import candidates_recompute
from evaluation.services.prediction_sets import candidate_sources_select, prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from evaluation.services.snapshots import metric_snapshots_refresh
from tests.conftest import IMAGENET_DATA, PREDICTIONS_DATA, REAL_DATA

PREDICTIONS = PREDICTIONS_DATA
MODELS = ("resnet18", "resnet50", "vgg16")


@pytest.fixture(scope="module")
def imagenet_val(django_db_setup, django_db_blocker):
    """Built inside one transaction that is rolled back after the module (instant, unlike deleting 50k rows).

    Inside it nothing commits, so the evaluation an upload enqueues on commit is run here by calling the
    service the task calls; tests/celery covers the task itself.
    """
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            dataset = dataset_create(slug="imagenet-val-e2e", name="ImageNet val")
            vocabulary_import(dataset=dataset, classes=parse_vocabulary(BUILTIN_IMAGENET))
            specs = discover("flat", labels_csv=IMAGENET_DATA / "val_ground_truth.csv")
            images_import(dataset=dataset, specs=specs, with_files=False, batch_size=5000)
            _analyze()
            real_json = ContentFile((REAL_DATA / "real.json").read_bytes(), "real.json")
            real = reference_label_set_create(dataset=dataset, name="ReaL", source=real_json)
            started = time.monotonic()
            sets = {
                model: prediction_set_create(
                    dataset=dataset,
                    name=model,
                    source=ContentFile((PREDICTIONS / f"{model}_top5.csv").read_bytes(), f"{model}_top5.csv"),
                )
                for model in MODELS
            }
            metric_snapshots_refresh(prediction_set_ids=[s.pk for s in sets.values()])
            upload_and_evaluate_seconds = time.monotonic() - started
            yield {"dataset": dataset, "real": real, "sets": sets, "seconds": upload_and_evaluate_seconds}
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _analyze() -> None:
    """Autovacuum never sees rows of an open transaction: without fresh statistics the planner believes
    these tables are as small as earlier tests left them and picks nested loops over 400k rows."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Image._meta.db_table}, {Candidate._meta.db_table}")


def _latest(prediction_set: PredictionSet, reference) -> dict:
    return MetricSnapshot.objects.filter(prediction_set=prediction_set, reference_set=reference).latest().values


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "top1", "real_at_1", "real_at_5"),
    [("resnet50", 76.130, 82.958, 95.469), ("resnet18", 69.758, 77.285, None)],
)
def test_uploaded_predictions_reproduce_the_published_real_accuracies(imagenet_val, model, top1, real_at_1, real_at_5):
    values = _latest(imagenet_val["sets"][model], imagenet_val["real"])
    assert round(values["top1"] * 100, 3) == top1
    assert round(values["real_at_1"] * 100, 3) == real_at_1
    if real_at_5 is not None:
        assert round(values["real_at_5"] * 100, 3) == real_at_5
    assert values["n_images"] == 50_000
    assert values["n_evaluated_multilabel"] == imagenet_val["real"].n_labelled


@pytest.mark.django_db
def test_every_set_is_evaluated_once_against_each_label_source(imagenet_val):
    snapshots = MetricSnapshot.objects.filter(prediction_set__dataset=imagenet_val["dataset"])
    assert sorted(snapshots.values_list("prediction_set__name", "watermark")) == sorted(
        (model, watermark) for model in MODELS for watermark in ("consensus:0", f"reference:{imagenet_val['real'].pk}")
    )
    real_snapshot = snapshots.filter(reference_set=imagenet_val["real"]).first()
    assert real_snapshot.pool_size == 50_000


@pytest.mark.django_db
def test_a_second_refresh_appends_nothing(imagenet_val):
    assert metric_snapshots_refresh(datasets=[imagenet_val["dataset"]]) == []


@pytest.mark.django_db
def test_the_reference_pool_holds_the_real_label_lists_in_dataset_order(imagenet_val):
    pool = label_pool_for(imagenet_val["dataset"], reference_set=imagenet_val["real"])
    # real.json begins [[], [970, 795], [230, 231], …]: val_00000001 holds no valid label.
    first_three = [pool.indices[pool.indptr[i] : pool.indptr[i + 1]].tolist() for i in range(3)]
    assert first_three == [[], [795, 970], [230, 231]]
    assert pool.size == 50_000 and pool.watermark == f"reference:{imagenet_val['real'].pk}"


@pytest.mark.django_db
def test_uploading_and_evaluating_three_sets_of_50k_images_takes_seconds(imagenet_val):
    # Generous bound for slow CI machines; the benchmark measures the real figure.
    assert imagenet_val["seconds"] < 30


@pytest.mark.django_db
def test_candidates_for_50k_images_are_written_in_bulk_and_deduplicated(imagenet_val, django_assert_max_num_queries):
    dataset = imagenet_val["dataset"]
    sets = imagenet_val["sets"]
    candidate_sources_select(dataset=dataset, prediction_sets=[sets["resnet50"], sets["vgg16"]])
    with django_assert_max_num_queries(20):
        report = candidates_recompute(dataset=dataset)
    _analyze()
    assert report.images == 50_000 and report.prediction_sets == 2
    first = Candidate.objects.filter(image__dataset=dataset, image__position=0)
    # original 65; resnet50 65 58 62 54 63; vgg16 65 58 62 57 54
    assert sorted(first.values_list("label_class__index", "source")) == [
        (54, "model"), (57, "model"), (58, "model"), (62, "model"), (63, "model"), (65, "original"),
    ]  # fmt: skip
    assert Candidate.objects.filter(image__dataset=dataset).count() == report.candidates
    assert Candidate.objects.filter(image__dataset=dataset, source="original").count() == 50_000


@pytest.mark.django_db
def test_the_import_predictions_command_refuses_a_second_set_of_the_same_name(imagenet_val):
    with pytest.raises(CommandError, match="already has a prediction set named 'vgg16'") as error:
        call_command("import_predictions", "imagenet-val-e2e", str(PREDICTIONS / "vgg16_top5.csv"), "--name", "vgg16")
    assert error.value.returncode == 2
    assert PredictionSet.objects.filter(dataset=imagenet_val["dataset"]).count() == 3
