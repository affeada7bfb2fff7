"""Import of every layout through the real service and command, on fixture trees made with Pillow."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from annotator.core.import_sources import ImageSpec, ImportSourceError, discover
from annotator.core.vocabulary import ClassSpec
from annotator.models import Dataset, Image, LabelClass
from annotator.services.datasets import dataset_create, vocabulary_import
from annotator.services.image_import import UnknownClassError, images_import
from tests.builders import IMAGENET_DATA, IMAGENETV2_DATA
from tests.builders import images as fx

pytestmark = pytest.mark.django_db

CLASSES = [
    ClassSpec(index=i, key=k, name=n) for i, (k, n) in enumerate([("n0001", "cat"), ("n0002", "dog"), ("n0003", "car")])
]


@pytest.fixture
def dataset() -> Dataset:
    dataset = dataset_create(slug="tiny", name="Tiny")
    vocabulary_import(dataset=dataset, classes=CLASSES)
    return dataset


def _flat_tree(root: Path) -> Path:
    root.mkdir()
    fx.write_jpeg(root / "b.jpg")
    fx.write_exif_rotated_jpeg(root / "a.jpg")
    fx.write_cmyk_jpeg(root / "c.jpg")
    fx.write_16bit_png(root / "d.png")
    fx.write_palette_png(root / "e.png")
    fx.write_corrupt(root / "f.jpg")
    return root


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_flat_folder_with_wnid_csv_imports_every_readable_file_and_reports_the_corrupt_one(dataset, tmp_path):
    root = _flat_tree(tmp_path / "flat")
    labels = _write_csv(
        tmp_path / "gt.csv",
        ["image", "wnid"],
        [
            ["a.jpg", "n0001"],
            ["b.jpg", "n0002"],
            ["c.jpg", "n0003"],
            ["d.png", "n0001"],
            ["e.png", "n0002"],
            ["f.jpg", "n0003"],
        ],
    )
    report = images_import(dataset=dataset, specs=discover("flat", root=root, labels_csv=labels))
    assert report.created == 5
    assert [source for source, _ in report.failed] == ["gt.csv:7"]
    images = {i.key: i for i in Image.objects.filter(dataset=dataset).select_related("original_label")}
    assert sorted(images) == ["a.jpg", "b.jpg", "c.jpg", "d.png", "e.png"]
    # Positions follow the sorted file names; the skipped file keeps its slot free for a re-run.
    assert [images[k].position for k in sorted(images)] == [0, 1, 2, 3, 4]
    assert images["a.jpg"].original_label.key == "n0001"
    assert (images["a.jpg"].width, images["a.jpg"].height) == (40, 80)
    rotated = images["a.jpg"]
    assert rotated.original.read() == (root / "a.jpg").read_bytes()
    assert rotated.display.name.endswith(".jpg") and rotated.thumbnail.name
    assert len(rotated.sha256) == 64


def test_a_csv_of_class_indices_works_like_wnids(dataset, tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    fx.write_jpeg(root / "x.jpg")
    labels = _write_csv(tmp_path / "gt.csv", ["image", "index"], [["x.jpg", "2"]])
    images_import(dataset=dataset, specs=discover("flat", root=root, labels_csv=labels))
    assert Image.objects.get(key="x.jpg").original_label.key == "n0003"


def test_kaggle_loc_val_solution_rows_match_files_by_stem(dataset, tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    fx.write_jpeg(root / "ILSVRC2012_val_00000001.JPEG")
    labels = _write_csv(
        tmp_path / "LOC_val_solution.csv",
        ["ImageId", "PredictionString"],
        [["ILSVRC2012_val_00000001", "n0002 1 2 3 4 n0002 5 6 7 8"]],
    )
    images_import(dataset=dataset, specs=discover("flat", root=root, labels_csv=labels))
    assert Image.objects.get(key="ILSVRC2012_val_00000001.JPEG").original_label.key == "n0002"


def test_imagefolder_tree_takes_labels_from_wnid_folders(dataset, tmp_path):
    root = tmp_path / "train"
    for wnid in ("n0001", "n0003"):
        (root / wnid).mkdir(parents=True)
        fx.write_jpeg(root / wnid / f"{wnid}_1.JPEG")
    images_import(dataset=dataset, specs=discover("imagefolder", root=root))
    assert dict(Image.objects.values_list("key", "original_label__key")) == {
        "n0001_1.JPEG": "n0001",
        "n0003_1.JPEG": "n0003",
    }


def test_imagenetv2_tree_takes_labels_from_index_folders(dataset, tmp_path):
    root = tmp_path / "v2"
    (root / "1").mkdir(parents=True)
    (root / "2").mkdir()
    fx.write_jpeg(root / "1" / "abc.jpeg")
    fx.write_palette_png(root / "2" / "def.png")
    images_import(dataset=dataset, specs=discover("imagenetv2", root=root))
    # Keyed `<class index>/<file name>`, as ImageNetV2's own label and prediction files name its images.
    assert dict(Image.objects.values_list("key", "original_label__index")) == {"1/abc.jpeg": 1, "2/def.png": 2}


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_manifest_paths_are_relative_to_the_manifest_and_labels_optional(dataset, tmp_path, kind):
    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    fx.write_jpeg(tmp_path / "imgs" / "sub" / "one.jpg")
    fx.write_jpeg(tmp_path / "imgs" / "two.jpg")
    if kind == "csv":
        manifest = _write_csv(
            tmp_path / "manifest.csv", ["path", "label"], [["imgs/sub/one.jpg", "n0002"], ["imgs/two.jpg", ""]]
        )
    else:
        manifest = tmp_path / "manifest.jsonl"
        manifest.write_text(
            json.dumps({"path": "imgs/sub/one.jpg", "label": 1}) + "\n" + json.dumps({"path": "imgs/two.jpg"}) + "\n"
        )
    images_import(dataset=dataset, specs=discover("manifest", manifest=manifest))
    assert dict(Image.objects.values_list("key", "original_label__key")) == {"one.jpg": "n0002", "two.jpg": None}


@pytest.mark.parametrize("bad_path", ["../../etc/passwd", "/etc/passwd"])
def test_manifest_paths_outside_the_import_root_are_refused(tmp_path, bad_path):
    manifest = _write_csv(tmp_path / "manifest.csv", ["path"], [[bad_path]])
    with pytest.raises(ImportSourceError, match="manifest.csv:2: path .* is outside the import root"):
        discover("manifest", manifest=manifest)


def test_an_unknown_class_names_file_and_line_and_writes_nothing(dataset, tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    fx.write_jpeg(root / "x.jpg")
    fx.write_jpeg(root / "y.jpg")
    labels = _write_csv(tmp_path / "gt.csv", ["image", "wnid"], [["x.jpg", "n0001"], ["y.jpg", "n9999"]])
    with pytest.raises(UnknownClassError, match=r"gt.csv:3: unknown class 'n9999'"):
        images_import(dataset=dataset, specs=discover("flat", root=root, labels_csv=labels))
    assert not Image.objects.exists()


def test_re_running_an_import_skips_images_already_present_and_fills_gaps(dataset, tmp_path):
    root = _flat_tree(tmp_path / "flat")
    first = images_import(dataset=dataset, specs=discover("flat", root=root))
    assert (first.created, len(first.failed)) == (5, 1)
    fx.write_jpeg(root / "f.jpg")  # the corrupt file was replaced by a good one
    second = images_import(dataset=dataset, specs=discover("flat", root=root))
    assert (second.created, second.skipped_existing, second.failed) == (1, 5, [])
    assert list(Image.objects.order_by("position").values_list("key", flat=True)) == [
        "a.jpg",
        "b.jpg",
        "c.jpg",
        "d.png",
        "e.png",
        "f.jpg",
    ]
    assert list(Image.objects.order_by("position").values_list("position", flat=True)) == [0, 1, 2, 3, 4, 5]


def test_images_added_later_that_sort_before_existing_ones_are_appended(dataset, tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    fx.write_jpeg(root / "m.jpg")
    images_import(dataset=dataset, specs=discover("flat", root=root))
    fx.write_jpeg(root / "a.jpg")
    images_import(dataset=dataset, specs=discover("flat", root=root))
    assert dict(Image.objects.values_list("key", "position")) == {"m.jpg": 0, "a.jpg": 1}


def test_no_files_import_creates_records_from_the_csv_alone(dataset, tmp_path):
    labels = _write_csv(tmp_path / "gt.csv", ["image", "wnid"], [["k2.JPEG", "n0002"], ["k1.JPEG", "n0001"]])
    images_import(dataset=dataset, specs=discover("flat", labels_csv=labels), with_files=False)
    rows = list(Image.objects.order_by("position").values_list("key", "original", "width"))
    assert rows == [("k1.JPEG", "", None), ("k2.JPEG", "", None)]


def test_parallel_decoding_gives_the_same_result(dataset, tmp_path):
    root = _flat_tree(tmp_path / "flat")
    report = images_import(dataset=dataset, specs=discover("flat", root=root), workers=2, batch_size=2)
    assert (report.created, len(report.failed)) == (5, 1)
    assert Image.objects.filter(sha256="").count() == 0


def test_the_command_imports_imagenet_val_keys_without_files(tmp_path, capsys):
    gt = tmp_path / "gt.csv"
    lines = (IMAGENET_DATA / "val_ground_truth.csv").read_text().splitlines()[:51]
    gt.write_text("\n".join(lines) + "\n")
    call_command("import_dataset", "val", "--labels", str(gt), "--no-files")
    dataset = Dataset.objects.get(slug="val")
    assert LabelClass.objects.filter(dataset=dataset).count() == 1000
    first = Image.objects.get(dataset=dataset, position=0)
    assert (first.key, first.original_label.key) == ("ILSVRC2012_val_00000001.JPEG", "n01751748")
    assert Image.objects.filter(dataset=dataset).count() == 50
    assert "50 imported" in capsys.readouterr().out


def test_the_command_exits_with_status_2_on_an_unknown_class(tmp_path):
    gt = _write_csv(tmp_path / "gt.csv", ["image", "wnid"], [["a.JPEG", "n99999999"]])
    with pytest.raises(CommandError) as info:
        call_command("import_dataset", "val", "--labels", str(gt), "--no-files")
    assert info.value.returncode == 2
    assert "gt.csv:2" in str(info.value)
    assert not Image.objects.exists()


@pytest.mark.parametrize("layout", [[], ["--layout", "imagenetv2"]], ids=["flat", "imagenetv2"])
def test_the_command_imports_imagenetv2_matched_frequency_without_files(capsys, layout):
    labels = IMAGENETV2_DATA / "matched_frequency_labels.csv"
    call_command("import_dataset", "v2", "--labels", str(labels), "--no-files", *layout)
    rows = list(csv.reader(labels.open()))[1:]
    dataset = Dataset.objects.get(slug="v2")
    stored = dict(Image.objects.filter(dataset=dataset).values_list("key", "original_label__index"))
    # Every one of the 10,000 rows, keyed as in the file; its folder is its class index (checked independently
    # of the wnid the importer resolved), and no file was read or stored.
    assert len(rows) == len(stored) == 10_000
    assert stored == {image: int(image.split("/")[0]) for image, _ in rows}
    assert not Image.objects.filter(dataset=dataset).exclude(original="").exists()
    assert "10000 imported" in capsys.readouterr().out


# --- file-less records by COPY -------------------------------------------------------------------------------


def _record(image: Image) -> dict:
    """Every column but the id, the dataset and the creation time."""
    skip = {"id", "dataset", "created_at"}
    return {f.name: getattr(image, f.attname) for f in Image._meta.concrete_fields if f.name not in skip}


def test_file_less_records_hold_exactly_what_the_orm_writes(dataset):
    specs = [ImageSpec(key=f"k{i}.JPEG", path=None, label=label, source=f"gt.csv:{i + 2}")
             for i, label in enumerate(["n0002", "2", None, "n0001"])]  # fmt: skip
    before = timezone.now()
    report = images_import(dataset=dataset, specs=specs, with_files=False)
    assert report.created == 4
    other = dataset_create(slug="reference", name="Reference", annotations_per_image=dataset.annotations_per_image)
    vocabulary_import(dataset=other, classes=CLASSES)
    for image in Image.objects.filter(dataset=dataset).order_by("position"):
        label = image.original_label and LabelClass.objects.get(dataset=other, key=image.original_label.key)
        reference = Image.objects.create(
            dataset=other, key=image.key, position=image.position, original_label=label,
            annotations_needed=other.annotations_per_image,
        )  # fmt: skip
        reference.refresh_from_db()
        expected = {**_record(reference), "original_label": label and image.original_label_id}
        assert _record(image) == expected
        assert before <= image.created_at <= timezone.now()
    keys = dict(Image.objects.filter(dataset=dataset).values_list("key", "original_label__key"))
    assert keys == {"k0.JPEG": "n0002", "k1.JPEG": "n0003", "k2.JPEG": None, "k3.JPEG": "n0001"}


def test_names_with_tabs_backslashes_newlines_and_accents_are_stored_as_given(dataset):
    names = ["tab\there.jpg", "back\\slash\\N.jpg", "new\nline\r.jpg", "ünïcødé 猫.jpg", "\\N"]
    specs = [ImageSpec(key=name, path=None, label="n0001", source=f"list:{i}") for i, name in enumerate(names)]
    images_import(dataset=dataset, specs=specs, with_files=False)
    stored = list(Image.objects.filter(dataset=dataset).order_by("position").values_list("key", flat=True))
    assert stored == sorted(names)


def test_a_file_less_re_run_adds_only_the_new_names_and_keeps_every_position(dataset, tmp_path):
    first = _write_csv(tmp_path / "a.csv", ["image", "wnid"], [["b.JPEG", "n0001"], ["d.JPEG", "n0002"]])
    images_import(dataset=dataset, specs=discover("flat", labels_csv=first), with_files=False)
    rows = [["a.JPEG", "n0003"], ["b.JPEG", "n0001"], ["d.JPEG", "n0002"], ["e.JPEG", "n0003"]]
    second = _write_csv(tmp_path / "b.csv", ["image", "wnid"], rows)
    report = images_import(dataset=dataset, specs=discover("flat", labels_csv=second), with_files=False)
    assert (report.created, report.skipped_existing) == (2, 2)
    assert dict(Image.objects.values_list("key", "position")) == {"b.JPEG": 0, "d.JPEG": 1, "a.JPEG": 2, "e.JPEG": 3}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("x" * 256 + ".JPEG", "an image name of 261 characters"),
        ("nul\x00.JPEG", "a NUL character"),
        ("", "an empty image name"),
    ],
)
@pytest.mark.parametrize("with_files", [False, True])
def test_a_name_the_database_cannot_hold_names_file_and_line_and_writes_nothing(
    dataset, tmp_path, name, message, with_files
):
    rows = [["ok.JPEG", "n0001"], [name, "n0002"], ["fine.JPEG", "n0001"]]
    labels = _write_csv(tmp_path / "gt.csv", ["image", "wnid"], rows)
    specs = discover("flat", labels_csv=labels)
    with pytest.raises(ImportSourceError, match=rf"gt.csv:3: {message}.*nothing was imported"):
        images_import(dataset=dataset, specs=specs, with_files=with_files)
    assert not Image.objects.exists()


def test_the_command_refuses_an_overlong_name_with_status_2_and_its_line(tmp_path):
    gt = _write_csv(tmp_path / "gt.csv", ["image", "wnid"], [["a.JPEG", "n01440764"], ["y" * 300, "n01440764"]])
    with pytest.raises(CommandError) as info:
        call_command("import_dataset", "val", "--labels", str(gt), "--no-files")
    assert info.value.returncode == 2 and "gt.csv:3: an image name of 300 characters" in str(info.value)
    assert not Image.objects.exists()
