"""Decompression and duration bombs are refused, or bounded, before the memory goes.

The red team's inputs: a 2 MB PNG declaring 16000 x 16000 16-bit RGBA pixels
(2 GB when merely probed), a 6 MB MOV of such frames (6.4 GB in the face
scan), a 12000 x 12000 photo enrolled as a face (7 GB, 98 s) and a 2 MB FLAC
of 2 h 55 min of silence (4.9 GB, 3 min). The inputs here are built on the fly
and are a few hundred bytes: the pictures declare their size but hold almost
no data. The probes and scans run in a subprocess under an address-space
limit, so that a regression fails with an allocation error instead of taking
the machine's memory.
"""

from __future__ import annotations

import fractions
import json
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from audio.decode import DECODER_LIMITS, AudioTooLongError, decode_audio
from detectors.face_swap import faces as F
from detectors.still_image import MAX_PIXELS, ImageTooLargeError, image_size, load_image_rgb
from tests.audio.helpers import tone, write_wav
from tests.conftest import REPO

ADDRESS_SPACE = 1 << 30  # 1 GB: the imports need ~0.3 GB; one 16000 x 16000 RGBA64 frame is 2 GB


def png_declaring(width: int, height: int, depth: int = 16, colour: int = 6) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (16-bit RGBA by
    default) and whose data is a few compressed rows."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def mov_of_pngs(path: Path, width: int, height: int, frames: int = 3) -> Path:
    """A MOV whose frames are ``png_declaring`` pictures, muxed as they are
    (nothing is encoded, so nothing of that size is allocated here)."""
    data = png_declaring(width, height)
    with av.open(str(path), "w") as c:
        s = c.add_stream("png", rate=1)
        s.width, s.height, s.pix_fmt = width, height, "rgba64be"
        for i in range(frames):
            pkt = av.Packet(data)
            pkt.stream, pkt.pts, pkt.dts, pkt.time_base, pkt.is_keyframe = s, i, i, fractions.Fraction(1, 1), True
            c.mux(pkt)
    return path


def run_limited(code: str, timeout: float = 30) -> dict:
    """Run ``code`` in a fresh interpreter limited to ``ADDRESS_SPACE``; it
    prints one JSON document, returned here."""
    prelude = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))\n"
    r = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True, check=False,
                       timeout=timeout, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ images


def test_probe_reads_an_oversized_png_without_decoding_it(tmp_path):
    """FFmpeg decodes a PNG to probe it: the declared size must stop that."""
    p = tmp_path / "bomb.png"
    p.write_bytes(png_declaring(16000, 16000))
    out = run_limited(f"""
        import json
        from pathlib import Path
        from verifier.media import probe, sniff_file
        p = Path({str(p)!r})
        m = probe(p, sniff_file(p))
        print(json.dumps(dict(kind=m.kind.value, has_video=m.has_video, error=m.probe_error,
                              width=m.streams[0].width)))
    """)
    # still an image with a picture (detectors that need pixels say why not), not a broken container
    assert out == {"kind": "image", "has_video": True, "error": None, "width": None}


def test_an_image_just_under_the_limit_is_still_probed(tmp_path):
    p = tmp_path / "ok.png"
    p.write_bytes(png_declaring(64, 48, depth=8, colour=2))
    from verifier.media import probe, sniff_file

    s = probe(p, sniff_file(p)).streams[0]
    assert (s.width, s.height, s.codec) == (64, 48, "png")


def test_the_oversized_image_is_refused_with_its_size_before_decoding():
    bomb = png_declaring(16000, 16000)
    for read in (image_size, load_image_rgb):
        with pytest.raises(ImageTooLargeError, match="256 megapixels, above the 179 megapixels") as err:
            read(bomb)
        assert err.value.pixels == 256_000_000


def test_load_image_rgb_matches_pillow_for_every_mode_and_orientation():
    """The strip-wise copy (one decoded copy held, not four) gives the very
    pixels the plain conversion gave, upright, and a writable array."""
    import io

    from PIL import Image, ImageOps

    base = Image.fromarray(np.random.default_rng(1).integers(0, 255, (37, 53, 3), dtype=np.uint8))
    for mode in ("RGB", "L", "P", "RGBA", "CMYK"):
        for orientation in (None, 3, 6, 8):
            buf = io.BytesIO()
            exif = Image.Exif()
            if orientation:
                exif[0x0112] = orientation
            base.convert(mode).save(buf, "TIFF" if mode == "CMYK" else "PNG", exif=exif)
            with Image.open(io.BytesIO(buf.getvalue())) as im:
                expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
            got = load_image_rgb(buf.getvalue())
            assert got.flags.writeable and np.array_equal(got, expected), (mode, orientation)


