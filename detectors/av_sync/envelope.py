"""Speech envelope at the video frame rate.

The mouth moves with the syllabic energy of speech, which lives in the
300-3000 Hz band (formants; below is voicing hum and room rumble, above is
fricative noise the lips barely show). We band-limit, take the mean energy
over each video frame's display interval, in log units, so a frame of the
audio envelope lines up with a frame of mouth motion.

Audio and video streams may start at different container times; the offset
between their start times is applied here, so a file whose audio is delayed by
an edit list reads as delayed, just as a player would play it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from scipy.signal import butter, sosfiltfilt

from audio.decode import AudioDecodeError, NoAudioStreamError, best_stream, decode_audio, open_media
from audio.vad import SpeechSegment

RATE = 16_000
BAND_HZ = (300.0, 3000.0)

__all__ = ["AudioDecodeError", "NoAudioStreamError", "SpeechEnvelope", "load_audio", "speech_envelope", "stream_start_gap"]


@dataclass(frozen=True)
class SpeechEnvelope:
    """log10 band energy per video frame and a speech-activity mask."""

    log_energy: np.ndarray
    active: np.ndarray  # bool per frame: energy well above the noise floor
    fps: float

    @property
    def speech_seconds(self) -> float:
        return float(self.active.sum()) / self.fps


def stream_start_gap(path: str | Path) -> float:
    """Audio start minus video start, in seconds (0 when unknown)."""
    try:
        with open_media(path) as c:
            v = best_stream(c, "video")
            a = best_stream(c, "audio")
            if v is None or a is None or v.start_time is None or a.start_time is None:
                return 0.0
            return float(a.start_time * a.time_base) - float(v.start_time * v.time_base)
    except (av.error.FFmpegError, OSError):
        return 0.0


def load_audio(path: str | Path, max_duration_s: float = 3 * 3600.0) -> np.ndarray:
    """Mono float32 at 16 kHz (the shared ``audio.decode`` path)."""
    return decode_audio(path, target_rate=RATE, max_duration_s=max_duration_s).samples


_SOS = butter(4, BAND_HZ, btype="band", fs=RATE, output="sos")


def speech_envelope(samples: np.ndarray, frame_times: np.ndarray, fps: float, start_gap_s: float = 0.0,
                    speech: Sequence[SpeechSegment] | None = None) -> SpeechEnvelope:
    """Envelope sampled at ``frame_times`` (seconds from the first video frame).
    Frames with no audio under them get the noise floor.

    ``speech``: segments from a voice activity detector (seconds in the
    audio). When given, they decide which frames are speech, instead of the
    energy threshold: music and noise are loud too, and a mouth does not
    follow them."""
    y = sosfiltfilt(_SOS, samples.astype(np.float64)) ** 2 if samples.size > 27 else np.zeros(samples.size)
    csum = np.concatenate([[0.0], np.cumsum(y)])
    hop = 1.0 / fps
    i0 = np.clip(np.round((frame_times - start_gap_s) * RATE).astype(np.int64), 0, y.size)
    i1 = np.clip(np.round((frame_times - start_gap_s + hop) * RATE).astype(np.int64), 0, y.size)
    n = np.maximum(i1 - i0, 1)
    energy = (csum[i1] - csum[i0]) / n
    has = i1 > i0
    floor = np.percentile(energy[has], 5) if has.any() else 0.0
    energy = np.where(has, energy, floor)
    log_e = np.log10(energy + 1e-10)
    # Active: the VAD's speech, or without one >= 12 dB over the 10th
    # percentile; never digital silence.
    if speech is not None:
        heard = speech_mask(speech, frame_times - start_gap_s, fps)
    else:
        heard = log_e > np.percentile(log_e, 10) + 1.2
    return SpeechEnvelope(log_energy=log_e, active=heard & (log_e > -7.0), fps=fps)


def speech_mask(segments: Sequence[SpeechSegment], audio_times: np.ndarray, fps: float) -> np.ndarray:
    """True for frames whose display interval [t, t + 1/fps) overlaps a segment."""
    out = np.zeros(audio_times.size, dtype=bool)
    for seg in segments:
        out |= (audio_times + 1.0 / fps > seg.start_s) & (audio_times < seg.end_s)
    return out
