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

# Largest image decoded: Pillow's refusal threshold, ~179 megapixels (three
# bytes each, ~0.5 GB as RGB). The biggest phone and camera sensors are
# ~100-150 MP; beyond this a file is more likely a decompression bomb than a
# photo. Pillow raises its own exception type there, which callers missed.
MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS


# Pillow's own message names its file object ("<_io.BytesIO object at 0x...>").
NOT_AN_IMAGE = "not a readable image (no image format Pillow knows: JPEG, PNG, WebP, GIF, TIFF, BMP, ...)"


class ImageReadError(ValueError):
    """The image cannot be decoded (corrupt, not an image, or too large)."""


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
        raise ImageReadError(_too_large_message(_declared_pixels(exc))) from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageReadError(NOT_AN_IMAGE) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"not a readable image ({exc})") from exc


def load_image_rgb(source: str | Path | bytes) -> np.ndarray:
    """The image as an upright RGB uint8 array (first frame of an animation)."""
    from PIL import ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(source) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise ImageReadError(_too_large_message(w * h))
                return np.ascontiguousarray(ImageOps.exif_transpose(im).convert("RGB"))
    except Image.DecompressionBombError as exc:
        raise ImageReadError(_too_large_message(_declared_pixels(exc))) from exc
    except Image.UnidentifiedImageError as exc:
        decoded = _decode_with_ffmpeg(source)  # HEIC (every iPhone photo) and other formats FFmpeg knows
        if decoded is None:
            raise ImageReadError(NOT_AN_IMAGE) from exc
        return decoded
    except (OSError, ValueError, SyntaxError) as exc:
        if isinstance(exc, ImageReadError):
            raise
        raise ImageReadError(f"not a readable image ({exc})") from exc


def _decode_with_ffmpeg(source: str | Path | bytes) -> np.ndarray | None:
    """The presented picture of an image Pillow does not read, decoded by
    FFmpeg (PyAV), upright; None when FFmpeg cannot read it either. HEIC
    photos are HEVC pictures in an ISO-BMFF box: Pillow needs a plug-in,
    FFmpeg decodes them. The size is checked before decoding."""
    import av

    from audio.decode import best_stream
    from detectors.face_swap.faces import frame_rotation, upright

    try:
        with av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source), metadata_errors="ignore") as c:
            stream = best_stream(c, "video")
            if stream is None:
                return None
            w, h = stream.codec_context.width, stream.codec_context.height
            if w * h > MAX_PIXELS:
                raise ImageReadError(_too_large_message(w * h))
            frame = next(c.decode(stream), None)
            if frame is None:
                return None
            return upright(frame.to_ndarray(format="rgb24"), frame_rotation(frame))  # the display matrix, if any
    except (av.error.FFmpegError, ValueError, OSError, StopIteration):
        return None


def _declared_pixels(exc: Exception) -> int | None:
    m = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow: "Image size (N pixels) exceeds limit of ..."
    return int(m.group(1)) if m else None


def _too_large_message(pixels: int | None) -> str:
    size = f"{pixels / 1e6:,.0f} megapixels" if pixels else "more pixels than that"
    return (f"the image declares {size}, above the {MAX_PIXELS / 1e6:.0f} megapixels analysed: refused as a "
            "possible decompression bomb (downscale it to analyse it)")


__all__ = ["MAX_PIXELS", "ImageReadError", "image_size", "load_image_rgb"]
