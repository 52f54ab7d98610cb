"""Still photos reach the face detectors and enrolment upright, in RGB, and a
file that is too big or broken gets a reason instead of an exception."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from detectors.still_image import ImageReadError, image_size, load_image_rgb


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` grey pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_from_its_header():
    bomb = png_declaring(100_000, 100_000)
    t0 = time.perf_counter()
    for read in (image_size, load_image_rgb):
        with pytest.raises(ImageReadError, match="10,000 megapixels.*decompression bomb"):
            read(bomb)
    assert time.perf_counter() - t0 < 5  # nothing was decoded (10 G pixels would take minutes)


def test_exif_orientation_is_applied():
    """A phone photo stored landscape with 'rotate 90' in EXIF is a portrait."""
    img = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    assert load_image_rgb(buf.getvalue()).shape == (40, 20, 3)
    assert image_size(buf.getvalue()) == (40, 20)  # the header, as stored


@pytest.mark.parametrize("mode,fmt", [("CMYK", "JPEG"), ("I;16", "PNG"), ("LA", "PNG"), ("P", "GIF"), ("RGBA", "WEBP")])
def test_any_colour_mode_becomes_rgb(tmp_path, mode, fmt):
    p = tmp_path / f"img.{fmt.lower()}"
    Image.new(mode, (24, 16)).save(p, fmt)
    rgb = load_image_rgb(p)
    assert rgb.shape == (16, 24, 3) and rgb.dtype == np.uint8


def test_broken_files_say_what_is_wrong(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, "JPEG")
    with pytest.raises(ImageReadError, match="not a readable image"):
        load_image_rgb(buf.getvalue()[:200])  # truncated
    with pytest.raises(ImageReadError, match="no image format Pillow knows") as err:
        load_image_rgb(b"Dear CFO, please wire the money today.")
    assert "BytesIO" not in str(err.value)
    with pytest.raises(ImageReadError, match="not a readable image"):
        load_image_rgb(tmp_path / "missing.png")


def test_heic_photos_are_decoded_by_ffmpeg_when_pillow_cannot(conformance_dir):
    """Every iPhone photo is HEIC; Pillow reads none without a plug-in, so the
    face detectors declined them as unreadable."""
    heic = conformance_dir / "image/vendors/trustnxt-icon-signed-v2-bmff.heic"
    if not heic.is_file():
        pytest.skip("the HEIC conformance file is not present")
    rgb = load_image_rgb(heic)
    assert rgb.shape == (1056, 1056, 3) and rgb.dtype == np.uint8 and rgb.std() > 1
    assert np.array_equal(load_image_rgb(heic.read_bytes()), rgb)
