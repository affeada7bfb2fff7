"""Variable top-k, ASMA and the multi-label share where metrics appear: leaderboard (ranking, sortable table, CSV,
charts), model page, API; and existing prediction sets getting them without being uploaded again."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from evaluation.core.metrics import METRICS_VERSION
from evaluation.models import MetricSnapshot
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.snapshots import metric_snapshots_refresh
from tests.builders.prediction_sets import TOP3, csv_bytes
from tests.builders.releases import VOTES, voted_dataset, votes_csv

# With the tiny reference (REFERENCE in conftest): |Y| = 1 for images 0, 2, 4, 5, 6 and 2 for images 1, 3.
# bold (TOP3): top-1 4/8; strict variable top-k 4/5 in bin {1}, 2/2 in bin {2}: ASMA (0.8 + 1) / 2 = 0.9.
# safe: top-1 5/8 (better), bin {1} 3/5, bin {2} 2/2: ASMA 0.8 (worse). plain: top-1 3/8, bin {1} 2/5,
# bin {2} 0/2 strict but half of each set found: ASMA 0.2 strict, (0.4 + 0.5) / 2 = 0.45 fractional.
SAFE = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [3, 4, 0], [4, 0, 1], [1, 0, 2], [1, 0, 2], [3, 1, 0]]
PLAIN = [[0, 1, 2], [2, 0, 1], [2, 0, 1], [3, 0, 1], [0, 1, 2], [1, 0, 2], [1, 0, 2], [3, 1, 0]]


def _upload(dataset, name: str, rows):
    return prediction_set_create(dataset=dataset, name=name, source=ContentFile(csv_bytes(rows), name="m.csv"))


@pytest.fixture
def board(tiny, tiny_reference, client, researcher):
    sets = {name: _upload(tiny, name, rows) for name, rows in (("bold", TOP3), ("safe", SAFE), ("plain", PLAIN))}
    metric_snapshots_refresh()
    client.force_login(researcher)
    return sets


def _page(client, dataset, **params) -> str:
    response = client.get(reverse("leaderboard:leaderboard", args=[dataset.slug]), params)
    assert response.status_code == 200
    return response.content.decode()


def _names_in(html: str, start: str, end: str) -> list[str]:
    table = html[html.index(start) : html.index(end)]
    return sorted(("bold", "safe", "plain"), key=lambda name: table.index(f">{name}<"))


def test_the_leaderboard_ranks_by_asma_with_the_places_gained_over_top1(client, tiny, board):
    html = _page(client, tiny)
    assert _names_in(html, 'id="ranking-top1"', 'id="ranking-real"') == ["safe", "bold", "plain"]
    asma = html[html.index('id="ranking-asma"') : html.index('id="asma-note"')]
    assert _names_in(html, 'id="ranking-asma"', 'id="asma-note"') == ["bold", "safe", "plain"]
    assert "90.00" in asma and "80.00" in asma and "20.00" in asma
    assert "▲1" in asma and "▼1" in asma and "=" in asma
    note = html[html.index('id="asma-note"') : html.index("All metrics")]
    assert "our reading" in note and "(1, 2, 3, 4+)" in note and "<strong>strict</strong>" in note


def test_the_fractional_variant_is_one_click_away_and_ranks_by_partial_credit(client, tiny, board):
    html = _page(client, tiny, asma="frac")
    note = html[html.index('id="asma-note"') : html.index("All metrics")]
    assert "<strong>fractional</strong>" in note
    assert "45.00" in html[html.index('id="ranking-asma"') : html.index('id="asma-note"')]
    assert _page(client, tiny, asma="nonsense").count("<strong>strict</strong>") == 1


def test_every_column_of_the_metrics_table_sorts_both_ways(client, tiny, board):
    def order(sort: str) -> list[str]:
        return _names_in(_page(client, tiny, sort=sort), 'id="all-metrics"', "Proportions in %")

    assert order("-asma_strict") == ["bold", "safe", "plain"]
    assert order("asma_strict") == ["plain", "safe", "bold"]
    assert order("-top1") == ["safe", "bold", "plain"]
    assert order("name") == ["bold", "plain", "safe"]
    assert order("-map") == ["bold", "plain", "safe"]  # undefined everywhere: the name order stays
    assert order("no-such-column") == order("-real1")
    html = _page(client, tiny, sort="-vtk_frac")
    assert 'aria-sort="descending"' in html and "sort=vtk_frac&amp;asma=strict" in html  # the next click: ascending


def test_the_leaderboard_shows_the_sources_multilabel_share_and_histogram(client, tiny, board):
    html = _page(client, tiny)
    share = html[html.index('id="multilabel-share"') :]
    assert "28.57%" in share and "2 of 7 images" in share  # images 1 and 3 of the 7 with a label set
    assert "Valid labels per image, |Y|" in html and "1: 5 images (71.4%)" in html and "2: 2 images (28.6%)" in html
    assert "0: 1 images" not in html  # no label set: empty, or in the live consensus not settled yet


def test_the_leaderboard_downloads_as_csv_with_every_figure(client, tiny, tiny_reference, board):
    response = client.get(reverse("leaderboard:leaderboard-csv", args=[tiny.slug]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f'filename="tiny-leaderboard-reference-{tiny_reference.pk}.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["model"] for r in rows] == ["bold", "safe", "plain"]  # ReaL@1 order
    bold = rows[0]
    values = MetricSnapshot.objects.filter(prediction_set=board["bold"], reference_set=tiny_reference).get().values
    assert float(bold["asma_strict"]) == values["asma_strict"] == pytest.approx(0.9)
    assert float(bold["real1_low"]) == values["real_at_1_ci"][0]
    ranks = [bold[f"rank_{name}"] for name in ("top1", "real1", "asma_strict", "asma_frac")]
    assert ranks == ["2", "1", "1", "1"]
    assert (bold["bin_2_images"], bold["bin_4+_images"]) == ("2", "0")
    assert bold["mean_average_precision"] == ""  # undefined: blank
    assert bold["label_source"] == "hand labels" and bold["pool_size"] == "8"


def test_a_model_name_a_spreadsheet_would_run_is_quoted_in_the_csv(client, tiny, tiny_reference, board):
    _upload(tiny, "=HYPERLINK(1)", TOP3)
    metric_snapshots_refresh()
    text = client.get(reverse("leaderboard:leaderboard-csv", args=[tiny.slug])).content.decode()
    assert "'=HYPERLINK(1)" in text and "\n=HYPERLINK" not in text


def test_the_csv_and_the_leaderboard_api_are_for_whoever_sees_evaluation(client, tiny, board, annotator):
    client.force_login(annotator)
    assert client.get(reverse("leaderboard:leaderboard-csv", args=[tiny.slug])).status_code == 403
    assert client.get(reverse("leaderboard:api-leaderboard", args=[tiny.slug])).status_code == 403


def test_the_leaderboard_api_ranks_by_asma_and_carries_the_new_figures(client, tiny, tiny_reference, board):
    response = client.get(reverse("leaderboard:api-leaderboard", args=[tiny.slug]), {"sort": "-asma_frac"})
    body = response.json()
    assert response.status_code == 200 and body["asma_variant"] == "strict"
    assert body["label_source"] == f"reference-{tiny_reference.pk}"
    assert body["multilabel_share"]["n_multilabel"] == 2
    bold = body["rows"][0]
    assert (bold["name"], bold["rank_asma"], bold["places_gained_asma"]) == ("bold", 1, 1)
    two = bold["metrics"]["subgroups"][1]
    assert (two["bin"], two["lower"], two["upper"], two["images"], two["n_with_original"]) == ("2", 2, 2, 2, 2)
    assert (two["top1"], two["real1"], two["vtk_strict"], two["vtk_frac"]) == (0.0, 1.0, 1.0, 1.0)
    assert two["top1_ci"] == pytest.approx([0.0, 0.6576], abs=1e-4)
    assert two["vtk_strict_ci"] == two["real1_ci"] == pytest.approx([0.3424, 1.0], abs=1e-4)


def test_the_snapshot_api_summary_carries_variable_topk_and_asma(client, board):
    response = client.get(reverse("prediction_sets:api-snapshots", args=[board["safe"].pk]))
    reference = next(s for s in response.json() if s["label_source"] == "reference")
    assert reference["metrics_version"] == METRICS_VERSION
    metrics = reference["metrics"]
    assert metrics["asma_strict"] == pytest.approx(0.8) and metrics["vtk_scored"] == 7 and metrics["vtk_left_out"] == 0
    assert [s["bin"] for s in metrics["subgroups"]] == ["1", "2", "3", "4+"]


def test_the_model_page_shows_a_subgroup_table_and_chart_with_intervals(client, tiny, tiny_reference, board):
    url = reverse("prediction_sets:prediction-set", args=[board["bold"].pk])
    html = client.get(url, {"labels": f"reference-{tiny_reference.pk}"}).content.decode()
    table = html[html.index('id="subgroups"') : html.index("</table>", html.index('id="subgroups"'))]
    assert table.count('<td class="bin">') == 4
    assert "80.00" in table and "[37.55, 96.38]" in table  # bin {1}: 4 of 5 with its Wilson interval
    assert "ASMA, the mean over bins" in table and "90.00" in table
    chart = html[html.index('class="chart intervals"') :]
    assert chart.count('class="whisker"') == 3 * 4 * 2  # 4 series × 2 non-empty bins, 3 lines each
    assert "Variable top-k, strict, |Y| 1 (5): 80.0% [37.6%, 96.4%]" in chart


def test_a_top5_file_leaves_images_with_more_labels_out_and_says_so(client, tiny, board, researcher):
    from evaluation.services.reference_labels import reference_label_set_create

    many = ContentFile(b"[[0, 1, 2, 3], [1], [2], [3], [4], [5], [0], []]", name="many.json")
    reference = reference_label_set_create(dataset=tiny, name="many", source=many)
    metric_snapshots_refresh()
    url = reverse("prediction_sets:prediction-set", args=[board["bold"].pk])
    html = client.get(url, {"labels": f"reference-{reference.pk}"}).content.decode()
    assert "1 image with more than 3 valid labels is left out" in html


def test_existing_sets_get_the_new_figures_at_the_next_refresh_without_a_new_upload(
    client, tiny, tiny_reference, researcher
):
    old = _upload(tiny, "old", TOP3)
    metric_snapshots_refresh()
    # Make its reference snapshot one computed before these measures: the old keys only, metrics version 1.
    current = MetricSnapshot.objects.get(prediction_set=old, reference_set=tiny_reference)
    kept = ("n_images", "n_evaluated_multilabel", "top1", "top1_ci", "real_at_1", "real_at_1_ci", "per_class",
            "valid_error_pairs")  # fmt: skip
    MetricSnapshot.objects.filter(pk=current.pk).delete()
    MetricSnapshot.objects.create(
        prediction_set=old, label_source="reference", reference_set=tiny_reference, pool_size=8,
        watermark=current.watermark, values={k: current.values[k] for k in kept}, seconds=0.1, metrics_version=1,
    )  # fmt: skip
    client.force_login(researcher)
    url = reverse("prediction_sets:prediction-set", args=[old.pk])
    assert "Computed before variable top-k and ASMA existed" in client.get(url).content.decode()

    created = metric_snapshots_refresh()
    assert [(s.prediction_set, s.watermark, s.metrics_version) for s in created] == [
        (old, current.watermark, METRICS_VERSION)
    ]
    assert MetricSnapshot.objects.filter(prediction_set=old, reference_set=tiny_reference).count() == 2
    assert "ASMA, the mean over bins" in client.get(url).content.decode()
    assert metric_snapshots_refresh() == []  # once only
    # The state evaluated twice is one state: still no history to draw, and the ranking uses the new figures.
    html = _page(client, tiny)
    assert "<polyline" not in html and "90.00" in html[html.index('id="ranking-asma"') :]


def test_a_growing_consensus_keeps_its_history_charts_with_asma(client, tmp_path, researcher):
    first = {position: answers for position, answers in VOTES.items() if position < 3}
    dataset = voted_dataset(tmp_path, votes=first)
    _upload(dataset, "bold", TOP3)
    metric_snapshots_refresh()
    from django.core.management import call_command

    rest = {position: answers for position, answers in VOTES.items() if position >= 3}
    call_command("import_votes", dataset.slug, str(votes_csv(tmp_path / "rest.csv", rest)), verbosity=0)
    metric_snapshots_refresh()
    client.force_login(researcher)
    html = _page(client, dataset, labels="consensus")
    assert "Metrics against the number of labelled images" in html and "ASMA (strict)" in html
    assert html.count("<polyline") >= 3 and 'class="chart scatter"' not in html
