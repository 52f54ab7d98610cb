"""Decoding still images for the face detectors and enrolment, in one place.

Three call sites used to decode photos three ways (Pillow, ``cv2.imread``,
``cv2.imdecode``), each with its own size limit and failure: a PNG declaring
100000 x 100000 pixels made one detector fail with Pillow's internal
exception name and made another silently read nothing. Here the declared size
is checked from the header before any pixel is decoded, the EXIF orientation
is applied (a phone photo lies on its side otherwise, and the face detector
finds nothing), and every failure is an ``ImageReadError`` whose message a
user can act on.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from audio.decode import MAX_PIXELS

# Largest image decoded: ``audio.decode.MAX_PIXELS``, shared with every FFmpeg decoder
# (Pillow's own bomb error, which callers used to miss, is mapped to the same refusal).


# Pillow's own message names its file object ("<_io.BytesIO object at 0x...>").
NOT_AN_IMAGE = "not a readable image (no image format Pillow knows: JPEG, PNG, WebP, GIF, TIFF, BMP, ...)"


class ImageReadError(ValueError):
    """The image cannot be decoded (corrupt, not an image, or too large)."""


class ImageTooLargeError(ImageReadError):
    """The header declares more than ``MAX_PIXELS``: refused before decoding.
    ``pixels`` is the declared count (None when the decoder did not say)."""

    def __init__(self, pixels: int | None):
        super().__init__(too_large_message(pixels))
        self.pixels = pixels


def _open(source: str | Path | bytes):
    return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)


def image_size(source: str | Path | bytes) -> tuple[int, int]:
    """(width, height) as the header declares them, without decoding pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(source) as im:
                return im.size
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(_declared_pixels(exc)) from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageReadError(NOT_AN_IMAGE) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"not a readable image ({exc})") from exc


def load_image_rgb(source: str | Path | bytes) -> np.ndarray:
    """The image as an upright RGB uint8 array (first frame of an animation)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(source) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise ImageTooLargeError(w * h)
                return _rgb_array(im)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(_declared_pixels(exc)) from exc
    except Image.UnidentifiedImageError as exc:
        decoded = _decode_with_ffmpeg(source)  # HEIC (every iPhone photo) and other formats FFmpeg knows
        if decoded is None:
            raise ImageReadError(NOT_AN_IMAGE) from exc
        return decoded
    except (OSError, ValueError, SyntaxError) as exc:
        if isinstance(exc, ImageReadError):
            raise
        raise ImageReadError(f"not a readable image ({exc})") from exc


STRIP_BYTES = 1 << 24  # rows copied into the array at a time


def _rgb_array(im: Image.Image) -> np.ndarray:
    """``im`` upright and RGB, in a new array, holding one decoded copy
    beside it. Turning it (a copy, only when EXIF asks), converting it (a
    copy, even to its own mode) and handing it to numpy (one more, via
    ``tobytes``) took 2 GB for a 12000 x 12000 photo (0.43 GB as RGB); the
    rows are copied a strip at a time instead."""
    from PIL import ImageOps

    ImageOps.exif_transpose(im, in_place=True)
    rgb = im if im.mode == "RGB" else im.convert("RGB")
    w, h = rgb.size
    out = np.empty((h, w, 3), np.uint8)
    rows = max(1, STRIP_BYTES // max(1, 3 * w))
    for y in range(0, h, rows):
        out[y:y + rows] = np.asarray(rgb.crop((0, y, w, min(h, y + rows))))
    return out


def _decode_with_ffmpeg(source: str | Path | bytes) -> np.ndarray | None:
    """The presented picture of an image Pillow does not read, decoded by
    FFmpeg (PyAV), upright; None when FFmpeg cannot read it either. HEIC
    photos are HEVC pictures in an ISO-BMFF box: Pillow needs a plug-in,
    FFmpeg decodes them. The size is checked before decoding."""
    import av

    from audio.decode import best_stream, cap_decoder, open_media
    from detectors.face_swap.faces import frame_rotation, upright

    try:
        # open_media and cap_decoder: FFmpeg decodes a picture to probe it,
        # so the size check below alone would come after the allocation.
        with open_media(io.BytesIO(source) if isinstance(source, bytes) else source) as c:
            stream = best_stream(c, "video")
            if stream is None:
                return None
            w, h = stream.codec_context.width, stream.codec_context.height
            if w * h > MAX_PIXELS:
                raise ImageTooLargeError(w * h)
            cap_decoder(stream)
            frame = next(c.decode(stream), None)
            if frame is None:
                return None
            return upright(frame.to_ndarray(format="rgb24"), frame_rotation(frame))  # the display matrix, if any
    except ImageReadError:
        raise
    except (av.error.FFmpegError, ValueError, OSError, StopIteration):
        return None


def _declared_pixels(exc: Exception) -> int | None:
    m = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow: "Image size (N pixels) exceeds limit of ..."
    return int(m.group(1)) if m else None


def too_large_message(pixels: int | None) -> str:
    size = f"{pixels / 1e6:,.0f} megapixels" if pixels else "more pixels than that"
    return (f"the image declares {size}, above the {MAX_PIXELS / 1e6:.0f} megapixels analysed: refused as a "
            "possible decompression bomb (downscale it to analyse it)")


__all__ = ["MAX_PIXELS", "ImageReadError", "ImageTooLargeError", "image_size", "load_image_rgb", "too_large_message"]
