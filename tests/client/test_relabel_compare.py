"""`relabel compare` against the real app on pytest-django's live server: two synthetic datasets with one
vocabulary (tests/builders/dataset_compare.py), their metrics computed by the real services. Every figure the
client prints is checked against the API's JSON, fetched here separately, and top-1 against the raw arrays;
the CSV against the server's own comparison CSV."""

from __future__ import annotations

import csv
import io
import json
import re

import httpx
import numpy as np
import pytest
from django.test import Client as DjangoClient
from django.urls import reverse
from rest_framework.authtoken.models import Token

from config.celery import app as celery_app
from evaluation.services.snapshots import metric_snapshots_refresh
from tests.builders.dataset_compare import MODELS, build_side, build_sides
from tests.builders.prediction_sets import build_dataset
from tests.builders.users import user_with_roles
from tests.client.conftest import login, run

pytestmark = [pytest.mark.timeout(300), pytest.mark.django_db(transaction=True)]

ROUNDED = 5.01e-5  # printed in % with two decimals: within half a hundredth of a point


@pytest.fixture
def inline_tasks(settings, tmp_path):
    """The builders' uploads are evaluated in this process (the worker is tested in test_relabel_cli.py)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    previous, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def sides(inline_tasks):
    return build_sides()


def _api(live_server, username: str, a: str, b: str, params: dict) -> dict:
    token = Token.objects.get(user__username=username).key
    response = httpx.get(f"{live_server.url}/api/datasets/{a}/compare/{b}/", params=params,
                         headers={"Authorization": f"Token {token}"})  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def _section(out: str, start: str) -> list[list[str]]:
    """The table after the line starting with `start` (and blank lines): its rows' cells, split by two spaces."""
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(start)) + 1
    while not lines[first].strip():
        first += 1
    rows = []
    for line in lines[first:]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def _pair(text: str) -> tuple[float, float]:
    """'76.67 → 64.00' as proportions."""
    a, b = text.split(" → ")
    return float(a) / 100, float(b) / 100


def _gap(text: str) -> tuple[float, float, float]:
    """'-12.67 [-28.10, +3.21]' as proportions: the gap and its interval."""
    gap, low, high = re.fullmatch(r"([+-]\d+\.\d\d) \[([+-]\d+\.\d\d), ([+-]\d+\.\d\d)\]", text).groups()
    return float(gap) / 100, float(low) / 100, float(high) / 100


def _top1(side, model: str) -> float:
    return float(np.mean(side.top5[model][:, 0] == side.original))


