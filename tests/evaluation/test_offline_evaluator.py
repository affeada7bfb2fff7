"""The offline evaluator (`python -m evaluation.evaluate`): the server's numbers for the same files, from a
release zip or folder, without Django; bad input refused with a message and exit status 2.

The ImageNet val comparison (ReaL JSON, the three models, the val ground truth) is in
test_imagenet_val_end_to_end.py, beside the 50,000-image dataset it compares with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile

from evaluation.evaluate import PLAIN, SUBGROUP_KEYS, WITH_INTERVAL, main
from evaluation.models import MetricSnapshot
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from evaluation.services.releases import release_storage
from evaluation.services.snapshots import metric_snapshots_refresh
from tests.builders import REPO
from tests.builders.prediction_sets import KEYS_OF_TINY, N_CLASSES, TOP3, csv_bytes, npy_bytes
from tests.builders.releases import built_release, voted_dataset


def assert_equals_snapshot(result: dict, values: dict) -> None:
    """Every figure the evaluator prints is the snapshot's, exactly (same functions, same inputs)."""
    for key, name in WITH_INTERVAL:
        assert (result[name], result[f"{name}_ci"]) == (values.get(key), values.get(f"{key}_ci")), name
    for key, name in PLAIN:
        assert result[name] == values.get(key), name
    assert result["subgroups"] == [{key: s[key] for key in SUBGROUP_KEYS} for s in values["subgroups"]]


