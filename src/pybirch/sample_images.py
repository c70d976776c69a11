"""Sample pictures: checked, decoded and encoded as PNG, for the engine, storage and web alike.

A picture is an 8-bit numpy array: ``H x W`` (grey), ``H x W x 3`` (RGB) or ``H x W x 4``
(RGBA). Files are read with Pillow (PNG, JPEG, TIFF...); pictures are stored as PNG, which
keeps every pixel exactly. This module imports nothing else from PyBirch but its errors.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pybirch.errors import PyBirchError

__all__ = [
    "MAX_IMAGE_PIXELS",
    "SampleError",
    "SampleImageError",
    "check_image",
    "decode_png",
    "encode_png",
    "read_picture",
]

#: Pillow modes kept as they are, and the array shape each gives.
_NATIVE_MODES = {"L": 2, "RGB": 3, "RGBA": 4}
#: Most pixels (width x height) a picture may have: 25 MP, a camera's photo. Checked on the
#: file's header, before decoding: a small file can claim enough pixels to fill memory.
MAX_IMAGE_PIXELS = 25_000_000


class SampleError(PyBirchError, ValueError):
    """A sample is invalid, or its image cannot be read, written or decoded.

    Defined here, below the engine, so that catching it (as :mod:`pybirch.queue` does, which
    re-exports it) also catches :class:`SampleImageError`.
    """


class SampleImageError(SampleError):
    """A sample's picture has the wrong type or shape, or cannot be read or decoded."""


def check_image(image: object, sample_id: str) -> None:
    """Raise :class:`SampleImageError` unless ``image`` is an HxW, HxWx3 or HxWx4 uint8 array."""
    if not isinstance(image, np.ndarray):
        raise SampleImageError(
            f"sample {sample_id}: image must be a numpy array, not {type(image).__name__}"
        )
    if image.dtype != np.uint8:
        raise SampleImageError(
            f"sample {sample_id}: image must have dtype uint8, not {image.dtype}"
        )
    shape_ok = image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))
    if not shape_ok or 0 in image.shape[:2]:
        raise SampleImageError(
            f"sample {sample_id}: image must be HxW, HxWx3 or HxWx4 and not empty, "
            f"not shape {image.shape}"
        )


def encode_png(image: np.ndarray) -> bytes:
    """An image array as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_png(raw: bytes, sample_id: str, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """PNG (or any image file's) bytes as an image array; SampleImageError if unreadable or if
    it has more than ``max_pixels`` pixels."""
    return read_picture(io.BytesIO(raw), f"the image of sample {sample_id}", max_pixels)


def read_picture(source: Path | io.BytesIO, what: str, max_pixels: int) -> np.ndarray:
    """Decode a picture (``what`` names it in errors) whose header claims at most
    ``max_pixels`` pixels, as a grey, RGB or RGBA uint8 array."""
    try:
        with Image.open(source) as picture:  # reads the header only
            width, height = picture.size
            if width * height > max_pixels:
                raise SampleImageError(
                    f"{what} has {width} x {height} pixels; at most {max_pixels:,} are accepted"
                )
            picture.load()
            return _to_array(picture, what)
    except Image.DecompressionBombError as exc:  # Pillow's own limit, met in Image.open
        raise SampleImageError(
            f"{what} has too many pixels ({exc}); at most {max_pixels:,} are accepted"
        ) from exc
    except UnidentifiedImageError as exc:  # Pillow's text names only a BytesIO object
        raise SampleImageError(
            f"cannot read {what}: the file is not a picture (PNG, JPEG or TIFF)"
        ) from exc
    except (OSError, ValueError) as exc:
        # ValueError: Pillow refuses a text chunk that decompresses beyond its limit.
        raise SampleImageError(f"cannot read {what}: {exc}") from exc


def _to_array(picture: Image.Image, source: str) -> np.ndarray:
    """Convert a Pillow image to the grey/RGB/RGBA uint8 array a sample keeps."""
    mode = picture.mode
    if mode in _NATIVE_MODES:
        return np.array(picture, dtype=np.uint8)
    if mode == "1":
        return np.array(picture.convert("L"), dtype=np.uint8)
    if mode in ("LA", "PA") or (mode == "P" and "transparency" in picture.info):
        return np.array(picture.convert("RGBA"), dtype=np.uint8)
    if mode in ("P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return np.array(picture.convert("RGB"), dtype=np.uint8)
    # 16-bit and float images would need a scaling choice that only the user can make.
    raise SampleImageError(f"{source}: image mode {mode} is not 8-bit; convert it to 8-bit first")
