"""ImageNet val end to end: the demo's "ImageNet val (ReaL raters)" dataset, built by the service `make demo`
runs in the background, checked against the published ReaL numbers; then more of the evaluation services on it.

The dataset (50,000 file-less images, ReaL's 924,810 rater answers, the ReaL labels and three models' top-5)
is built once for the module, outside the per-test transactions, and rolled back afterwards. It is the only
50k-image ImageNet val build of tests/evaluation (tests/annotator/test_real_consensus.py builds its own to
go through `import_votes`).
"""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from annotator.core.import_sources import discover
from annotator.core.vocabulary import BUILTIN_IMAGENET, parse_vocabulary
from annotator.models import AgreementSnapshot, Annotation, Candidate, Consensus, DawidSkeneRun, Image, Vote
from annotator.services.datasets import dataset_create, vocabulary_import
from annotator.services.image_import import images_import
from demo.services.imagenet_val import IMAGENET_VAL_NAME, IMAGENET_VAL_SLUG, MODELS, demo_imagenet_val_load
from evaluation.core.metrics import compute_all, label_matrix
from evaluation.core.prediction_formats import parse_predictions
from evaluation.models import MetricSnapshot, PredictionSet, ReferenceLabelSet, Release, ReleaseFile
from evaluation.selectors.label_pools import label_pool_for, label_pools_for
from evaluation.services.candidates import candidates_recompute
from evaluation.services.prediction_sets import candidate_sources_select
from evaluation.services.releases import release_storage
from evaluation.services.snapshots import metric_snapshots_refresh
from tests.builders import IMAGENET_DATA, PREDICTIONS_DATA
from tests.evaluation.test_real_reference_values import reference

PREDICTIONS = PREDICTIONS_DATA
KILLED_AFTER_IMAGES = 10_000


@pytest.fixture(scope="module")
def imagenet_val(django_db_setup, django_db_blocker):
    """Built inside one transaction that is rolled back after the module (instant, unlike deleting 50k rows).

    It starts from what a demo load killed during its image import leaves (the dataset, its vocabulary and
    the first 10,000 images in file order), so the load also shows it completes a half-loaded dataset.
    Inside the transaction nothing commits, so the tasks the services enqueue on commit never run: the
    demo service computes the metrics and builds the release itself; tests/celery covers the tasks.
    """
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            dataset = dataset_create(
                slug=IMAGENET_VAL_SLUG, name=IMAGENET_VAL_NAME, aggregation="dawid_skene", ds_prior="imagenet_real"
            )
            vocabulary_import(dataset=dataset, classes=parse_vocabulary(BUILTIN_IMAGENET))
            specs = sorted(discover("flat", labels_csv=IMAGENET_DATA / "val_ground_truth.csv"), key=lambda s: s.key)
            images_import(dataset=dataset, specs=specs[:KILLED_AFTER_IMAGES], with_files=False, batch_size=5000)
            report = demo_imagenet_val_load()
            _analyze()
            dataset.refresh_from_db()
            real = ReferenceLabelSet.objects.get(dataset=dataset, name="ReaL")
            sets = {s.name: s for s in PredictionSet.objects.filter(dataset=dataset)}
            # Read now: the tests' own media folders (tests/evaluation/conftest.py) hide where the build stored it.
            release_files = {kind: _release_file(dataset, kind) for kind in ("real", "status")}
            yield {"dataset": dataset, "real": real, "sets": sets, "report": report, "release_files": release_files}
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _release_file(dataset, kind: str) -> list:
    stored = ReleaseFile.objects.get(release__dataset=dataset, kind=kind)
    with release_storage().open(stored.storage_name, "rb") as handle:
        return json.load(handle)


