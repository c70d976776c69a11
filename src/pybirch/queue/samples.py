"""The sample a scan measures: an ID, its material, free tags and an optional photo.

The image is an 8-bit numpy array: ``H x W`` (grey), ``H x W x 3`` (RGB) or
``H x W x 4`` (RGBA). It is read and written with Pillow (PNG, JPEG, TIFF...) and travels
in JSON as a base64-encoded PNG, which keeps every pixel exactly.
"""

from __future__ import annotations

import base64
import binascii
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pybirch.queue.errors import SampleError
from pybirch.sample_images import (
    MAX_IMAGE_PIXELS,
    check_image,
    decode_png,
    encode_png,
    read_picture,
)

# The picture codec lives in pybirch.sample_images; its names stay importable from here.
__all__ = ["MAX_IMAGE_PIXELS", "Sample", "SampleError", "decode_png", "encode_png"]

#: Formats that cannot hold an alpha channel.
_NO_ALPHA_FORMATS = {".jpg", ".jpeg", ".jfif", ".bmp"}


class Sample:
    """A sample: ``ID`` (non-empty), ``material``, ``additional_tags`` and an optional image."""

    def __init__(
        self,
        ID: str,  # the name PyBirch users know
        material: str = "",
        additional_tags: list[str] | None = None,
        image: np.ndarray | None = None,
    ) -> None:
        self.ID = ID
        self.material = material
        self.additional_tags = list(additional_tags) if additional_tags is not None else []
        self.image = image
        self.validate()

    def __repr__(self) -> str:
        image = "None" if self.image is None else "x".join(str(n) for n in self.image.shape)
        return (
            f"Sample(ID={self.ID!r}, material={self.material!r}, "
            f"additional_tags={self.additional_tags!r}, image={image})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sample):
            return NotImplemented
        return (
            self.ID == other.ID
            and self.material == other.material
            and self.additional_tags == other.additional_tags
            and _same_image(self.image, other.image)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable: equal samples may change

    def validate(self) -> None:
        """Raise :class:`SampleError` if any field has the wrong type or shape."""
        if not isinstance(self.ID, str) or not self.ID.strip():
            raise SampleError(f"sample ID must be a non-empty string, not {self.ID!r}")
        if not isinstance(self.material, str):
            raise SampleError(f"sample {self.ID}: material must be a string, not {self.material!r}")
        if not isinstance(self.additional_tags, list) or not all(
            isinstance(tag, str) for tag in self.additional_tags
        ):
            raise SampleError(
                f"sample {self.ID}: additional_tags must be a list of strings, "
                f"not {self.additional_tags!r}"
            )
        if self.image is not None:
            check_image(self.image, self.ID)

    def save_image(self, path: str | PathLike[str]) -> None:
        """Write the image to ``path``; the format follows the extension (png, jpg, tiff...)."""
        if self.image is None:
            raise SampleError(f"sample {self.ID} has no image to save")
        check_image(self.image, self.ID)
        target = Path(path)
        if target.suffix.lower() in _NO_ALPHA_FORMATS and _channels(self.image) == 4:
            raise SampleError(
                f"sample {self.ID}: {target.suffix} cannot store the alpha channel of an RGBA "
                "image; save it as PNG or TIFF"
            )
        try:
            Image.fromarray(self.image).save(target)
        except (OSError, ValueError, KeyError) as exc:
            # Pillow raises KeyError/ValueError for an unknown extension, OSError for I/O.
            raise SampleError(f"sample {self.ID}: cannot save image to {target}: {exc}") from exc

    def load_image(
        self, path: str | PathLike[str], max_pixels: int = MAX_IMAGE_PIXELS
    ) -> np.ndarray:
        """Read an image file into ``image`` (as grey, RGB or RGBA uint8) and return it."""
        source = Path(path)
        self.image = read_picture(source, f"the image {source} of sample {self.ID}", max_pixels)
        return self.image

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description; the image is a base64 PNG string or None."""
        self.validate()
        return {
            "ID": self.ID,
            "material": self.material,
            "additional_tags": list(self.additional_tags),
            "image": None if self.image is None else _encode_png(self.image),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        """Rebuild a sample written by :meth:`to_dict`."""
        if not isinstance(data, dict) or "ID" not in data:
            raise SampleError(f"a sample description needs an 'ID', got {data!r:.200}")
        encoded = data.get("image")
        image = None if encoded is None else _decode_png(encoded, str(data["ID"]))
        return cls(
            ID=data["ID"],
            material=data.get("material", ""),
            additional_tags=data.get("additional_tags") or [],
            image=image,
        )


def _channels(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else image.shape[2]


def _same_image(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))


def _encode_png(image: np.ndarray) -> str:
    return base64.b64encode(encode_png(image)).decode("ascii")


def _decode_png(encoded: object, sample_id: str) -> np.ndarray:
    if not isinstance(encoded, str):
        raise SampleError(f"sample {sample_id}: image must be a base64 string")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise SampleError(f"sample {sample_id}: image is not a base64 PNG: {exc}") from exc
    return decode_png(raw, sample_id)