def run_json(capsys, *args: str) -> dict:
    capsys.readouterr()  # what fixtures printed
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def run_refused(capsys, *args: str) -> str:
    capsys.readouterr()
    assert main(list(args)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


@pytest.fixture
def released(tmp_path, django_capture_on_commit_callbacks):
    """A release of the voted tiny dataset as a zip and as a folder, its real.json imported as a reference set,
    two prediction sets (a keyed CSV and a score matrix in dataset order) evaluated against it by the server."""
    dataset = voted_dataset(tmp_path)
    release = built_release(dataset, django_capture_on_commit_callbacks)
    stored = {f.kind: f for f in release.files.all()}
    zipped = tmp_path / "release.zip"
    with release_storage().open(stored["zip"].storage_name, "rb") as handle:
        zipped.write_bytes(handle.read())
    folder = tmp_path / "release"
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(folder)
    reference = reference_label_set_create(
        dataset=dataset, name="v1", source=ContentFile((folder / "real.json").read_bytes(), name="real.json")
    )
    files = {"csv": tmp_path / "top3.csv", "npy": tmp_path / "scores.npy"}
    files["csv"].write_bytes(csv_bytes(TOP3))
    scores = np.random.default_rng(5).random((len(KEYS_OF_TINY), N_CLASSES)).astype(np.float32)
    scores[0, :3] = 0.5  # a tie, broken by class index on both sides
    files["npy"].write_bytes(npy_bytes(scores))
    sets = {
        kind: prediction_set_create(dataset=dataset, name=kind, source=ContentFile(path.read_bytes(), name=path.name))
        for kind, path in files.items()
    }
    metric_snapshots_refresh(datasets=[dataset])
    vocabulary = tmp_path / "classes.txt"
    vocabulary.write_text("".join(f"n{i:08d} class {i}\n" for i in range(N_CLASSES)))
    snapshots = {k: MetricSnapshot.objects.get(prediction_set=s, reference_set=reference) for k, s in sets.items()}
    return {"zip": zipped, "folder": folder, "files": files, "snapshots": snapshots, "classes": vocabulary}


@pytest.mark.django_db
@pytest.mark.parametrize("form", ["zip", "folder"])
@pytest.mark.parametrize("kind", ["csv", "npy"])
def test_the_evaluator_gives_the_servers_numbers_for_a_release(capsys, released, form, kind):
    result = run_json(
        capsys, "--labels", str(released[form]), "--predictions", str(released["files"][kind]),
        "--classes", str(released["classes"]),
    )  # fmt: skip
    values = released["snapshots"][kind].values
    assert_equals_snapshot(result, values)
    assert result["top1"] == values["top1"] is not None  # the release's images.csv brings the original labels
    assert result["statuses"] == {"labelled": 5, "empty": 1, "pending": 1, "original": 1}  # ReaL convention on
    if kind == "npy":
        assert result["mean_average_precision"] == values["mean_average_precision"] is not None


@pytest.mark.django_db
def test_the_table_names_every_measure_and_the_bins(capsys, released):
    capsys.readouterr()
    assert main(["--labels", str(released["zip"]), "--predictions", str(released["files"]["csv"]),
                 "--classes", str(released["classes"])]) == 0  # fmt: skip
    out = capsys.readouterr().out
    for line in ("top-1 (original label)", "ReaL@1", "variable top-k, strict", "variable top-k, fractional",
                 "ASMA, strict", "ASMA, fractional", "our reading of the paper", "multi-label share",
                 "|Y| histogram", "labelled 5"):  # fmt: skip
        assert line in out
    assert [line.split()[0] for line in out.splitlines()[-4:]] == ["1", "2", "3", "4+"]


def test_the_evaluator_runs_without_django(tmp_path):
    """A fresh interpreter with no settings module: the evaluator must not import Django at all."""
    script = (
        "import contextlib, io, sys\n"
        "from evaluation.evaluate import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main(['--labels', {str(REPO / 'data/real/real.json')!r},\n"
        f"                 '--predictions', {str(REPO / 'data/predictions/resnet18_top5.csv')!r}, '--json'])\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] == 'django'))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "RELABEL", "DATABASE"))}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0 []"


# Refusals. A 50,000-entry ReaL JSON gives image keys, so CSV predictions can be checked against them.


@pytest.fixture(scope="module")
def val_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("val")
    real = REPO / "data" / "real" / "real.json"
    lines = (REPO / "data" / "predictions" / "vgg16_top5.csv").read_text().splitlines()
    files = {"real": real, "short_real": folder / "short.json"}
    files["short_real"].write_text(json.dumps(json.loads(real.read_text())[:100]))
    for name, rows in {
        "missing_row": lines[:-1],
        "unknown_key": [*lines[:-1], "ILSVRC2012_val_00050001.JPEG,1 2 3 4 5"],
        "out_of_range": [*lines[:-1], lines[-1].rsplit(",", 1)[0] + ",1 2 3 4 1000"],
    }.items():
        files[name] = folder / f"{name}.csv"
        files[name].write_text("\n".join(rows) + "\n")
    files["npy_short"] = folder / "short.npy"
    files["npy_short"].write_bytes(npy_bytes(np.zeros((49_999, 5), dtype=np.int64)))
    files["original_unknown"] = folder / "original.csv"
    files["original_unknown"].write_text("image,wnid\nILSVRC2012_val_00000001.JPEG,n99999999\n")
    files["original_short"] = folder / "original_short.csv"
    files["original_short"].write_text("image,wnid\nILSVRC2012_val_00000001.JPEG,n01751748\n")
    return files


@pytest.mark.parametrize(
    ("labels", "predictions", "extra", "message"),
    [
        ("real", "missing_row", (), "missing image keys: 'ILSVRC2012_val_00050000.JPEG'"),
        ("real", "unknown_key", (), "unknown image 'ILSVRC2012_val_00050001.JPEG'"),
        ("real", "out_of_range", (), "class index out of range 0..999"),
        ("real", "npy_short", (), "expected a 2-D array with 50000 rows"),
        ("short_real", "missing_row", (), "gives no keys"),
        ("real", "missing_row", ("--bins", "2,3"), "--bins '2,3'"),
        ("real", "no_such_file", (), "no_such_file"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_exit_status_2(capsys, val_files, labels, predictions, extra, message):
    path = val_files.get(predictions, Path("no_such_file.csv"))
    error = run_refused(capsys, "--labels", str(val_files[labels]), "--predictions", str(path), *extra)
    assert error.startswith("error: ") and message in error and "Traceback" not in error


@pytest.mark.parametrize(("original", "message"), [
    ("original_unknown", "unknown class 'n99999999'"),
    ("original_short", "49,999 image(s) of the labels are missing"),
])  # fmt: skip
def test_original_labels_must_name_known_classes_for_every_image(capsys, val_files, original, message):
    vgg16 = REPO / "data" / "predictions" / "vgg16_top5.csv"
    args = ("--labels", str(val_files["real"]), "--predictions", str(vgg16), "--original", str(val_files[original]))
    assert message in run_refused(capsys, *args)
