"""The two places a name from a request reaches storage: a /media/ URL's path and an upload's file name."""

from __future__ import annotations

import pytest

from config.safe_paths import MAX_STORED_FILE_NAME, UnsafePathError, media_path, upload_file_name


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("datasets/pets/a.jpg", "datasets/pets/a.jpg"),
        ("datasets/./pets//a.jpg", "datasets/pets/a.jpg"),
        ("./evaluation/x.csv", "evaluation/x.csv"),  # the rule sees evaluation/, as the file server does
        ("datasets/100%.jpg", "datasets/100%.jpg"),
        ("datasets/a%2fb.jpg", "datasets/a%2fb.jpg"),  # a literal name; decoded again it is still below datasets/
        ("datasets/..a/b..", "datasets/..a/b.."),
    ],
)
def test_paths_without_traversal_are_normalised(raw, normalised):
    assert media_path(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("datasets/../evaluation/x.csv", "'..' segment"),
        ("..", "'..' segment"),
        ("datasets/%2e%2e/evaluation/x.csv", "'..' segment"),  # double-encoded: decoded once by the server
        ("datasets/%252e%252e/evaluation/x.csv", "'..' segment"),
        ("datasets/%2e%2e%2fevaluation/x.csv", "'..' segment"),
        ("datasets\\..\\evaluation", "backslash"),
        ("datasets/%5c..%5cevaluation", "backslash"),
        ("/etc/passwd", "absolute path"),
        ("%2fetc/passwd", "absolute path"),
        ("datasets/\x00", "NUL"),
        ("datasets/%00", "NUL"),
        (".", "names no file"),
        ("", "names no file"),
    ],
)
def test_traversal_of_any_encoding_is_refused(raw, problem):
    with pytest.raises(UnsafePathError, match=problem):
        media_path(raw)


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("model.csv", "model.csv"),
        ("C:\\Users\\x\\model.csv", "model.csv"),
        ("../../etc/model.csv", "model.csv"),
        ("a\x00b\nc\u202e.csv", "abc.csv"),
        ("..", "upload"),
        (".csv", "upload.csv"),
        ("..npy", "upload.npy"),
        (".a.csv", "a.csv"),
        ("", "upload"),
        (None, "upload"),
        ("x" * 300 + ".npy", "x" * (MAX_STORED_FILE_NAME - 4) + ".npy"),
        ("y" * 300, "y" * MAX_STORED_FILE_NAME),
    ],
)
def test_upload_file_names_are_reduced_to_a_short_plain_base_name(name, stored):
    assert upload_file_name(name) == stored
