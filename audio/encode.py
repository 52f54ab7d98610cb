"""Encode mono float32 audio with PyAV, in process: files and codec round trips.

The corpus builder passes both classes through the same lossy codecs
(telephone G.711 and GSM, MP3, AAC, Opus) so that a detector cannot tell the
classes apart by compression history. Doing it with PyAV keeps that step free
of external binaries and identical on every machine.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from audio.resample import resample


class AudioEncodeError(RuntimeError):
    """PyAV/FFmpeg could not encode with the requested codec."""


@dataclass(frozen=True)
class CodecSpec:
    """How to write one codec: container, FFmpeg encoder, the rate it runs at."""

    name: str
    container: str
    encoder: str
    rate: int | None  # None: keep the input rate
    bit_rate: int | None = None
    sample_format: str = "s16"


_FIXED_FRAME = {"libopencore_amrnb", "g726"}

CODECS: dict[str, CodecSpec] = {
    "wav": CodecSpec("wav", "wav", "pcm_s16le", None),
    "flac": CodecSpec("flac", "flac", "flac", None),
    "mulaw": CodecSpec("mulaw", "wav", "pcm_mulaw", 8000),
    "alaw": CodecSpec("alaw", "wav", "pcm_alaw", 8000),
    # FFmpeg has no GSM 06.10 encoder without libgsm; AMR-NB and G.726 are
    # the mobile and ADPCM telephone codecs it does encode.
    "amr": CodecSpec("amr", "amr", "libopencore_amrnb", 8000, 12_200),
    "g726": CodecSpec("g726", "wav", "g726", 8000, 32_000),
    "mp3": CodecSpec("mp3", "mp3", "libmp3lame", 16000, 32_000, "s16p"),
    "aac": CodecSpec("aac", "adts", "aac", 16000, 32_000, "fltp"),
    "opus": CodecSpec("opus", "ogg", "libopus", 16000, 16_000, "s16"),
}


def _encode_to(target: str | io.BytesIO, samples: np.ndarray, rate: int, spec: CodecSpec) -> None:
    x = np.asarray(samples, dtype=np.float32)
    out_rate = spec.rate or rate
    if out_rate != rate:
        x = resample(x, rate, out_rate)
    x = np.clip(x, -1.0, 1.0)
    try:
        with av.open(target, mode="w", format=spec.container) as container:
            stream = container.add_stream(spec.encoder, rate=out_rate)
            stream.layout = "mono"
            stream.format = spec.sample_format
            if spec.bit_rate:
                stream.bit_rate = spec.bit_rate
            frame_size = stream.codec_context.frame_size or 1024
            pcm = (x * 32767.0).round().astype(np.int16)
            pad = (-len(pcm)) % frame_size if spec.encoder in _FIXED_FRAME else 0
            if pad:
                pcm = np.concatenate([pcm, np.zeros(pad, np.int16)])
            pts = 0
            for start in range(0, len(pcm), frame_size):
                chunk = pcm[start : start + frame_size]
                frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
                frame.sample_rate = out_rate
                frame.pts = pts
                pts += chunk.size
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
    except (av.error.FFmpegError, ValueError) as exc:
        raise AudioEncodeError(
            f"cannot encode with {spec.name} ({spec.encoder} in {spec.container}): {exc}; "
            "check that this FFmpeg build of PyAV has the encoder"
        ) from exc


def write_audio(path: str | Path, samples: np.ndarray, rate: int, codec: str = "wav") -> Path:
    """Write ``samples`` (mono float32 at ``rate``) to ``path`` with ``codec``."""
    spec = _spec(codec)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _encode_to(str(path), samples, rate, spec)
    return path


def codec_roundtrip(samples: np.ndarray, rate: int, codec: str) -> np.ndarray:
    """Encode then decode in memory; returns float32 at ``rate`` and the same length.

    Codec delay and padding are removed by cross-correlating a short span, so
    the output stays time-aligned with the input (segment labels stay valid).
    """
    spec = _spec(codec)
    buf = io.BytesIO()
    _encode_to(buf, samples, rate, spec)
    buf.seek(0)
    chunks: list[np.ndarray] = []
    with av.open(buf, mode="r", format=spec.container) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in container.decode(stream):
            frame.pts = None
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    y = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return _align(np.asarray(samples, np.float32), y)


def _align(ref: np.ndarray, y: np.ndarray, max_lag: int = 4096) -> np.ndarray:
    n = len(ref)
    if len(y) == 0:
        return np.zeros(n, np.float32)
    span = min(n, 32_000)
    lags = range(0, min(max_lag, max(0, len(y) - 1)) + 1)
    r = ref[:span]

    def search(candidates, best_lag: int, best: float) -> tuple[int, float]:
        for lag in candidates:
            seg = y[lag : lag + span]
            if len(seg) < span:
                break
            c = float(np.dot(r, seg))
            if c > best:
                best, best_lag = c, lag
        return best_lag, best

    best_lag, best = search(lags[::8], 0, -np.inf)  # coarse, then refine around the peak
    best_lag, best = search(range(max(0, best_lag - 8), best_lag + 9), best_lag, best)
    out = y[best_lag : best_lag + n]
    if len(out) < n:
        out = np.concatenate([out, np.zeros(n - len(out), np.float32)])
    return out.astype(np.float32)


def _spec(codec: str) -> CodecSpec:
    try:
        return CODECS[codec]
    except KeyError:
        raise AudioEncodeError(f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}") from None