def test_compare_prints_every_figure_of_the_api_as_tables_csv_and_json(live_server, home, capsys, monkeypatch, sides):
    a, b = sides
    user_with_roles("rita", "researcher")
    login(capsys, monkeypatch, live_server, "rita")
    labels = ["--labels-a", f"reference-{a.reference.pk}", "--labels-b", f"reference-{b.reference.pk}"]
    params = {"labels_a": f"reference-{a.reference.pk}", "labels_b": f"reference-{b.reference.pk}",
              "metric": "vtk_strict", "decompose": "real_at_1"}  # fmt: skip
    api = _api(live_server, "rita", "val", "v2", params)
    argv = ["compare", "val", "v2", *labels, "--metric", "vtk_strict", "--decompose", "real_at_1"]

    code, out, err = run(capsys, *argv, "--json")
    assert code == 0 and json.loads(out) == api, err

    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert out.startswith(f"A: val (Val) against hand labels (reference-{a.reference.pk})\n")
    table = _section(out, "figures in %")
    assert table[0] == ["model", "top-1 A → B", "gap [95% CI]", "VTK strict A → B", "gap [95% CI]"]
    assert [row[0] for row in table[1:]] == list(MODELS) == [r["model_a"]["name"] for r in api["rows"]]
    for row, expected in zip(table[1:], api["rows"], strict=True):
        model = row[0]
        top1, vtk = expected["metrics"]["top1"], expected["metrics"]["vtk_strict"]
        assert _pair(row[1]) == pytest.approx((top1["a"], top1["b"]), abs=ROUNDED)
        assert _pair(row[1]) == pytest.approx((_top1(a, model), _top1(b, model)), abs=ROUNDED)
        assert _gap(row[2]) == pytest.approx((top1["gap"], *top1["gap_ci"]), abs=ROUNDED)
        assert _pair(row[3]) == pytest.approx((vtk["a"], vtk["b"]), abs=ROUNDED)
        assert _gap(row[4]) == pytest.approx((vtk["gap"], *vtk["gap_ci"]), abs=ROUNDED)

    parts = _section(out, "decomposition of the ReaL@1 gap by |Y| bin")
    assert parts[0] == ["model", "binned A → B", "gap", "label-mix part", "within-bin part", "predicted B"]
    for row, expected in zip(parts[1:], api["rows"], strict=True):
        d = expected["decomposition"]
        assert _pair(row[1]) == pytest.approx((d["acc_a"], d["acc_b"]), abs=ROUNDED)
        printed = [float(v) / 100 for v in row[2:]]
        assert printed == pytest.approx([d["gap"], d["label_mix"], d["within_bin"], d["predicted_b"]], abs=ROUNDED)
        assert d["label_mix"] + d["within_bin"] == pytest.approx(d["gap"], abs=1e-12)

    mix = _section(out, "label mix:")
    assert [row[0] for row in mix[1:]] == [f"|Y| = {m['bin']}" for m in api["dataset_a"]["label_mix"]] + [
        "multi-label (|Y| ≥ 2)"
    ]
    bins = zip(mix[1:-1], api["dataset_a"]["label_mix"], api["dataset_b"]["label_mix"], strict=True)
    for row, entry_a, entry_b in bins:
        for cell, entry in ((row[1], entry_a), (row[2], entry_b)):
            share, low, high, images = re.fullmatch(r"(\S+) \[(\S+), (\S+)\] \((\d+)\)", cell).groups()
            assert [float(share) / 100, float(low) / 100, float(high) / 100] == pytest.approx(
                [entry["share"], *entry["share_ci"]], abs=ROUNDED
            )
            assert int(images) == entry["images"]
    for cell, side, key in ((mix[-1][1], a, "dataset_a"), (mix[-1][2], b, "dataset_b")):
        labelled = [y for y in side.label_sets if y]
        multi = sum(len(y) >= 2 for y in labelled)
        share = api[key]["multilabel_share"]["multilabel_share"]
        assert share == pytest.approx(multi / len(labelled), abs=1e-12)
        assert cell.startswith(f"{100 * share:.2f} [") and cell.endswith(f"({multi} of {len(labelled)})")

    correlations = _section(out, "rank correlation")
    by_metric = {c["metric"]: c for c in api["rank_correlations"]}
    assert [row[0] for row in correlations[1:]] == ["top-1", "VTK strict"]
    for row, key in zip(correlations[1:], ("top1", "vtk_strict"), strict=True):
        assert int(row[1]) == by_metric[key]["n"] == len(MODELS)
        assert float(row[2]) == pytest.approx(by_metric[key]["spearman"], abs=5e-4)
        assert float(row[3]) == pytest.approx(by_metric[key]["kendall_tau_b"], abs=5e-4)

    # The CSV is the server's comparison CSV, byte for byte, and its figures are the JSON's.
    code, out, err = run(capsys, *argv, "--csv")
    assert code == 0, err
    browser = DjangoClient()
    browser.force_login(user_with_roles("rosa", "researcher"))
    server_csv = browser.get(reverse("dataset_compare:compare-csv", args=["val", "v2"]), params)
    assert server_csv.status_code == 200 and out == server_csv.content.decode()
    lines = list(csv.DictReader(io.StringIO(out)))
    for line, expected in zip(lines, api["rows"], strict=True):
        assert float(line["top1_gap"]) == expected["metrics"]["top1"]["gap"]
        assert float(line["vtk_frac_b_low"]) == expected["metrics"]["vtk_frac"]["b_ci"][0]
        assert float(line["within_bin_part"]) == expected["decomposition"]["within_bin"]
        assert line["decomposed_metric"] == "real_at_1"