# ------------------------------------------------------------------ video


def test_the_face_scans_never_decode_a_frame_over_the_limit(tmp_path):
    mov = mov_of_pngs(tmp_path / "bomb.mov", 16000, 16000)
    out = run_limited(f"""
        import json
        from pathlib import Path
        from detectors.face_swap import crops as C, faces as F
        from verifier.media import probe, sniff_file
        p = {str(mov)!r}
        errors = []
        for scan in (lambda: list(F.iter_frames(p)), lambda: list(C.iter_sampled_frames(p, C.CropOptions())),
                     lambda: F.scan_faces(p, F.FACE_SWAP_SCAN)):
            try:
                scan()
                errors.append(None)
            except F.FaceScanError as exc:
                errors.append([type(exc).__name__, str(exc)])
        m = probe(Path(p), sniff_file(Path(p)))
        print(json.dumps(dict(errors=errors, width=m.streams[0].width, error=m.probe_error)))
    """)
    assert out["width"] is None and out["error"] is None
    for name, message in out["errors"]:
        assert name == "FrameTooLargeError"
        assert "179-megapixel limit" in message and "downscale the video" in message


def test_a_declared_frame_size_over_the_limit_is_refused_before_decoding():
    """When the container gives the size without decoding (H.264/HEVC
    parameter sets), the stream is refused on it, with the size named."""
    ctx = SimpleNamespace(width=16000, height=16000, options={})
    with pytest.raises(F.FrameTooLargeError, match="16000 x 16000 pixels .*179-megapixel limit"):
        F.frame_size_limit(SimpleNamespace(codec_context=ctx), "clip.mp4")
    small = SimpleNamespace(width=1280, height=720, options={"threads": "2"})
    F.frame_size_limit(SimpleNamespace(codec_context=small), "clip.mp4")
    assert small.options == {"threads": "2", **DECODER_LIMITS}  # the decoder refuses a larger frame later
    assert DECODER_LIMITS == {"max_pixels": str(MAX_PIXELS)}


def test_ordinary_video_still_decodes_under_the_cap(tmp_path):
    p = tmp_path / "small.mp4"
    with av.open(str(p), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 40, np.uint8), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode(None):
            c.mux(pkt)
    assert F.video_geometry(p)[1:] == (64, 48)
    assert len(list(F.iter_frames(p))) == 5


# ---------------------------------------------------------------- identity


def test_faces_are_searched_at_a_working_size_and_mapped_back(monkeypatch):
    """A huge still is searched downscaled (HOG ran at full size and then
    upsampled: 98 s and 7 GB for 12000 x 12000); photos up to the working
    size are searched exactly as before."""
    from detectors.identity import embeddings as E

    seen: list[tuple[tuple[int, ...], int]] = []

    def detect(self, image, min_size=20):
        seen.append((image.shape, self.upsample))
        return [F.FaceBox(100.0, 50.0, 300.0, 250.0, 1.0)] if self.upsample else []

    monkeypatch.setattr(F.FaceDetector, "detect", detect)
    big = np.zeros((6000, 4000, 3), np.uint8)
    (box,) = E.find_faces(big)
    assert seen == [((2048, 1365, 3), 0), ((2048, 1365, 3), 1)]
    s = 6000 / 2048
    assert box.left == pytest.approx(100 * s) and box.bottom == pytest.approx(250 * s)
    seen.clear()
    photo = np.zeros((1204, 645, 3), np.uint8)
    assert E.find_faces(photo)[0] == F.FaceBox(100.0, 50.0, 300.0, 250.0, 1.0)
    assert seen == [((1204, 645, 3), 0), ((1204, 645, 3), 1)]


