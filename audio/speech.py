"""A file's decoded audio and where its speech is, computed once per file.

The voice-clone and lip-sync detectors run one after the other on the same
stored file and both need the 16 kHz track and its speech segments; decoding
and running the VAD once (memoised on path, mtime, size and VAD back end)
keeps a full ``verify`` from paying for them twice. Only the latest file is
kept, and only its first ``EXAMINE_S`` seconds are read (see there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from audio.decode import DEFAULT_MAX_DURATION_S, AudioDecodeError, DecodedAudio, decode_audio
from audio.vad import Backend, VadResult, detect_speech, energy_vad


@dataclass(frozen=True)
class SpeechTrack:
    audio: DecodedAudio  # mono float32 at 16 kHz
    vad: VadResult


# Time guard: the speech detectors examine the first 30 minutes of audio, and
# their findings say so (``DecodedAudio.reading_clause``), as the video scans
# do after 10 minutes. Without it a 2 MB FLAC of 2 h 55 min of silence took
# 3 min 14 s and 4.9 GB in ``verify --detectors voice_clone`` (the Silero VAD
# over every sample; 700 MB of samples, copied several times on the way).
# Time and memory now grow with what is examined, up to ~30 s of VAD.
EXAMINE_S = 1800.0


@lru_cache(maxsize=1)
def _speech(path: str, mtime_ns: int, size: int, backend: Backend, max_duration_s: float) -> SpeechTrack:
    audio = decode_audio(path, max_duration_s=max_duration_s, examine_s=EXAMINE_S)
    return SpeechTrack(audio, detect_speech(level_for_vad(audio.samples), audio.sample_rate, backend))


# Recordings whose peak (99.9th percentile) is under VAD_QUIET (-40 dBFS) are
# brought up to VAD_PEAK for the VAD only (never for the models, whose
# calibration saw the levels they saw), by at most VAD_MAX_GAIN. The
# threshold sits below every file of the measured false-alarm sets (the
# quietest, an FSDD recording, peaks at 0.017), so their figures stand.
VAD_QUIET = 0.01
VAD_PEAK = 0.5
VAD_MAX_GAIN = 1000.0  # 60 dB: digital silence and dither stay below anything a VAD calls speech


def level_for_vad(x: np.ndarray) -> np.ndarray:
    """Speech at -66 dBFS is plain to a listener who turns the volume up, but
    both VADs called it silence (Silero found 0.0 s in the JFK clip at that
    level; the energy VAD stops at -60 dBFS), so every speech detector
    declined it: a forger only had to turn the clone down."""
    peak = float(np.percentile(np.abs(x), 99.9, overwrite_input=True)) if x.size else 0.0  # one copy, not two
    if peak <= 0.0 or peak >= VAD_QUIET:
        return x
    return (x * min(VAD_PEAK / peak, VAD_MAX_GAIN)).astype(np.float32)


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


# Sound the energy detector must find, where the Silero VAD heard too little
# speech, before a decline warns that a synthetic voice may be the cause.
UNRECOGNISED_SOUND_S = 3.0


def unrecognised_sound_note(x: np.ndarray, rate: int, vad: VadResult) -> str:
    """What a detector that declines for want of speech should add when there
    is sound: the Silero VAD is a learnt model of natural speech, and
    synthetic speech can fall outside it. In the spliced-call test
    (detectors/voice_clone/splice_eval.py) it found under 1.5 s of speech in
    19 of 23 calls wholly resynthesised by our GAN vocoder (a strong buzz at
    its 80 Hz frame rate), where the energy detector found about 35 s each.
    Scoring that sound anyway was tried and rejected for the voice model:
    noise bursts and modulated engine noise scored LLR +1.4 and +1.5 (false
    alarms) and steady tones -2.6 to -6.1 (false all-clears), the model
    being calibrated on speech only. So detectors still decline, and say what
    a listener should check."""
    if vad.backend != "silero":
        return ""
    sound_s = float(sum(seg.duration_s for seg in energy_vad(level_for_vad(x), rate)))
    if sound_s < UNRECOGNISED_SOUND_S:
        return ""
    return (f"; but {sound_s:.1f} s of sound is there that the speech detector did not recognise as speech: music, "
            "tones or noise - or a synthetic voice, since vocoder artefacts can cause this. If a listener hears "
            "speech in it, treat that as a warning sign")


def clear_cache() -> None:
    _speech.cache_clear()
