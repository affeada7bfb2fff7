"""The dataset comparison from the database: API, page and CSV on two synthetic datasets, every figure checked
against a direct computation from the raw arrays; a side without label sets; access; bad input."""

from __future__ import annotations

import csv
import io
import math
import re

import numpy as np
import pytest
from django.urls import reverse
from scipy import stats

from evaluation.services.snapshots import metric_snapshots_refresh
from tests.builders.dataset_compare import MODELS, build_side, build_sides
from tests.builders.prediction_sets import build_dataset
from tests.error_contract import assert_error_body

BINS = ("1", "2", "3", "4+")


@pytest.fixture
def sides(db):
    return build_sides()


def _api(client, a, b, **params):
    return client.get(reverse("dataset_compare:api-compare", args=[a.dataset.slug, b.dataset.slug]), params)


def _labelled_query(a, b) -> dict:
    return {"labels_a": f"reference-{a.reference.pk}", "labels_b": f"reference-{b.reference.pk}"}


# --- direct computations from the raw arrays ---------------------------------------------------------------


def _top1(side, model) -> float:
    return float(np.mean(side.top5[model][:, 0] == side.original))


def _real1(side, model) -> float:
    hits = [side.top5[model][i, 0] in y for i, y in enumerate(side.label_sets) if y]
    return float(np.mean(hits))


def _per_bin_top1(side, model) -> tuple[np.ndarray, np.ndarray]:
    """Images and top-1 accuracy per |Y| bin 1, 2, 3, 4+ over the images with a label set."""
    sizes = np.array([len(y) for y in side.label_sets])
    correct = side.top5[model][:, 0] == side.original
    counts, acc = np.zeros(4), np.zeros(4)
    for g in range(4):
        in_bin = (sizes == g + 1) if g < 3 else (sizes >= 4)
        counts[g] = in_bin.sum()
        acc[g] = correct[in_bin].mean() if in_bin.any() else np.nan
    return counts, acc


def _multilabel_share(side) -> float:
    labelled = [y for y in side.label_sets if y]
    return sum(len(y) >= 2 for y in labelled) / len(labelled)


# --- the figures -------------------------------------------------------------------------------------------


def test_every_figure_of_the_api_matches_a_direct_computation(client, researcher, sides):
    a, b = sides
    client.force_login(researcher)
    body = _api(client, a, b, **_labelled_query(a, b)).json()
    assert [(r["model_a"]["name"], r["model_b"]["name"]) for r in body["rows"]] == [(m, m) for m in MODELS]
    for row in body["rows"]:
        model, metrics = row["model_a"]["name"], row["metrics"]
        assert metrics["top1"]["a"] == pytest.approx(_top1(a, model), abs=1e-12)
        assert metrics["top1"]["b"] == pytest.approx(_top1(b, model), abs=1e-12)
        assert metrics["top1"]["gap"] == pytest.approx(_top1(b, model) - _top1(a, model), abs=1e-12)
        low, high = metrics["top1"]["gap_ci"]
        assert low < metrics["top1"]["gap"] < high
        assert metrics["real_at_1"]["a"] == pytest.approx(_real1(a, model), abs=1e-12)
        assert metrics["real_at_1"]["b"] == pytest.approx(_real1(b, model), abs=1e-12)
        # The decomposition of top-1 by |Y| bin, recomputed here from the per-image outcomes.
        (n_a, acc_a), (n_b, acc_b) = _per_bin_top1(a, model), _per_bin_top1(b, model)
        w_a, w_b = n_a / n_a.sum(), n_b / n_b.sum()
        acc_a_used = np.where(n_a > 0, acc_a, 0.0)  # the synthetic worlds fill every bin on A
        assert (n_a > 0).all()
        d = row["decomposition"]
        assert d["label_mix"] == pytest.approx(float(np.sum((w_b - w_a) * acc_a_used)), abs=1e-12)
        assert d["within_bin"] == pytest.approx(float(np.nansum(w_b * (acc_b - acc_a_used))), abs=1e-12)
        assert d["predicted_b"] == pytest.approx(float(np.sum(w_b * acc_a_used)), abs=1e-12)
        assert math.isclose(d["label_mix"] + d["within_bin"], d["gap"], abs_tol=1e-15)
        assert [p["bin"] for p in d["bins"]] == list(BINS)
    for side, key in ((a, "dataset_a"), (b, "dataset_b")):
        assert body[key]["has_label_sets"] is True
        assert body[key]["multilabel_share"]["multilabel_share"] == pytest.approx(_multilabel_share(side))
    top1 = next(r for r in body["rank_correlations"] if r["metric"] == "top1")
    xs, ys = [_top1(a, m) for m in MODELS], [_top1(b, m) for m in MODELS]
    assert top1["spearman"] == pytest.approx(stats.spearmanr(xs, ys).statistic)
    assert top1["kendall_tau_b"] == pytest.approx(stats.kendalltau(xs, ys).statistic)


