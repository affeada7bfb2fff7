import io
from pathlib import Path

import pytest
from PIL import Image

from annotator.core.image_files import DISPLAY_SIZE, THUMBNAIL_SIZE, ImageFileError, process_image_bytes
from tests.builders import images as fx


def test_a_large_jpeg_gets_a_display_copy_and_thumbnail_within_their_sizes():
    result = process_image_bytes(fx.jpeg_bytes(2000, 1000))
    assert (result.width, result.height) == (2000, 1000)
    display = Image.open(io.BytesIO(result.display_jpeg))
    thumb = Image.open(io.BytesIO(result.thumbnail_jpeg))
    assert display.format == "JPEG" and max(display.size) == DISPLAY_SIZE
    assert max(thumb.size) <= THUMBNAIL_SIZE
    assert len(result.sha256) == 64


def test_exif_orientation_is_applied_to_the_copies_and_the_recorded_size(tmp_path: Path):
    data = fx.write_exif_rotated_jpeg(tmp_path / "r.jpg").read_bytes()
    result = process_image_bytes(data)
    assert (result.width, result.height) == (40, 80)
    assert Image.open(io.BytesIO(result.display_jpeg)).size == (40, 80)


@pytest.mark.parametrize(
    "writer", [fx.write_cmyk_jpeg, fx.write_16bit_png, fx.write_palette_png], ids=["cmyk", "16-bit", "palette"]
)
def test_unusual_modes_become_rgb_jpegs(tmp_path: Path, writer):
    result = process_image_bytes(writer(tmp_path / "x").read_bytes())
    assert Image.open(io.BytesIO(result.display_jpeg)).mode == "RGB"


def test_a_16_bit_png_keeps_its_tonal_range(tmp_path: Path):
    result = process_image_bytes(fx.write_16bit_png(tmp_path / "x.png").read_bytes())
    display = Image.open(io.BytesIO(result.display_jpeg)).convert("L")
    low, high = display.getextrema()
    assert low < 20 and high > 235


@pytest.mark.parametrize(
    ("writer", "message"),
    [(fx.write_corrupt, "not an image"), (fx.write_truncated_jpeg, "truncated")],
    ids=["corrupt", "truncated"],
)
def test_broken_files_are_refused_with_a_reason(tmp_path: Path, writer, message):
    with pytest.raises(ImageFileError, match=message):
        process_image_bytes(writer(tmp_path / "x.jpg").read_bytes())


def test_an_empty_file_is_refused():
    with pytest.raises(ImageFileError, match="0 bytes"):
        process_image_bytes(b"")


def test_a_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(ImageFileError, match="decompression bomb"):
        process_image_bytes(fx.jpeg_bytes(300, 300), max_pixels=300 * 299)
