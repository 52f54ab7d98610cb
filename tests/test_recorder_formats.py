"""Formats that phones, dictaphones, camcorders and desktop recorders write
are taken as media, probed and decoded - not refused as "not a recognised
file", as AMR voice notes, AIFF, CAF, Windows Media, MPEG program and
transport streams (camcorder .mts) and FLV were."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from audio.decode import decode_audio
from verifier.evidence import MediaKind
from verifier.media import probe, sniff, sniff_file

RATE = 16000


def _write(path: Path, fmt: str, acodec: str, arate: int, vcodec: str | None = None, options=None) -> Path:
    """One second of a 300 Hz tone (and, with ``vcodec``, 25 grey frames)."""
    tone = (0.2 * np.sin(2 * np.pi * 300 * np.arange(arate) / arate)).astype(np.float32)
    with av.open(str(path), "w", format=fmt, options=options or {}) as out:
        if vcodec:
            vs = out.add_stream(vcodec, rate=25)
            vs.width, vs.height, vs.pix_fmt = 64, 64, "yuv420p"
        aus = out.add_stream(acodec, rate=arate)
        aus.layout = "mono"
        if vcodec:
            for i in range(25):
                frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 8 * i, np.uint8), format="rgb24")
                frame.pts, frame.time_base = i, Fraction(1, 25)
                for p in vs.encode(frame):
                    out.mux(p)
            for p in vs.encode():
                out.mux(p)
        fmt_name = aus.codec_context.format.name
        res = av.AudioResampler(format=fmt_name, layout="mono", rate=arate, frame_size=aus.codec_context.frame_size or 1024)
        src = av.AudioFrame.from_ndarray(tone[None, :], format="flt", layout="mono")
        src.sample_rate = arate
        n = 0
        for r in list(res.resample(src)) + list(res.resample(None)):
            r.pts, r.time_base = n, Fraction(1, arate)
            n += r.samples
            for p in aus.encode(r):
                out.mux(p)
        for p in aus.encode():
            out.mux(p)
    return path


CASES = [
    # name, container, audio codec, rate, video codec, expected (kind, mime)
    ("note.amr", "amr", "libopencore_amrnb", 8000, None, ("audio", "audio/amr")),
    ("take.aiff", "aiff", "pcm_s16be", RATE, None, ("audio", "audio/aiff")),
    ("memo.caf", "caf", "alac", RATE, None, ("audio", "audio/x-caf")),
    ("call.wmv", "asf", "aac", RATE, "mpeg4", ("video", "video/x-ms-asf")),
    ("clip.flv", "flv", "aac", 44100, "libx264", ("video", "video/x-flv")),
    ("tape.mpg", "mpeg", "mp2", 48000, "mpeg2video", ("video", "video/mpeg")),
    ("news.ts", "mpegts", "aac", 48000, "libx264", ("video", "video/mp2t")),
]


@pytest.mark.parametrize("name,fmt,acodec,arate,vcodec,expected", CASES, ids=[c[0] for c in CASES])
def test_recorder_format_is_sniffed_probed_and_decoded(tmp_path, name, fmt, acodec, arate, vcodec, expected):
    try:
        path = _write(tmp_path / name, fmt, acodec, arate, vcodec)
    except (av.FFmpegError, ValueError) as exc:  # pragma: no cover - an encoder this PyAV build lacks
        pytest.skip(f"cannot write {name} here: {exc}")
    found = sniff_file(path)
    assert (found.kind.value, found.mime_type) == expected
    info = probe(path, found)
    assert info.probe_error is None and info.has_audio and not info.extension_mismatch
    assert info.kind == MediaKind(expected[0]) and info.has_video == bool(vcodec)
    audio = decode_audio(path, target_rate=RATE)
    assert 0.7 < audio.duration_s < 1.5 and float(np.abs(audio.samples).max()) > 0.05


def test_camcorder_m2ts_with_timestamped_packets_is_video(tmp_path):
    """AVCHD camcorders (.mts) and Blu-ray write 192-byte packets: a 4-byte
    timestamp before each 188-byte transport packet."""
    path = _write(tmp_path / "00001.mts", "mpegts", "ac3", 48000, "libx264", options={"mpegts_m2ts_mode": "1"})
    head = path.read_bytes()[:512]
    assert head[0] != 0x47 and head[4] == 0x47  # the timestamped layout, not plain TS
    assert sniff_file(path).mime_type == "video/mp2t"


def test_transport_stream_needs_sync_bytes_in_step():
    packet = bytes([0x47]) + bytes(187)
    assert sniff(packet * 3).mime_type == "video/mp2t"
    broken = bytearray(packet * 3)
    broken[188] = 0x00  # the second packet's sync byte is missing: not a transport stream
    assert sniff(bytes(broken)) is None
    assert sniff(bytes([0x47]) + bytes(63)) is None  # too short to tell