def test_the_csv_holds_the_api_table(client, reviewer, sides):
    a, b = sides
    client.force_login(reviewer)
    query = _labelled_query(a, b) | {"decompose": "real_at_1"}
    url = reverse("dataset_compare:compare-csv", args=[a.dataset.slug, b.dataset.slug])
    response = client.get(url, query)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(response.content.decode())))
    api = {r["model_a"]["name"]: r for r in _api(client, a, b, **query).json()["rows"]}
    assert [line["model_a"] for line in lines] == list(MODELS)
    for line in lines:
        row = api[line["model_a"]]
        assert float(line["top1_gap"]) == row["metrics"]["top1"]["gap"]
        assert float(line["real_at_1_b_low"]) == row["metrics"]["real_at_1"]["b_ci"][0]
        assert line["decomposed_metric"] == "real_at_1"
        assert float(line["label_mix_part"]) == row["decomposition"]["label_mix"]


def test_the_page_shows_the_table_charts_label_mix_and_decomposition(client, researcher, sides):
    a, b = sides
    client.force_login(researcher)
    url = reverse("dataset_compare:compare", args=[a.dataset.slug, b.dataset.slug])
    response = client.get(url, _labelled_query(a, b))
    assert response.status_code == 200
    html = response.content.decode()
    for marker in ('id="compare-table"', 'id="rank-correlations"', 'id="label-mix"', 'id="decomposition-table"'):
        assert marker in html
    assert html.count('class="fit"') == 2 and html.count('class="diagonal"') == 2  # top-1 and ReaL@1 charts
    gap = _top1(b, "alpha") - _top1(a, "alpha")
    assert f"{_top1(a, 'alpha') * 100:.2f} → {_top1(b, 'alpha') * 100:.2f}" in html
    assert f"{gap * 100:+.2f}".replace("-", "−") in html
    assert f"{_multilabel_share(b) * 100:.2f}%" in html
    assert "no multi-label labels" not in html


def test_a_side_without_label_sets_says_so_and_shows_no_multilabel_number(client, researcher, db):
    a = build_side("val", seed=1, n=40, size_weights=[0.8, 0.1, 0.05, 0.05])
    b = build_side("v2", seed=2, n=40, size_weights=[1.0], with_reference=False)
    metric_snapshots_refresh()
    client.force_login(researcher)
    body = _api(client, a, b, labels_a=f"reference-{a.reference.pk}").json()
    assert body["dataset_b"]["has_label_sets"] is False and body["dataset_b"]["multilabel_share"] is None
    for row in body["rows"]:
        assert row["metrics"]["top1"]["b"] == pytest.approx(_top1(b, row["model_b"]["name"]))
        assert all(row["metrics"][key] is None for key in ("real_at_1", "vtk_strict", "asma_strict"))
        assert row["decomposition"] is None
    html = client.get(
        reverse("dataset_compare:compare", args=[a.dataset.slug, b.dataset.slug]),
        {"labels_a": f"reference-{a.reference.pk}"},
    ).content.decode()
    notice = html[html.index('id="no-labels-b"') : html.index("</div>", html.index('id="no-labels-b"'))]
    assert "has no multi-label labels" in notice and "Candidates from these models" in notice
    assert "Annotators" in notice and "import_reference_labels" in notice and "pilot sample" in notice
    cells = re.findall(r'<td class="muted no-labels-cell"[^>]*>(.*?)</td>', html)
    assert len(cells) == len(MODELS) and not any(re.search(r"\d", cell) for cell in cells)
    assert 'id="no-decomposition"' in html
    assert "no label sets" in html[html.index('id="label-mix"') :]


def test_pairing_can_be_changed(client, researcher, sides):
    a, b = sides
    client.force_login(researcher)
    alpha_a, beta_b = a.sets["alpha"].pk, b.sets["beta"].pk
    body = _api(client, a, b, pair=[f"{alpha_a}:{beta_b}", f"{a.sets['beta'].pk}:"]).json()
    assert [(r["model_a"]["name"], r["model_b"]["name"]) for r in body["rows"]] == [("alpha", "beta"),
                                                                                    ("gamma", "gamma")]  # fmt: skip
    assert body["unpaired_a"] == [{"id": a.sets["beta"].pk, "name": "beta"}]
    assert body["rows"][0]["metrics"]["top1"]["b"] == pytest.approx(_top1(b, "beta"))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"metric": "top9"}, "metric"),
        ({"decompose": "asma_strict"}, "decompose"),
        ({"pair": "abc"}, "pair"),
        ({"pair": "1:2:3"}, "pair"),
        ({"labels_a": "reference-999999"}, "labels_a"),
    ],
)
def test_bad_parameters_are_refused_with_the_error_contract(client, researcher, sides, params, field):
    a, b = sides
    client.force_login(researcher)
    response = _api(client, a, b, **params)
    assert response.status_code == 400
    assert_error_body(response)
    assert field in response.json()["fields"]
    page = client.get(reverse("dataset_compare:compare", args=[a.dataset.slug, b.dataset.slug]), params)
    assert page.status_code == 400 and 'id="compare-error"' in page.content.decode()


