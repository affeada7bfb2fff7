"""Hostile and broken input to the image import: bombs, empty and truncated files, paths that escape."""

from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image as PILImage

from annotator.core.import_sources import ImportSourceError, discover
from annotator.core.vocabulary import ClassSpec
from annotator.models import Image
from annotator.services.datasets import dataset_create, vocabulary_import
from annotator.services.image_import import images_import
from tests.builders import images as fx

pytestmark = pytest.mark.django_db


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A 1×1 PNG whose header claims width×height pixels (Pillow reads the size before decoding)."""
    buffer = io.BytesIO()
    PILImage.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = 8 + 4  # signature, then the IHDR chunk's length
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    return bytes(data)


@pytest.fixture
def dataset(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    dataset = dataset_create(slug="hostile", name="Hostile")
    vocabulary_import(dataset=dataset, classes=[ClassSpec(index=0, key="n0001", name="cat")])
    return dataset


def test_bombs_empty_truncated_and_non_image_files_are_reported_by_name_and_the_rest_imports(dataset, tmp_path):
    root = tmp_path / "files"
    root.mkdir()
    fx.write_jpeg(root / "good.jpg")
    (root / "empty.jpg").write_bytes(b"")
    fx.write_truncated_jpeg(root / "truncated.jpg")
    fx.write_corrupt(root / "text.jpg")
    (root / "bomb.png").write_bytes(png_bomb())  # 900 million pixels: over Pillow's MAX_IMAGE_PIXELS
    report = images_import(dataset=dataset, specs=discover("flat", root=root))
    reasons = dict(report.failed)
    assert set(reasons) == {"empty.jpg", "truncated.jpg", "text.jpg", "bomb.png"}, report.failed
    assert "0 bytes" in reasons["empty.jpg"]
    assert "truncated" in reasons["truncated.jpg"]
    assert "not an image" in reasons["text.jpg"]
    assert "decompression bomb" in reasons["bomb.png"] and "900000000 pixels" in reasons["bomb.png"]
    assert list(Image.objects.values_list("key", flat=True)) == ["good.jpg"]
    stored = sorted(p.name for p in (tmp_path / "media").rglob("*") if p.is_file())
    assert stored == ["good.jpg", "good.jpg.jpg", "good.jpg.jpg"], "nothing of a refused file is kept"


def test_an_image_just_over_a_lower_pixel_limit_is_refused_too(dataset, tmp_path):
    root = tmp_path / "files"
    root.mkdir()
    fx.write_jpeg(root / "big.jpg", width=100, height=100)
    report = images_import(dataset=dataset, specs=discover("flat", root=root), max_pixels=100 * 99)
    assert report.created == 0 and "decompression bomb" in report.failed[0][1]


@pytest.mark.parametrize(
    "bad_path",
    ["../../etc/passwd", "/etc/passwd", "imgs/../../outside.jpg", "imgs/escape/secret.jpg"],
    ids=["dot-dot", "absolute", "dot-dot inside", "symlink out of the root"],
)
def test_jsonl_manifest_paths_that_leave_the_import_root_are_refused_before_anything_is_read(tmp_path, bad_path):
    root = tmp_path / "import"
    (root / "imgs").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    fx.write_jpeg(outside / "secret.jpg")
    (root / "imgs" / "escape").symlink_to(outside)
    manifest = root / "manifest.jsonl"
    manifest.write_text(json.dumps({"path": "imgs/ok.jpg"}) + "\n" + json.dumps({"path": bad_path}) + "\n")
    with pytest.raises(ImportSourceError, match=r"manifest.jsonl:2: path .* is outside the import root"):
        discover("manifest", manifest=manifest)


def test_the_command_refuses_a_traversing_manifest_with_status_2_and_writes_nothing(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,label\n../../etc/passwd,\n")
    with pytest.raises(CommandError) as info:
        call_command("import_dataset", "evil", "--manifest", str(manifest))
    assert info.value.returncode == 2 and "outside the import root" in str(info.value)
    assert not Image.objects.exists()
