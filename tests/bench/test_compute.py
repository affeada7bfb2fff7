"""The benchmark's computation sections on a small workload, so `make test` catches a rotting benchmark."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotator.models import Annotation, Consensus, DawidSkeneRun
from bench.compute import bench_consensus, bench_dawid_skene, bench_metrics
from bench.compute_workload import ANNOTATIONS_PER_IMAGE, N_PREDICTION_SETS, compute_dataset
from bench.growth import growth_rows
from bench.pages import bench_pages
from bench.report import Figure, Report
from bench.review_queue import queue_urls
from evaluation.models import MetricSnapshot, PredictionSet

N = 150


@pytest.fixture
def workload(db, monkeypatch):
    monkeypatch.setattr("bench.compute.REPEAT", 1)
    return compute_dataset(N, log=lambda _: None)


def test_the_workload_holds_five_annotations_per_image_and_ten_prediction_sets(workload):
    assert workload.images.count() == N
    assert Annotation.objects.filter(dataset=workload).count() == N * ANNOTATIONS_PER_IMAGE
    sets = PredictionSet.objects.filter(dataset=workload)
    assert sets.count() == N_PREDICTION_SETS and sets.filter(has_scores=True).count() == 1


def test_building_the_workload_again_reuses_it(workload):
    sets = set(PredictionSet.objects.filter(dataset=workload).values_list("pk", flat=True))
    again = compute_dataset(N, log=lambda _: None)
    assert again.pk == workload.pk
    assert set(PredictionSet.objects.filter(dataset=again).values_list("pk", flat=True)) == sets


def test_every_compute_figure_is_measured_beside_a_positive_floor(workload):
    report = Report(scale=N)
    for section in (bench_consensus, bench_dawid_skene, bench_metrics, bench_pages):
        section(report, workload)
    names = [f"{f.section}: {f.name}" for f in report.figures]
    assert len(names) == 7 + len(queue_urls(workload)), names  # + the review queue's URLs
    assert all(f.value > 0 and f.floor is not None and f.floor > 0 for f in report.figures)
    assert Consensus.objects.filter(dataset=workload).count() == N
    assert DawidSkeneRun.objects.filter(dataset=workload).count() == 1
    assert MetricSnapshot.objects.filter(prediction_set__dataset=workload).count() == N_PREDICTION_SETS
    # The real resnet50 ranking, row i mod 50,000 for image i, scores as it does on ImageNet val.
    assert 0.70 < MetricSnapshot.objects.get(prediction_set__name="resnet50").values["top1"] < 0.85
    # Targets are judged only at the sizes they are stated for.
    assert all(f.passed is None for f in report.figures)


def test_the_dashboard_and_leaderboard_queries_do_not_grow_with_ten_sets_and_a_thousand_classes(
    workload, django_assert_max_num_queries
):
    report = Report(scale=N)
    bench_metrics(report, workload)
    bench_pages(report, workload)  # computes the agreement snapshot the dashboard shows
    client = Client()
    client.force_login(workload.annotators.model.objects.get(username="bench-staff"))
    with django_assert_max_num_queries(9):
        assert client.get(reverse("consensus:dashboard", args=[workload.slug])).status_code == 200
    with django_assert_max_num_queries(12):
        page = client.get(reverse("leaderboard:leaderboard", args=[workload.slug]))
    assert page.status_code == 200 and "resnet50-scores" in page.content.decode()


def _report(scale: int, seconds: float, votes: int) -> Report:
    report = Report(scale=scale)
    report.add(Figure("dawid-skene", f"Dawid–Skene run over {votes:,} votes", seconds, "s"))
    report.add(Figure("pages", "dashboard", 80.0, "ms"))
    return report


def test_growth_gives_the_slope_per_10k_images_and_matches_figures_named_by_their_size():
    reports = [_report(10_000, 1.0, 150_000), _report(50_000, 5.0, 750_000), _report(200_000, 20.0, 3_000_000)]
    rows = {row["section"]: row for row in growth_rows(reports)}
    ds = rows["dawid-skene"]
    assert ds["name"] == "Dawid–Skene run over votes" and ds["values"] == [1.0, 5.0, 20.0]
    assert ds["slope_per_10k"] == pytest.approx(1.0) and ds["r2"] == pytest.approx(1.0)
    assert ds["shape"].startswith("linear")
    assert rows["pages"]["slope_per_10k"] == pytest.approx(0.0, abs=1e-9)
    assert rows["pages"]["shape"].startswith("flat")


def test_the_comparison_section_measures_the_page_on_two_datasets_with_the_same_models(db):
    from bench.compare import bench_compare, compare_datasets

    report = Report(scale=N)
    bench_compare(report, n_models=3, n_images=40)
    a, b = compare_datasets(3, 40, log=lambda _: None)  # reused, not rebuilt
    names = [set(d.prediction_sets.values_list("name", flat=True)) for d in (a, b)]
    assert names[0] == names[1] == {"model-00", "model-01", "model-02"}
    assert MetricSnapshot.objects.filter(prediction_set__dataset__in=[a, b], label_source="reference").count() == 6
    (figure,) = report.figures
    assert figure.value > 0 and figure.floor > 0 and figure.passed is None and "3 models" in figure.name
