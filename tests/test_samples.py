"""Sample: validation, image files, JSON round trip and equality."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from database_builders import png_claiming
from pybirch.errors import PyBirchError
from pybirch.queue import Sample, SampleError
from pybirch.queue.samples import decode_png


def _image(*shape: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def test_defaults_and_fields() -> None:
    sample = Sample("S-001", material="graphene", additional_tags=["hBN", "twisted"])
    assert sample.ID == "S-001"
    assert sample.material == "graphene"
    assert sample.additional_tags == ["hBN", "twisted"]
    assert sample.image is None
    assert Sample("S").additional_tags == []
    assert Sample("S").material == ""


def test_tags_are_copied() -> None:
    tags = ["a"]
    sample = Sample("S", additional_tags=tags)
    tags.append("b")
    assert sample.additional_tags == ["a"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ID": ""}, "non-empty"),
        ({"ID": "   "}, "non-empty"),
        ({"ID": 12}, "non-empty"),
        ({"ID": "S", "material": 3}, "material"),
        ({"ID": "S", "additional_tags": ["ok", 5]}, "additional_tags"),
        ({"ID": "S", "image": [[1, 2]]}, "numpy array"),
        ({"ID": "S", "image": np.zeros((4, 4), dtype=np.float64)}, "uint8"),
        ({"ID": "S", "image": np.zeros((4, 4, 2), dtype=np.uint8)}, "HxW"),
        ({"ID": "S", "image": np.zeros((4,), dtype=np.uint8)}, "HxW"),
        ({"ID": "S", "image": np.zeros((0, 4), dtype=np.uint8)}, "empty"),
    ],
)
def test_invalid_fields_raise_sample_error(kwargs: dict, message: str) -> None:
    with pytest.raises(SampleError, match=message):
        Sample(**kwargs)


def test_validate_catches_later_changes() -> None:
    sample = Sample("S")
    sample.additional_tags = "not a list"  # type: ignore[assignment]
    with pytest.raises(SampleError, match="additional_tags"):
        sample.validate()


def test_sample_error_is_a_pybirch_error() -> None:
    assert issubclass(SampleError, PyBirchError)


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3), (5, 7, 4)])
def test_dict_round_trip_keeps_every_pixel(shape: tuple[int, ...]) -> None:
    sample = Sample("S", "MoS2", ["a"], image=_image(*shape))
    data = json.loads(json.dumps(sample.to_dict()))
    assert isinstance(data["image"], str)
    restored = Sample.from_dict(data)
    assert restored == sample
    assert restored.image is not None
    assert restored.image.dtype == np.uint8
    assert restored.image.shape == shape
    np.testing.assert_array_equal(restored.image, sample.image)


def test_dict_round_trip_without_image() -> None:
    sample = Sample("S", "Si")
    assert sample.to_dict()["image"] is None
    assert Sample.from_dict(sample.to_dict()) == sample


@pytest.mark.parametrize(
    "data",
    [
        {"material": "x"},
        {"ID": "S", "image": "***not base64***"},
        {"ID": "S", "image": "aGVsbG8="},  # base64 of b"hello": not an image
        {"ID": "S", "image": 42},
    ],
)
def test_from_dict_rejects_bad_data(data: dict) -> None:
    with pytest.raises(SampleError):
        Sample.from_dict(data)


def test_equality() -> None:
    image = _image(3, 3)
    assert Sample("S", "x", ["t"], image) == Sample("S", "x", ["t"], image.copy())
    assert Sample("S") != Sample("T")
    assert Sample("S", "x") != Sample("S", "y")
    assert Sample("S", additional_tags=["a"]) != Sample("S", additional_tags=["b"])
    assert Sample("S", image=image) != Sample("S")
    other = image.copy()
    other[0, 0] ^= 1
    assert Sample("S", image=image) != Sample("S", image=other)
    assert Sample("S", image=_image(3, 3)) != Sample("S", image=_image(3, 3, 3))
    assert Sample("S") != "S"


@pytest.mark.parametrize(
    ("suffix", "shape"),
    [(".png", (6, 8)), (".png", (6, 8, 3)), (".png", (6, 8, 4)), (".tiff", (6, 8, 3))],
)
def test_save_and_load_lossless_formats(tmp_path, suffix: str, shape: tuple[int, ...]) -> None:
    original = _image(*shape)
    path = tmp_path / f"photo{suffix}"
    Sample("S", image=original).save_image(path)
    loaded = Sample("S")
    returned = loaded.load_image(path)
    assert returned is loaded.image
    np.testing.assert_array_equal(loaded.image, original)


def test_save_and_load_jpeg_is_close(tmp_path) -> None:
    # A smooth gradient, so JPEG's lossy compression stays close to the original.
    gradient = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (32, 1))
    original = np.stack([gradient, gradient.T, np.full_like(gradient, 128)], axis=2)
    path = tmp_path / "photo.jpg"
    Sample("S", image=original).save_image(path)
    loaded = Sample("S")
    loaded.load_image(path)
    assert loaded.image is not None
    assert loaded.image.shape == original.shape
    assert np.abs(loaded.image.astype(int) - original.astype(int)).mean() < 8


def test_jpeg_refuses_alpha(tmp_path) -> None:
    with pytest.raises(SampleError, match="alpha"):
        Sample("S", image=_image(4, 4, 4)).save_image(tmp_path / "photo.jpg")


def test_save_without_image_raises(tmp_path) -> None:
    with pytest.raises(SampleError, match="no image"):
        Sample("S").save_image(tmp_path / "photo.png")


def test_save_with_unknown_extension_raises(tmp_path) -> None:
    with pytest.raises(SampleError, match="cannot save"):
        Sample("S", image=_image(4, 4)).save_image(tmp_path / "photo.notaformat")


def test_load_missing_or_broken_file_raises(tmp_path) -> None:
    with pytest.raises(SampleError, match="cannot read"):
        Sample("S").load_image(tmp_path / "missing.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image at all")
    with pytest.raises(SampleError, match="cannot read"):
        Sample("S").load_image(broken)


def test_load_converts_palette_and_bilevel_images(tmp_path) -> None:
    palette = Image.fromarray(_image(6, 6, 3)).convert("P")
    palette.save(tmp_path / "palette.png")
    Image.new("1", (5, 4), color=1).save(tmp_path / "bilevel.png")
    sample = Sample("S")
    assert sample.load_image(tmp_path / "palette.png").shape == (6, 6, 3)
    bilevel = sample.load_image(tmp_path / "bilevel.png")
    assert bilevel.shape == (4, 5)
    assert bilevel.dtype == np.uint8
    assert set(np.unique(bilevel)) == {255}


def test_load_refuses_16_bit_images(tmp_path) -> None:
    Image.fromarray(np.full((4, 4), 4000, dtype=np.uint16)).save(tmp_path / "deep.png")
    with pytest.raises(SampleError, match="8-bit"):
        Sample("S").load_image(tmp_path / "deep.png")


def test_repr_does_not_dump_the_image() -> None:
    text = repr(Sample("S", image=_image(100, 100, 3)))
    assert "100x100x3" in text
    assert len(text) < 200


@pytest.mark.parametrize(
    ("width", "height"),
    [(13_000, 13_000), (20_000, 20_000)],  # over the limit; over Pillow's bomb limit too
)
def test_a_picture_of_too_many_pixels_is_refused_before_it_is_decoded(width, height) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(SampleError, match=r"pixels; at most 25,000,000|too many pixels"):
            decode_png(png_claiming(width, height), "S")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # the header only: the picture would take 169 MB or more


def test_the_pixel_limit_is_a_parameter() -> None:
    claimed = png_claiming(100, 100)
    with pytest.raises(SampleError, match="at most 9,999"):
        decode_png(claimed, "S", max_pixels=9_999)
    with pytest.raises(SampleError, match="cannot read"):  # the size is fine
        decode_png(claimed, "S", max_pixels=10_000)
