"""biometrics.images: only whole JPEG and PNG images, refused before decoding if too large."""

from __future__ import annotations

import io
import struct
import zlib

import numpy
import pytest
from PIL import Image

from biometrics.images import MAX_PIXELS, ImageError, decode
from tests.faces import photo


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels but carries almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_not_an_image() -> None:
    for data in (b"", b"hello", b"GIF89a" + b"\0" * 100):
        with pytest.raises(ImageError) as e:
            decode(data)
        assert e.value.code == "bad_image"


def test_gif_and_webp_are_refused() -> None:
    image = Image.new("RGB", (32, 32), "red")
    for kind in ("GIF", "WEBP", "BMP"):
        with pytest.raises(ImageError) as e:
            decode(encoded(image, kind))
        assert e.value.code == "bad_image"


def test_truncated_jpeg() -> None:
    data = photo("obama.jpg")
    with pytest.raises(ImageError) as e:
        decode(data[: len(data) // 2])
    assert e.value.code == "bad_image"


def test_fifty_megapixel_png_refused_from_its_header() -> None:
    data = png_header(10_000, 5_000)
    assert len(data) < 200  # nothing that could be decoded: the size alone decides
    with pytest.raises(ImageError) as e:
        decode(data)
    assert e.value.code == "image_too_large"
    assert "10000x5000" in e.value.message


def test_decompression_bomb_refused() -> None:
    # Beyond Pillow's own limit too (2 x 89 million pixels), so its check fires first.
    with pytest.raises(ImageError) as e:
        decode(png_header(20_000, 10_000))
    assert e.value.code == "image_too_large"


def test_max_pixels_is_a_parameter() -> None:
    image = encoded(Image.new("RGB", (200, 100)), "PNG")
    assert decode(image).shape == (100, 200, 3)
    with pytest.raises(ImageError) as e:
        decode(image, max_pixels=19_999)
    assert e.value.code == "image_too_large"
    assert MAX_PIXELS == 25_000_000


def test_png_with_alpha_becomes_rgb() -> None:
    image = Image.new("RGBA", (64, 48), (10, 20, 30, 128))
    array = decode(encoded(image, "PNG"))
    assert array.shape == (48, 64, 3)
    assert array.dtype == numpy.uint8
    assert array.flags.c_contiguous


def test_grey_jpeg_becomes_rgb() -> None:
    array = decode(encoded(Image.new("L", (40, 30), 77), "JPEG"))
    assert array.shape == (30, 40, 3)


def test_downscaled_to_max_side() -> None:
    array = decode(photo("obama3.jpg"))
    assert max(array.shape[:2]) == 1280
    small = decode(encoded(Image.new("RGB", (1000, 500)), "PNG"), max_side=640)
    assert small.shape == (320, 640, 3)


def test_exif_orientation_applied() -> None:
    # A 60x20 picture, left half red, stored with "rotate 90° clockwise to view" (6).
    array = numpy.zeros((20, 60, 3), dtype=numpy.uint8)
    array[:, :30] = (255, 0, 0)
    image = Image.fromarray(array)
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = decode(encoded(image, "JPEG", exif=exif.tobytes(), quality=95))
    assert upright.shape == (60, 20, 3)
    # Turned clockwise, the stored left half ends up on top.
    assert upright[5, 10, 0] > 200 and upright[5, 10, 1] < 60
    assert upright[55, 10, 0] < 60