def test_a_pair_naming_another_datasets_set_is_refused(client, researcher, sides):
    a, b = sides
    client.force_login(researcher)
    response = _api(client, a, b, pair=f"{b.sets['alpha'].pk}:{b.sets['beta'].pk}")
    assert response.status_code == 400 and "dataset A" in response.json()["detail"]


def test_datasets_without_one_vocabulary_are_refused(client, researcher, sides):
    a, _ = sides
    other = build_dataset("other", original=[0, 1], n_classes=3)
    client.force_login(researcher)
    response = client.get(reverse("dataset_compare:api-compare", args=[a.dataset.slug, other.slug]))
    assert response.status_code == 400 and "vocabulary" in response.json()["detail"]


def test_annotators_get_403_on_page_api_and_csv(client, annotator, sides):
    a, b = sides
    client.force_login(annotator)
    for name in ("compare", "compare-csv", "api-compare"):
        response = client.get(reverse(f"dataset_compare:{name}", args=[a.dataset.slug, b.dataset.slug]))
        assert response.status_code == 403, name


def test_the_query_count_does_not_grow_with_the_models(client, researcher, sides, django_assert_max_num_queries):
    a, b = sides
    client.force_login(researcher)
    with django_assert_max_num_queries(16):
        assert _api(client, a, b, **_labelled_query(a, b)).status_code == 200
    with django_assert_max_num_queries(18):
        url = reverse("dataset_compare:compare", args=[a.dataset.slug, b.dataset.slug])
        assert client.get(url, _labelled_query(a, b)).status_code == 200


def test_the_evaluation_pages_link_to_the_comparison(client, researcher, sides):
    a, b = sides
    client.force_login(researcher)
    index = client.get(reverse("leaderboard:index")).content.decode()
    assert 'id="compare-datasets"' in index
    board = client.get(reverse("leaderboard:leaderboard", args=[a.dataset.slug])).content.decode()
    assert 'id="compare-with"' in board and f'value="{b.dataset.slug}"' in board
    response = client.get(reverse("dataset_compare:choose"), {"a": a.dataset.slug, "b": b.dataset.slug})
    assert response.status_code == 302
    assert response["Location"] == reverse("dataset_compare:compare", args=[a.dataset.slug, b.dataset.slug])


def test_the_pairing_form_is_drawn_only_when_asked_for(client, researcher, sides):
    a, b = sides
    client.force_login(researcher)
    url = reverse("dataset_compare:compare", args=[a.dataset.slug, b.dataset.slug])
    html = client.get(url, {"pair": f"{a.sets['beta'].pk}:"}).content.decode()
    assert 'id="pairing-form"' not in html and "not paired from A: beta" in html and "not paired from B: beta" in html
    html = client.get(url, {"pair": f"{a.sets['beta'].pk}:", "edit_pairs": "1"}).content.decode()
    assert 'id="pairing-form"' in html and html.count("<option") >= len(MODELS) * (len(MODELS) + 1)
    assert f'value="{a.sets["beta"].pk}:" selected' in html


def test_a_dataset_compared_with_itself_pairs_each_set_with_itself_and_every_gap_is_zero(client, researcher, sides):
    a, _ = sides
    client.force_login(researcher)
    source = f"reference-{a.reference.pk}"
    url = reverse("dataset_compare:api-compare", args=[a.dataset.slug, a.dataset.slug])
    body = client.get(url, {"labels_a": source, "labels_b": source}).json()
    assert [r["model_a"]["id"] for r in body["rows"]] == [r["model_b"]["id"] for r in body["rows"]]
    for row in body["rows"]:
        assert all(cell["gap"] == 0 for cell in row["metrics"].values() if cell is not None)
        assert row["decomposition"]["label_mix"] == 0 and row["decomposition"]["within_bin"] == 0
    # Against its (empty) live consensus on B, only the original-label metrics remain.
    body = client.get(url, {"labels_a": source, "labels_b": "consensus"}).json()
    assert body["rows"][0]["metrics"]["top1"]["gap"] == 0 and body["rows"][0]["metrics"]["real_at_1"] is None
