"""A file's decoded audio and where its speech is, computed once per file.

The voice-clone and lip-sync detectors run one after the other on the same
stored file and both need the 16 kHz track and its speech segments; decoding
and running the VAD once (memoised on path, mtime, size and VAD back end)
keeps a full ``verify`` from paying for them twice. Only the latest file is
kept: a 3-hour track is 700 MB of float32.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from audio.decode import DEFAULT_MAX_DURATION_S, AudioDecodeError, DecodedAudio, decode_audio
from audio.vad import Backend, VadResult, detect_speech


@dataclass(frozen=True)
class SpeechTrack:
    audio: DecodedAudio  # mono float32 at 16 kHz
    vad: VadResult


@lru_cache(maxsize=1)
def _speech(path: str, mtime_ns: int, size: int, backend: Backend, max_duration_s: float) -> SpeechTrack:
    audio = decode_audio(path, max_duration_s=max_duration_s)
    return SpeechTrack(audio, detect_speech(audio.samples, audio.sample_rate, backend))


def speech_track(path: str | Path, backend: Backend = "auto",
                 max_duration_s: float = DEFAULT_MAX_DURATION_S) -> SpeechTrack:
    """Decoded audio and its speech segments; raises what ``decode_audio``
    raises (``AudioDecodeError`` and subclasses)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise AudioDecodeError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    return _speech(str(path), st.st_mtime_ns, st.st_size, backend, max_duration_s)


VAD_OPTION = "voice_vad"  # detector option shared by every detector that needs speech
VAD_BACKENDS = ("auto", "silero", "energy")


def vad_backend(options: dict[str, str]) -> Backend:
    """The VAD back end a ``verify`` asked for (``--option voice_vad=...``);
    ValueError with the choices for anything else."""
    backend = options.get(VAD_OPTION, "auto")
    if backend not in VAD_BACKENDS:
        raise ValueError(f"unknown {VAD_OPTION} option {backend!r} ({', '.join(VAD_BACKENDS)})")
    return backend  # type: ignore[return-value]


def clear_cache() -> None:
    _speech.cache_clear()
