"""Registering prediction sets: every format stored compactly, every bad input refused with nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from evaluation.models import MetricSnapshot, PredictionArrays, PredictionSet, ReferenceLabelSet
from evaluation.selectors.prediction_sets import prediction_scores, prediction_topk
from evaluation.services.prediction_sets import EvaluationInputError, prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from tests.builders.prediction_sets import (
    N_CLASSES,
    REFERENCE,
    TOP3,
    csv_bytes,
    image_key,
    jsonl_bytes,
    npy_bytes,
    npz_bytes,
)

KEYS = [image_key(p) for p in range(8)]


def _create(dataset, data: bytes, filename: str = "model.csv", name: str = "model", **kwargs) -> PredictionSet:
    return prediction_set_create(dataset=dataset, name=name, source=ContentFile(data, name=filename), **kwargs)


def _stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "evaluation"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _scores() -> np.ndarray:
    """Scores whose ranking is TOP3 at the head."""
    scores = np.zeros((8, N_CLASSES), dtype=np.float32)
    for row, classes in enumerate(TOP3):
        scores[row, classes] = [0.7, 0.2, 0.1]
    return scores


def test_a_csv_upload_is_stored_as_one_array_row_in_dataset_order(tiny, researcher):
    shuffled = [7, 3, 0, 5, 1, 6, 2, 4]
    data = csv_bytes([TOP3[p] for p in shuffled], keys=[KEYS[p] for p in shuffled], header="image,topk")
    prediction_set = _create(tiny, data, uploaded_by=researcher)
    assert (prediction_set.k, prediction_set.n_images, prediction_set.has_scores) == (3, 8, False)
    assert prediction_set.source_format == "csv" and prediction_set.uploaded_by == researcher
    assert prediction_topk(prediction_set).tolist() == TOP3
    assert prediction_set.source_file.read() == data


def test_jsonl_with_scores_keeps_the_ranked_scores(tiny):
    records = [{"image": k, "classes": c, "scores": [0.7, 0.2, 0.1]} for k, c in zip(KEYS, TOP3, strict=True)]
    prediction_set = _create(tiny, jsonl_bytes(records), "model.jsonl")
    stored = PredictionArrays.objects.get(prediction_set=prediction_set)
    assert stored.topk_scores is not None and prediction_set.source_format == "jsonl"


def test_an_npy_score_matrix_is_kept_as_a_file_and_ranked_into_top_k(tiny):
    prediction_set = _create(tiny, npy_bytes(_scores()), "logits.npy")
    assert prediction_set.has_scores and prediction_set.k == N_CLASSES
    assert prediction_topk(prediction_set)[:, :3].tolist() == TOP3
    np.testing.assert_array_equal(prediction_scores(prediction_set), _scores())


def test_an_npz_with_image_keys_is_reordered_into_dataset_order(tiny):
    order = np.array([3, 1, 2, 0, 7, 6, 5, 4])
    data = npz_bytes(topk=np.array(TOP3)[order], images=np.array(KEYS)[order])
    assert prediction_topk(_create(tiny, data, "model.npz")).tolist() == TOP3


def test_an_npy_of_class_indices_needs_no_keys(tiny):
    assert prediction_topk(_create(tiny, npy_bytes(np.array(TOP3, dtype=np.int64)), "top3.npy")).tolist() == TOP3


def test_evaluation_runs_once_the_upload_commits(tiny, tiny_reference, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        prediction_set = _create(tiny, csv_bytes(TOP3))
    snapshots = MetricSnapshot.objects.filter(prediction_set=prediction_set)
    assert sorted(snapshots.values_list("watermark", flat=True)) == ["consensus:0", f"reference:{tiny_reference.pk}"]
    reference = snapshots.get(label_source="reference").values
    # top-1 right on 0, 2, 4, 5 of 8; ReaL@1 right on 0, 1, 2, 3, 4, 5 of the 7 images with labels.
    assert reference["top1"] == 4 / 8 and reference["real_at_1"] == 6 / 7


BAD_INPUTS = {
    "unknown image key": (csv_bytes(TOP3, keys=[*KEYS[:7], "stranger.JPEG"]), "model.csv", "unknown image keys"),
    "missing image key": (csv_bytes(TOP3[:7], keys=KEYS[:7]), "model.csv", "missing image keys"),
    "class out of range": (csv_bytes([*TOP3[:5], [0, 1, 6], *TOP3[6:]]), "model.csv", "out of range"),
    "duplicate row": (csv_bytes([*TOP3, TOP3[0]], keys=[*KEYS, KEYS[0]]), "model.csv", "duplicate rows"),
    "NaN score": (
        jsonl_bytes(
            [{"image": k, "classes": c, "scores": [0.7, 0.2, 0.1]} for k, c in zip(KEYS, TOP3, strict=True)]
        ).replace(b"0.2", b"NaN", 1),
        "model.jsonl",
        "row 1 \\(line 1\\): NaN or infinite score",
    ),
    "wrong shape": (
        npy_bytes(np.zeros((7, N_CLASSES), dtype=np.float32)),
        "scores.npy",
        "expected a 2-D array with 8 rows",
    ),
    "NaN in a score matrix": (npy_bytes(np.where(np.eye(8, N_CLASSES) > 0, np.nan, _scores())), "s.npy", "finite"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_invalid_predictions_are_refused_naming_the_rows_and_nothing_is_stored(tiny, case):
    data, filename, expected = BAD_INPUTS[case]
    with pytest.raises(EvaluationInputError, match=expected) as error:
        _create(tiny, data, filename)
    assert error.value.message.startswith(filename)
    assert not PredictionSet.objects.exists() and not PredictionArrays.objects.exists()
    assert _stored_files() == []


def test_an_unknown_key_error_names_the_line(tiny):
    with pytest.raises(EvaluationInputError) as error:
        _create(tiny, csv_bytes(TOP3, keys=[*KEYS[:7], "stranger.JPEG"]))
    assert "row 8 (line 9)" in error.value.message and "stranger.JPEG" in error.value.message
    assert error.value.rows == [8]


def test_a_file_over_the_upload_limit_is_refused_before_it_is_read(tiny, settings):
    settings.RELABEL_MAX_UPLOAD_BYTES = 100
    with pytest.raises(EvaluationInputError, match="larger than the upload limit of 0.0 MiB"):
        _create(tiny, csv_bytes(TOP3))
    assert not PredictionSet.objects.exists()


def test_two_sets_of_one_dataset_cannot_share_a_name(tiny):
    _create(tiny, csv_bytes(TOP3))
    with pytest.raises(EvaluationInputError, match="already has a prediction set named 'model'"):
        _create(tiny, csv_bytes(TOP3))
    assert PredictionSet.objects.count() == 1


def test_import_predictions_registers_a_set_from_a_file(tiny, tmp_path):
    path = tmp_path / "resnet.csv"
    path.write_bytes(csv_bytes(TOP3))
    call_command("import_predictions", "tiny", str(path), "--name", "resnet", "--use-for-candidates")
    prediction_set = PredictionSet.objects.get(name="resnet")
    assert prediction_set.use_for_candidates and prediction_topk(prediction_set).tolist() == TOP3


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_import_predictions_exits_with_status_2_and_stores_nothing_on_bad_input(tiny, tmp_path, case):
    data, filename, expected = BAD_INPUTS[case]
    path = tmp_path / filename
    path.write_bytes(data)
    with pytest.raises(CommandError, match=expected) as error:
        call_command("import_predictions", "tiny", str(path), "--name", "bad")
    assert error.value.returncode == 2
    assert not PredictionSet.objects.exists() and _stored_files() == []


def test_import_predictions_for_an_unknown_dataset_exits_with_status_2(db, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"image,top5\n")
    with pytest.raises(CommandError, match="no dataset 'nope'") as error:
        call_command("import_predictions", "nope", str(path), "--name", "x")
    assert error.value.returncode == 2


def test_a_real_format_reference_set_is_stored_in_csr_form(tiny, tiny_reference):
    assert (tiny_reference.n_images, tiny_reference.n_labelled, tiny_reference.n_labels) == (8, 7, 9)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (REFERENCE[:7], "the list has 7 entries, the dataset has 8 images"),
        ([*REFERENCE[:7], [6]], "row 8 \\(index 7\\): class index out of range 0..5"),
        ([*REFERENCE[:7], [1, 1]], "row 8 \\(index 7\\): a class is listed twice"),
        ([*REFERENCE[:7], ["cat"]], "row 8 \\(index 7\\): expected a list of integers"),
        ({"0": [1]}, "expected a JSON list"),
    ],
)
def test_import_reference_labels_refuses_bad_lists_with_status_2(tiny, tmp_path, labels, expected):
    path = tmp_path / "real.json"
    path.write_text(json.dumps(labels))
    with pytest.raises(CommandError, match=expected) as error:
        call_command("import_reference_labels", "tiny", str(path), "--name", "ReaL")
    assert error.value.returncode == 2
    assert not ReferenceLabelSet.objects.exists()


def test_import_reference_labels_accepts_the_real_format(tiny, tmp_path):
    path = tmp_path / "real.json"
    path.write_text(json.dumps(REFERENCE))
    call_command("import_reference_labels", "tiny", str(path), "--name", "ReaL")
    assert ReferenceLabelSet.objects.get(name="ReaL").n_labels == 9


def test_reference_labels_of_another_size_are_refused_by_the_service(tiny):
    with pytest.raises(EvaluationInputError, match="8 images"):
        reference_label_set_create(dataset=tiny, name="x", source=ContentFile(b"[[1]]", name="real.json"))