def test_a_large_image_is_embedded_from_the_region_around_the_face(monkeypatch):
    from detectors.identity import embeddings as E

    got = {}
    monkeypatch.setattr(E, "predict_landmarks", lambda rgb, box: got.setdefault("landmarks", (rgb.shape, box)))
    monkeypatch.setattr(E, "dlib_chip", lambda rgb, box, lm: np.zeros((150, 150, 3), np.uint8))
    monkeypatch.setattr(E, "embed_chip", lambda chip: np.zeros(128))
    E.embed_face(np.zeros((9000, 9000, 3), np.uint8), F.FaceBox(4001.0, 3001.0, 4401.0, 3401.0))
    shape, box = got["landmarks"]
    assert shape[0] <= 1300 and shape[1] <= 1300  # the face and its size again around it
    assert box.left > 0 and box.top > 0 and box.size == 400.0
    assert (4001.0 - box.left) % 2 == (3001.0 - box.top) % 2 == 0  # even offsets: dlib's 2:1 pyramid samples the same pixels


def test_identity_of_a_huge_photo_matches_the_photo(tmp_path):
    """The same face, upscaled past the working size, embeds within 0.05 of
    the original (same-person threshold 0.5), in seconds."""
    import cv2

    from detectors.identity.embeddings import embed_face, embed_image, find_faces
    from tests.av_sync.synth import FACE_PHOTO

    if not FACE_PHOTO.is_file():
        pytest.skip("shared face photo not present")
    rgb = load_image_rgb(FACE_PHOTO)
    big = cv2.resize(rgb, (5000, 5000), interpolation=cv2.INTER_CUBIC)
    t0 = time.perf_counter()
    (box,) = find_faces(big)
    d = float(np.linalg.norm(embed_face(big, box) - embed_image(rgb)))
    assert d < 0.05 and time.perf_counter() - t0 < 5


# ------------------------------------------------------------------- audio


def test_decoding_can_stop_at_a_time_guard_and_say_so(tmp_path):
    p = write_wav(tmp_path / "long.wav", tone(200, 6.0, 8000), 8000)
    d = decode_audio(p, examine_s=2.0)
    assert len(d.samples) == 2 * 16000 and d.stopped_at_s == 2.0
    assert "only the first 2 s of the audio were examined (time guard)" in d.reading_clause
    whole = decode_audio(p, examine_s=60.0)
    assert whole.stopped_at_s is None and whole.reading_clause == "" and abs(whole.duration_s - 6.0) < 0.01


def test_the_duration_refusal_says_what_to_do(tmp_path):
    p = write_wav(tmp_path / "long.wav", tone(200, 5.0, 8000), 8000)
    with pytest.raises(AudioTooLongError) as err:
        decode_audio(p, max_duration_s=2.0)
    message = str(err.value)
    assert "longer than 2 s" in message and "cut the recording" in message
    assert "max_duration_s" not in message  # no option of that name reaches a user


def test_the_speech_track_examines_only_its_time_guard(tmp_path, monkeypatch):
    """The speech detectors read the first EXAMINE_S seconds: time and memory
    grow with that, not with the file (2 h 55 min of silence: 3 min, 4.9 GB)."""
    from audio import speech

    assert 600 <= speech.EXAMINE_S <= 3600  # at least the video scans' 10 minutes
    p = write_wav(tmp_path / "long.wav", np.zeros(8000 * 8, np.float32), 8000)
    monkeypatch.setattr(speech, "EXAMINE_S", 3.0)
    speech.clear_cache()
    try:
        track = speech.speech_track(p, "energy")
    finally:
        speech.clear_cache()
    assert track.audio.duration_s == 3.0 and track.audio.stopped_at_s == 3.0


def test_the_energy_vad_measures_frames_a_chunk_at_a_time(monkeypatch):
    """All frames at once were a float64 copy of every frame, overlapping 2.5
    times: 3.4 GB for 3 hours. Chunks give the same numbers."""
    from audio import vad

    rng = np.random.default_rng(0)
    x = (rng.standard_normal(16000 * 6) * np.repeat(rng.random(6) > 0.5, 16000) * 0.1).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, 400)[::160]
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    zcr = np.mean(np.abs(np.diff(np.signbit(frames), axis=1)), axis=1)
    whole = vad.energy_vad(x, 16000)
    monkeypatch.setattr(vad, "FRAME_CHUNK", 97)
    got_rms, got_zcr = vad._frame_measures(x, 400, 160)
    assert np.array_equal(got_rms, rms) and np.array_equal(got_zcr, zcr)
    assert vad.energy_vad(x, 16000) == whole and whole
