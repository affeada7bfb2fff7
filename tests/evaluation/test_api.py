"""The evaluation API: multipart registration with 400s that name the offending rows, and snapshot history."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evaluation.models import PredictionArrays, PredictionSet
from tests.builders.prediction_sets import KEYS_OF_TINY, N_CLASSES, TOP3, csv_bytes, npy_bytes


@pytest.fixture
def api(client, researcher):
    client.force_login(researcher)
    return client


def _post(api, tiny, data: bytes, filename: str = "m.csv", **fields):
    url = reverse("prediction_sets:api-prediction-sets", args=[tiny.slug])
    return api.post(url, {"name": "resnet", "file": SimpleUploadedFile(filename, data), **fields})


def test_a_multipart_upload_registers_the_set_and_evaluates_it(
    api, tiny, tiny_reference, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api, tiny, csv_bytes(TOP3), description="torchvision weights", use_for_candidates="true")
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "resnet" and body["k"] == 3 and body["use_for_candidates"] is True
    assert body["uploaded_by"] == "rosa" and body["dataset"] == "tiny"
    snapshots = api.get(reverse("prediction_sets:api-snapshots", args=[body["id"]])).json()
    reference = next(s for s in snapshots if s["label_source"] == "reference")
    assert reference["reference_set"] == "hand labels" and reference["metrics"]["real_at_1"] == 6 / 7
    assert "per_class" not in reference["metrics"]
    full = api.get(reverse("prediction_sets:api-snapshots", args=[body["id"]]), {"full": "1"}).json()
    assert len(full[0]["metrics"]["per_class"]["real_at_1"]) == N_CLASSES


@pytest.mark.parametrize(
    ("data", "filename", "message", "rows"),
    [
        (csv_bytes(TOP3, keys=[*KEYS_OF_TINY[:7], "x.JPEG"]), "m.csv", "unknown image keys — row 8 (line 9)", [8]),
        (csv_bytes(TOP3[:7], keys=KEYS_OF_TINY[:7]), "m.csv", "missing image keys: 'img_00007.JPEG'", []),
        (csv_bytes([[0, 1, 99], *TOP3[1:]]), "m.csv", "class index out of range 0..5 — row 1 (line 2)", [1]),
        (csv_bytes([*TOP3, TOP3[2]], keys=[*KEYS_OF_TINY, KEYS_OF_TINY[2]]), "m.csv", "— row 9 (line 10)", [9]),
        (npy_bytes(np.full((8, N_CLASSES), np.nan, np.float32)), "s.npy", "— row 1 (index 0)", [1, 2, 3, 4, 5]),
        (npy_bytes(np.zeros((8, 2, 2), dtype=np.int64)), "s.npy", "expected a 2-D array", []),
    ],
    ids=["unknown key", "missing key", "class out of range", "duplicate row", "NaN", "wrong shape"],
)
def test_bad_uploads_get_a_400_naming_the_rows_and_store_nothing(api, tiny, data, filename, message, rows):
    response = _post(api, tiny, data, filename)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert response.json()["rows"] == rows and response.json()["code"] == "invalid"
    assert not PredictionSet.objects.exists() and not PredictionArrays.objects.exists()


def test_an_upload_over_the_limit_gets_a_clear_413(api, tiny, settings):
    settings.RELABEL_MAX_UPLOAD_BYTES = 10
    response = _post(api, tiny, csv_bytes(TOP3))
    assert response.status_code == 413
    assert "larger than the upload limit" in response.json()["detail"]
    assert "RELABEL_MAX_UPLOAD_BYTES" in response.json()["detail"] and response.json()["code"] == "too_large"
    assert not PredictionSet.objects.exists()


def test_a_request_without_a_file_gets_a_400(api, tiny):
    response = api.post(reverse("prediction_sets:api-prediction-sets", args=[tiny.slug]), {"name": "x"})
    assert response.status_code == 400 and response.json()["detail"].startswith("file:")


def test_the_list_reads_a_constant_number_of_queries(api, tiny, django_assert_max_num_queries):
    for i in range(5):
        _post(api, tiny, csv_bytes(TOP3), name=f"model {i}")
    with django_assert_max_num_queries(6):
        response = api.get(reverse("prediction_sets:api-prediction-sets", args=[tiny.slug]))
    assert [s["name"] for s in response.json()] == [f"model {i}" for i in range(5)]
