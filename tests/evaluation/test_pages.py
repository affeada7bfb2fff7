"""Evaluation pages as a researcher sees them: leaderboard, model page, upload; constant query counts."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evaluation.models import PredictionSet
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from evaluation.services.snapshots import metric_snapshots_refresh
from tests.builders.prediction_sets import KEYS_OF_TINY, TOP3, csv_bytes

# Better top-1 than TOP3 (5 of 8 right) but a worse ReaL@1 (5 of 7): the rankings cross.
SAFE_TOP3 = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [3, 4, 0], [4, 0, 1], [1, 0, 2], [1, 0, 2], [3, 1, 0]]


def _upload(dataset, name: str, rows=TOP3):
    return prediction_set_create(dataset=dataset, name=name, source=ContentFile(csv_bytes(rows), name="m.csv"))


@pytest.fixture
def board(tiny, tiny_reference, client, researcher):
    bold = _upload(tiny, "bold", TOP3)
    safe = _upload(tiny, "safe", SAFE_TOP3)
    metric_snapshots_refresh()
    client.force_login(researcher)
    return {"bold": bold, "safe": safe}


def test_the_leaderboard_ranks_by_top1_and_by_real_side_by_side_with_rank_changes(client, tiny, tiny_reference, board):
    response = client.get(reverse("leaderboard:leaderboard", args=[tiny.slug]))
    html = response.content.decode()
    assert response.status_code == 200
    top1_table = html[html.index('id="ranking-top1"') : html.index('id="ranking-real"')]
    real_table = html[html.index('id="ranking-real"') : html.index('id="all-metrics"')]
    assert top1_table.index(">safe<") < top1_table.index(">bold<")
    assert real_table.index(">bold<") < real_table.index(">safe<")
    assert "▲1" in real_table and "▼1" in real_table
    assert "62.50" in top1_table and "[30.57, 86.32]" in top1_table  # safe: 5/8 with its Wilson interval
    assert "85.71" in real_table  # bold: 6/7
    assert "Against <strong>hand labels</strong>" in html  # the consensus is empty, so the reference is shown


def test_a_source_with_one_state_draws_models_against_each_other_not_a_history_of_one_dot(client, tiny, board):
    html = client.get(reverse("leaderboard:leaderboard", args=[tiny.slug])).content.decode()
    # A reference set never grows: top-1 against ReaL@1 and against ASMA, one dot per model, with y = x.
    assert html.count('class="chart scatter"') == 2 and html.count('class="diagonal"') == 2
    assert "<polyline" not in html and "Metrics against the number of labelled images" not in html
    assert "bold: 50.0% → 85.7%" in html  # top-1 4/8, ReaL@1 6/7


def test_against_the_empty_live_consensus_only_original_label_metrics_show(client, tiny, board):
    html = client.get(reverse("leaderboard:leaderboard", args=[tiny.slug]), {"labels": "consensus"}).content.decode()
    assert "The live consensus has no labelled images yet" in html
    assert "62.50" in html and "85.71" not in html


def test_the_leaderboard_reads_a_constant_number_of_queries(client, tiny, board, django_assert_max_num_queries):
    for i in range(6):
        _upload(tiny, f"extra {i}")
    metric_snapshots_refresh()
    with django_assert_max_num_queries(12):
        response = client.get(reverse("leaderboard:leaderboard", args=[tiny.slug]))
    assert response.content.decode().count('class="change"') == 16  # ReaL@1 and ASMA rankings


def test_a_set_not_yet_evaluated_is_listed_as_computing(client, tiny, board):
    _upload(tiny, "fresh")
    html = client.get(reverse("leaderboard:leaderboard", args=[tiny.slug])).content.decode()
    assert "fresh" in html and "computing…" in html


def test_the_model_page_lists_per_class_accuracy_and_valid_errors_with_images(
    client, tiny, tiny_reference, board, django_assert_max_num_queries
):
    url = reverse("prediction_sets:prediction-set", args=[board["bold"].pk])
    with django_assert_max_num_queries(12):
        response = client.get(url, {"labels": f"reference-{tiny_reference.pk}", "sort": "-real"})
    html = response.content.decode()
    errors = html[html.index('id="valid-errors"') : html.index('id="per-class"')]
    assert "class 1" in errors and "class 2" in errors and KEYS_OF_TINY[1] in errors
    per_class = html[html.index('id="per-class"') :]
    # Sorted by ReaL@1 descending: class 1 (its image is a valid error: 100 %) before class 0 (1 of 2).
    assert per_class.index("class 1 <") < per_class.index("class 0 <")
    assert 'aria-sort="descending"' in per_class


def test_the_model_page_says_when_metrics_are_still_being_computed(client, tiny, board):
    fresh = _upload(tiny, "fresh")
    html = client.get(reverse("prediction_sets:prediction-set", args=[fresh.pk])).content.decode()
    assert "metrics are being computed" in html


def test_uploading_through_the_page_redirects_to_the_new_model(client, tiny, researcher):
    client.force_login(researcher)
    response = client.post(
        reverse("prediction_sets:upload", args=[tiny.slug]),
        {"name": "page upload", "file": SimpleUploadedFile("p.csv", csv_bytes(TOP3))},
    )
    prediction_set = PredictionSet.objects.get(name="page upload")
    assert response.status_code == 302
    assert response["Location"] == reverse("prediction_sets:prediction-set", args=[prediction_set.pk])


def test_a_bad_file_on_the_upload_page_is_a_400_with_the_rows_named(client, tiny, researcher):
    client.force_login(researcher)
    response = client.post(
        reverse("prediction_sets:upload", args=[tiny.slug]),
        {"name": "bad", "file": SimpleUploadedFile("bad.csv", csv_bytes(TOP3[:7], keys=KEYS_OF_TINY[:7]))},
    )
    assert response.status_code == 400
    assert "missing image keys" in response.content.decode()
    assert not PredictionSet.objects.exists()


def test_the_candidate_form_changes_the_selection(client, tiny, board):
    response = client.post(
        reverse("prediction_sets:candidate-sources", args=[tiny.slug]), {"prediction_sets": [board["safe"].pk]}
    )
    assert response.status_code == 302
    assert list(PredictionSet.objects.filter(use_for_candidates=True)) == [board["safe"]]


def test_the_index_lists_datasets_with_their_evaluation_counts(client, tiny, board, django_assert_max_num_queries):
    second = ContentFile(json.dumps([[0]] * 8).encode(), name="r.json")
    reference_label_set_create(dataset=tiny, name="second", source=second)
    with django_assert_max_num_queries(6):
        html = client.get(reverse("leaderboard:index")).content.decode()
    assert reverse("leaderboard:leaderboard", args=[tiny.slug]) in html