def test_a_side_without_label_sets_shows_no_multilabel_number_and_pairing_follows_pair(
    live_server, home, capsys, monkeypatch, inline_tasks
):
    a = build_side("val", seed=1, n=40, size_weights=[0.8, 0.1, 0.05, 0.05])
    b = build_side("v2", seed=2, n=40, size_weights=[1.0], with_reference=False)
    metric_snapshots_refresh()
    user_with_roles("rita", "researcher")
    login(capsys, monkeypatch, live_server, "rita")
    pairing = ["--pair", f"{a.sets['alpha'].pk}:{b.sets['beta'].pk}", "--pair", f"{a.sets['beta'].pk}:"]
    code, out, err = run(capsys, "compare", "val", "v2", "--labels-a", f"reference-{a.reference.pk}", *pairing)
    assert code == 0, err
    api = _api(live_server, "rita", "val", "v2",
               {"labels_a": f"reference-{a.reference.pk}", "pair": pairing[1::2]})  # fmt: skip
    table = _section(out, "ReaL@1: B's label source has no label sets, so it is not shown (—)")
    assert [row[0] for row in table[1:]] == ["alpha → beta", "gamma"]
    for row, expected in zip(table[1:], api["rows"], strict=True):
        assert _pair(row[1]) == pytest.approx((expected["metrics"]["top1"]["a"], expected["metrics"]["top1"]["b"]),
                                              abs=ROUNDED)  # fmt: skip
        assert row[3:] == ["—", "—"] and expected["metrics"]["real_at_1"] is None
    assert _pair(table[1][1])[1] == pytest.approx(_top1(b, "beta"), abs=ROUNDED)
    decomposition = out[out.index("decomposition of the top-1 gap") :]
    assert decomposition.splitlines()[1] == "not available: B's label source has no label sets"
    mix = _section(out, "label mix:")
    assert mix[0] == ["A", "B: no label sets"] and all(row[2] == "—" for row in mix[1:])
    assert not any(re.search(r"\d", row[2]) for row in mix[1:])
    assert out.endswith(
        f"\nunpaired in A: beta (id {a.sets['beta'].pk})\nunpaired in B: alpha (id {b.sets['alpha'].pk})\n"
    )


def test_bad_parameters_and_missing_datasets_print_the_servers_message_and_exit_1(
    live_server, home, capsys, monkeypatch, inline_tasks
):
    a = build_side("val", seed=1, n=20, size_weights=[0.8, 0.2])
    build_dataset("other", original=[0, 1], n_classes=3)
    user_with_roles("anna", "annotator")
    login(capsys, monkeypatch, live_server, "anna")
    code, out, err = run(capsys, "compare", "val", "val")
    assert code == 1 and not out and err == "relabel: You do not have permission to perform this action.\n"
    user_with_roles("rita", "researcher")
    login(capsys, monkeypatch, live_server, "rita")
    refusals = [
        (["--metric", "top9"], "metric must be one of real_at_1, vtk_strict, vtk_frac, asma_strict, asma_frac"),
        (["--decompose", "asma_strict"], "decompose must be one of top1, real_at_1, vtk_strict, vtk_frac"),
        (["--pair", "abc"], "pair 'abc': expected A_ID:B_ID (or A_ID: for none)"),
        (["--pair", f"{a.sets['alpha'].pk}:999999"], "prediction set 999999 is not one of dataset B's"),
        (["--labels-b", "reference-999999"], "Val has no label source 'reference-999999'"),
    ]
    for options, message in refusals:
        code, out, err = run(capsys, "compare", "val", "val", *options)
        assert (code, out, err) == (1, "", f"relabel: {message}\n"), options
    code, _, err = run(capsys, "compare", "val", "nope")
    assert code == 1 and err == "relabel: No Dataset matches the given query.\n"
    code, _, err = run(capsys, "compare", "val", "other", "--csv")
    assert code == 1 and "do not share a vocabulary" in err
    with pytest.raises(SystemExit) as wrong:  # argparse: a wrong command line exits 2
        run(capsys, "compare", "val", "val", "--csv", "--json")
    assert wrong.value.code == 2
