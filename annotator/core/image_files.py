"""Decode an uploaded or imported image once and derive what the app shows. Pure Pillow, no Django.

The original bytes are kept untouched elsewhere; here we check that they are a decodable image
and make a display copy (longest side ≤ 800 px) and a thumbnail, both JPEG with EXIF orientation
applied. JPEG draft mode lets libjpeg decode a downscaled image directly, several times faster
for camera-sized photographs.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DISPLAY_SIZE = 800
THUMBNAIL_SIZE = 192
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}


class ImageFileError(ValueError):
    """The file is not a usable image: empty, corrupt, truncated, not an image, or a decompression bomb."""


@dataclass(frozen=True)
class ProcessedImage:
    sha256: str
    width: int
    height: int
    display_jpeg: bytes
    thumbnail_jpeg: bytes


def process_image_bytes(data: bytes, *, max_pixels: int | None = None) -> ProcessedImage:
    if not data:
        raise ImageFileError("empty file (0 bytes)")
    limit = max_pixels if max_pixels is not None else Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; treat it as the error it is.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            width, height = image.size
            if limit and width * height > limit:
                raise ImageFileError(f"decompression bomb: {width}×{height} pixels exceeds the limit of {limit}")
            orientation = image.getexif().get(0x0112, 1)
            if image.format == "JPEG":
                image.draft("RGB", (DISPLAY_SIZE, DISPLAY_SIZE))
            image.load()
    except ImageFileError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageFileError(f"decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageFileError("not an image file Pillow can read") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageFileError(f"corrupt or truncated image ({exc})") from exc
    if orientation in _ROTATED_ORIENTATIONS:
        width, height = height, width
    image = ImageOps.exif_transpose(_to_rgb(image))
    display = image.copy()
    display.thumbnail((DISPLAY_SIZE, DISPLAY_SIZE), Image.Resampling.LANCZOS)
    thumbnail = display.copy()
    thumbnail.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    return ProcessedImage(
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        display_jpeg=_jpeg(display, quality=85),
        thumbnail_jpeg=_jpeg(thumbnail, quality=80),
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB for any mode: CMYK, 16-bit and float greyscale, palettes and alpha (composited on white)."""
    if image.mode in {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}:
        pixels = np.asarray(image, dtype=np.float64)
        top = float(pixels.max()) if pixels.size else 0.0
        # 16-bit data uses the full 0..65535 range; scale by it unless the file only uses 8 bits.
        scale = 255.0 / 65535.0 if top > 255 else 1.0
        grey = np.clip(pixels * scale, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in {"RGBA", "LA", "PA"}:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def _jpeg(image: Image.Image, *, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=False)
    return buffer.getvalue()