def _analyze() -> None:
    """Autovacuum never sees rows of an open transaction: without fresh statistics the planner believes
    these tables are as small as earlier tests left them and picks nested loops over 400k rows."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Image._meta.db_table}, {Candidate._meta.db_table}")


def _latest(prediction_set: PredictionSet, reference) -> dict:
    return MetricSnapshot.objects.filter(prediction_set=prediction_set, reference_set=reference).latest().values


@pytest.mark.django_db
def test_the_demo_dataset_holds_every_val_image_and_every_answer_of_reals_raters(imagenet_val):
    dataset = imagenet_val["dataset"]
    images = Image.objects.filter(dataset=dataset)
    assert images.count() == 50_000 and not images.exclude(original="").exists()
    # Completed after the "killed" import: file order kept, positions 0..49,999 without a gap.
    assert images.get(key="ILSVRC2012_val_00050000.JPEG").position == 49_999
    assert images.get(key=f"ILSVRC2012_val_{KILLED_AFTER_IMAGES + 1:08d}.JPEG").position == KILLED_AFTER_IMAGES
    assert Vote.objects.filter(image__dataset=dataset).count() == 924_810
    assert Annotation.objects.filter(dataset=dataset).count() == 171_646
    assert not dataset.annotators.filter(is_active=True).exists()  # nobody may open it in the workbench


@pytest.mark.django_db
def test_the_demo_fits_dawid_skene_and_every_rated_image_gets_a_consensus(imagenet_val):
    dataset = imagenet_val["dataset"]
    run = DawidSkeneRun.objects.get(dataset=dataset)
    assert dataset.ds_run == run and run.n_votes == 924_810 and run.converged
    assert run.prior_mode == "imagenet_real"
    consensus = Consensus.objects.filter(dataset=dataset)
    assert consensus.count() == 24_889
    assert not consensus.filter(ds_posterior__isnull=True).exists()
    assert AgreementSnapshot.objects.get(dataset=dataset).n_votes == 924_810


@pytest.mark.django_db
def test_the_demo_builds_a_first_release_of_the_dawid_skene_consensus(imagenet_val):
    release = Release.objects.get(dataset=imagenet_val["dataset"])
    assert (release.state, release.version, release.aggregation) == ("ready", 1, "dawid_skene")
    assert release.n_images == 50_000 and release.n_votes == 924_810


@pytest.mark.django_db
def test_the_demo_release_follows_reals_convention_and_scores_about_as_many_images_as_real(imagenet_val):
    """Images ReaL's raters were never asked about keep their original label, as in ReaL's real.json: the
    release is a drop-in that scores ~46,837 images (ReaL: 46,837; pending only: 21,899)."""
    release = Release.objects.get(dataset=imagenet_val["dataset"])
    run = DawidSkeneRun.objects.get(dataset=imagenet_val["dataset"])
    assert release.unanswered_as_original and release.n_original == 50_000 - 24_889 and release.n_pending == 0
    assert (release.ds_run_id, release.ds_prior) == (run.pk, "imagenet_real")
    ours, status = imagenet_val["release_files"]["real"], imagenet_val["release_files"]["status"]
    keys, original, published = reference()
    assert status.count("original") == release.n_original
    assert all(labels == [original[i]] for i, labels in enumerate(ours) if status[i] == "original")
    scored = sum(1 for labels in ours if labels)
    assert scored == release.n_labelled + release.n_original and abs(scored - 46_837) < 300
    parsed = parse_predictions(
        (PREDICTIONS / "resnet50_top5.csv").read_bytes(), "resnet50_top5.csv", image_keys=keys, num_classes=1000
    )
    ours_metrics = compute_all(parsed.topk, original, label_matrix(ours, 1000))
    real_metrics = compute_all(parsed.topk, original, label_matrix(published, 1000))
    assert ours_metrics["n_evaluated_multilabel"] == scored
    # ResNet-50: 82.963 % against the release, 82.958 % against ReaL (measured)
    assert abs(ours_metrics["real_at_1"] - real_metrics["real_at_1"]) < 0.001


@pytest.mark.django_db
def test_a_second_demo_load_writes_nothing(imagenet_val):
    before = _rows_written()
    report = demo_imagenet_val_load()
    assert _rows_written() == before
    assert not report.wrote


def _rows_written() -> int:
    """Rows inserted, updated or deleted in any table so far in this transaction (PostgreSQL's own count)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_xact_user_tables")
        return int(cursor.fetchone()[0])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "top1", "real_at_1", "real_at_5"),
    # resnet50 and resnet18: the known values of data/README.md; vgg16: pinned in test_real_reference_values.
    [("resnet50", 76.130, 82.958, 95.469), ("resnet18", 69.758, 77.285, None), ("vgg16", 71.592, 79.040, 93.644)],
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
    consensus, real = label_pools_for(imagenet_val["dataset"])
    assert consensus.watermark.startswith("consensus:24889:")
    assert real.watermark == f"reference:{imagenet_val['real'].pk}"
    assert sorted(snapshots.values_list("prediction_set__name", "watermark")) == sorted(
        (model, pool.watermark) for model in MODELS for pool in (consensus, real)
    )
    assert snapshots.filter(reference_set=imagenet_val["real"]).first().pool_size == 50_000
    assert snapshots.filter(reference_set=None).first().pool_size == 24_889


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
    steps = imagenet_val["report"].steps
    assert steps["prediction sets"][0] + steps["metrics"][0] < 30


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
        call_command("import_predictions", IMAGENET_VAL_SLUG, str(PREDICTIONS / "vgg16_top5.csv"), "--name", "vgg16")
    assert error.value.returncode == 2
    assert PredictionSet.objects.filter(dataset=imagenet_val["dataset"]).count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS)
