"""Photos and camera frames from untrusted bytes to RGB arrays, refusing oversized images
before their pixels are decoded."""

from __future__ import annotations

import io
import warnings

import numpy
from PIL import Image, ImageOps

MAX_PIXELS = 25_000_000

_SIGNATURES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}


class ImageError(ValueError):
    """An image refused: `code` is "bad_image" or "image_too_large"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def decode(data: bytes, *, max_pixels: int = MAX_PIXELS, max_side: int = 1280) -> numpy.ndarray:
    """JPEG or PNG bytes to an RGB uint8 array (H, W, 3), EXIF orientation applied, the longer
    side at most `max_side`."""
    kind = next((k for sig, k in _SIGNATURES.items() if data.startswith(sig)), None)
    if kind is None:
        raise ImageError("bad_image", "Not a JPEG or PNG image.")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check only warns below twice its limit; ours decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            # open() reads only the header: the size is known before any pixel is decoded.
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(
                    "image_too_large",
                    f"The image is {width}x{height} pixels; at most {max_pixels:,} are accepted.",
                )
            if kind == "JPEG":
                # The JPEG decoder can scale by 1/2…1/8 while decoding: much less work for a
                # large photo that is going to be downscaled anyway.
                image.draft("RGB", (max_side, max_side))
            image.load()  # truncated data raises here (LOAD_TRUNCATED_IMAGES stays off)
            upright: Image.Image = ImageOps.exif_transpose(image).convert("RGB")
    except ImageError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageError("image_too_large", "The image has too many pixels.") from e
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, EOFError) as e:
        raise ImageError("bad_image", f"The image cannot be read: {e}") from e
    if max(upright.size) > max_side:
        upright.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return numpy.ascontiguousarray(numpy.asarray(upright, dtype=numpy.uint8))
