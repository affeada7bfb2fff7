"""Small image files generated with Pillow for import tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def jpeg_bytes(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30), **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG", **save)
    return buffer.getvalue()


def write_jpeg(path: Path, width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> Path:
    path.write_bytes(jpeg_bytes(width, height, color))
    return path


def write_exif_rotated_jpeg(path: Path) -> Path:
    """Stored 80×40 with orientation 6 (rotate 90° clockwise to view): shown as 40×80."""
    exif = Image.Exif()
    exif[0x0112] = 6
    path.write_bytes(jpeg_bytes(80, 40, exif=exif.tobytes()))
    return path


def write_cmyk_jpeg(path: Path) -> Path:
    Image.new("CMYK", (50, 30), (0, 255, 255, 0)).save(path, format="JPEG")
    return path


def write_16bit_png(path: Path) -> Path:
    ramp = np.tile(np.linspace(0, 65535, 60, dtype=np.uint16), (20, 1))
    Image.fromarray(ramp).save(path, format="PNG")
    return path


def write_palette_png(path: Path) -> Path:
    Image.new("RGB", (30, 30), (10, 200, 10)).convert("P", palette=Image.Palette.ADAPTIVE).save(path, format="PNG")
    return path


def write_corrupt(path: Path) -> Path:
    path.write_bytes(b"this is not an image at all")
    return path


def write_truncated_jpeg(path: Path) -> Path:
    data = jpeg_bytes(400, 300, quality=95)
    path.write_bytes(data[: len(data) // 2])
    return path