def test_the_offline_evaluator_gives_the_servers_snapshot_for_the_same_files(imagenet_val, model):
    from annotator.core.vocabulary import BUILTIN_IMAGENET
    from evaluation.evaluate import evaluate
    from tests.builders import REAL_DATA
    from tests.evaluation.test_offline_evaluator import assert_equals_snapshot

    result = evaluate(
        REAL_DATA / "real.json",
        PREDICTIONS / f"{model}_top5.csv",
        IMAGENET_DATA / "val_ground_truth.csv",
        classes=BUILTIN_IMAGENET,
        bins="1,2,3,4",
    )
    values = _latest(imagenet_val["sets"][model], imagenet_val["real"])
    assert_equals_snapshot(result, values)
    assert (result["vtk_scored"], result["vtk_left_out"], result["n_multilabel"]) == (46_693, 144, 7_443)


@pytest.mark.django_db
def test_the_demo_compares_imagenet_val_with_imagenetv2_and_shows_the_top1_drop(imagenet_val, client, researcher):
    from demo.services.imagenetv2 import COMPARISON_PATH, IMAGENETV2_SLUG, demo_imagenetv2_load

    demo_imagenetv2_load()
    client.force_login(researcher)
    html = client.get(COMPARISON_PATH).content.decode()
    # A defaults to ReaL (the source covering most images), B to its live consensus, which holds no label set.
    assert "against <strong>ReaL</strong>" in html and "76.13 → 63.33" in html and "−12.80" in html
    assert "69.76 → 57.18" in html and "71.59 → 58.84" in html
    assert 'id="no-labels-b"' in html and 'id="no-labels-a"' not in html
    body = client.get(f"/api/datasets/{IMAGENET_VAL_SLUG}/compare/{IMAGENETV2_SLUG}/").json()
    resnet50 = next(r for r in body["rows"] if r["model_a"]["name"] == "resnet50")
    assert resnet50["metrics"]["top1"]["a"] == pytest.approx(0.7613) and resnet50["metrics"]["real_at_1"] is None
    assert body["dataset_a"]["multilabel_share"]["multilabel_share"] == pytest.approx(0.1589, abs=5e-5)
    assert body["dataset_b"]["has_label_sets"] is False
