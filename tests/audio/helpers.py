"""Signals synthesised in the tests (no binary fixtures) and paths to shared real speech."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from verifier.shared_dir import shared_dir

SHARED_AUDIO = shared_dir() / "media" / "audio"


def tone(freq: float, seconds: float, rate: int = 16000, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def voiced(seconds: float, rate: int = 16000, f0: float = 140.0, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    """A crude vowel: harmonics of f0 with a syllable-rate (4 Hz) envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28)) / k for k in range(1, 20) if f0 * k < rate / 2)
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    return (amp * x * env / np.max(np.abs(x))).astype(np.float32)


def write_wav(path: Path, x: np.ndarray, rate: int, channels: int = 1) -> Path:
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    if channels > 1:
        pcm = np.repeat(pcm[:, None], channels, axis=1).reshape(-1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def real_speech_files(limit: int = 3) -> list[Path]:
    """A few real recordings from the shared media folder, if this machine has it."""
    if not SHARED_AUDIO.is_dir():
        return []
    files = sorted(SHARED_AUDIO.glob("whisper/**/*.flac")) + sorted(SHARED_AUDIO.glob("sadtalker/**/*.wav"))
    return [f for f in files if f.is_file()][:limit]


def mux_audio(out, stream, samples: np.ndarray, layout: str, rate: int, step: int | None = None) -> None:
    """Encode (channels, n) float samples into ``stream`` of the open ``out`` in
    frames of ``step`` samples (all at once by default), then flush it."""
    import av

    samples = np.asarray(samples, np.float32)
    step = step or samples.shape[1]
    for i in range(0, samples.shape[1], step):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, i : i + step]), format="fltp", layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
