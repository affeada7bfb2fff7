"""Malformed and oversized prediction-set uploads, through HTTP: a 400/413 that says why, never a 500,
and nothing stored (no row, no file)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evaluation.models import PredictionArrays, PredictionSet
from tests.builders.prediction_sets import KEYS_OF_TINY, TOP3, csv_bytes, jsonl_bytes, npy_bytes


@pytest.fixture
def api(client, researcher):
    client.force_login(researcher)
    return client


def _zip_bomb() -> bytes:
    """An .npz whose one member unpacks to 200 MB of zeros but is about 200 kB compressed."""
    header = b"\x93NUMPY\x01\x00" + b"{'descr': '<f4', 'fortran_order': False, 'shape': (8, 6250000), }".ljust(118)
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("scores.npy", "w", force_zip64=True) as member,
    ):
        member.write(header + b"\n")
        for _ in range(200):
            member.write(bytes(2**20))
    return buffer.getvalue()


def _pickled_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}] * 8, dtype=object), allow_pickle=True)
    return buffer.getvalue()


MALFORMED = {
    "empty file": (b"", "m.csv", "empty"),
    "binary garbage as CSV": (bytes(range(256)) * 4, "m.csv", "m.csv"),
    "CSV in Latin-1": ("image,top5\nimg_é.JPEG,1 2 3\n".encode("latin-1"), "m.csv", "UTF-8"),
    "CSV without the header": (csv_bytes(TOP3).split(b"\n", 1)[1], "m.csv", "m.csv"),
    "CSV with letters for classes": (csv_bytes(TOP3).replace(b"0 1 2", b"a b c"), "m.csv", "row 1 (line 2)"),
    "JSONL cut mid-object": (jsonl_bytes([{"image": KEYS_OF_TINY[0], "classes": [0]}])[:-8], "m.jsonl", "(line 1"),
    "JSONL with wrong types": (jsonl_bytes([{"image": 5, "classes": "abc"}] * 8), "m.jsonl", "line 1"),
    "JSONL of a list": (b"[1, 2, 3]\n", "m.jsonl", "line 1"),
    "truncated npy": (npy_bytes(np.zeros((8, 6), dtype=np.float32))[:100], "s.npy", "not a valid .npy"),
    "pickled npy": (_pickled_npy(), "s.npy", "pickled"),
    "npz zip bomb": (_zip_bomb(), "s.npz", "too large for this dataset"),
    "unknown file type": (b"MZ\x90\x00", "model.exe", "model.exe"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_uploads_get_a_400_that_says_why_and_store_nothing(api, tiny, media_root, case):
    data, filename, message = MALFORMED[case]
    url = reverse("prediction_sets:api-prediction-sets", args=[tiny.slug])
    response = api.post(url, {"name": "bad", "file": SimpleUploadedFile(filename, data)})
    assert response.status_code == 400, response.content[:300]
    assert message in response.json()["detail"], response.json()
    assert not PredictionSet.objects.exists() and not PredictionArrays.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else True


def test_an_oversized_upload_on_the_page_is_a_413_with_the_limit_named(client, researcher, tiny, settings):
    settings.RELABEL_MAX_UPLOAD_BYTES = 1024
    client.force_login(researcher)
    url = reverse("prediction_sets:upload", args=[tiny.slug])
    response = client.post(url, {"name": "big", "file": SimpleUploadedFile("big.csv", b"x" * 200_000)})
    assert response.status_code == 413
    assert "larger than the upload limit of 0.0 MiB" in response.content.decode()
    assert not PredictionSet.objects.exists()


def test_a_name_longer_than_the_column_is_a_400_not_a_database_error(api, tiny):
    url = reverse("prediction_sets:api-prediction-sets", args=[tiny.slug])
    response = api.post(url, {"name": "n" * 500, "file": SimpleUploadedFile("m.csv", csv_bytes(TOP3))})
    assert response.status_code == 400 and response.json()["detail"].startswith("name:")


HOSTILE_FILE_NAMES = {
    # 255 two-byte characters are 510 bytes: more than a file system takes for one name (it was a 500).
    "long non-ASCII name": ("é" * 250 + ".csv", "é" * 96 + ".csv"),
    "long ASCII name": ("m" * 250 + ".csv", "m" * 96 + ".csv"),
    "bidi override": ("\u202evsc.exe.csv", "vsc.exe.csv"),
    "hidden file": ("...csv", "upload.csv"),
    "only a suffix left": ("\u202e.csv", "upload.csv"),
}


@pytest.mark.parametrize("case", HOSTILE_FILE_NAMES, ids=list(HOSTILE_FILE_NAMES))
def test_an_uploads_file_name_is_stored_short_and_plain(api, tiny, media_root, case):
    sent, stored = HOSTILE_FILE_NAMES[case]
    url = reverse("prediction_sets:api-prediction-sets", args=[tiny.slug])
    response = api.post(url, {"name": "model", "file": SimpleUploadedFile(sent, csv_bytes(TOP3))})
    assert response.status_code == 201, response.content[:300]
    name = PredictionSet.objects.get().source_file.name
    assert name == f"evaluation/{tiny.slug}/model/{stored}"
    assert (media_root / name).read_bytes() == csv_bytes(TOP3)
