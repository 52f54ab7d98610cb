"""The speech of a file, with silence removed, ready to embed.

Enrolment and verification go through this one function so a reference and
a questioned file see the same decoder, resampler and voice activity
detector: a difference here would move the score distributions the
calibration was measured on. Silence and music gaps are cut because the
encoder averages over everything it is given; a long pause would pull the
embedding towards "silence", which every speaker shares.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from audio.decode import TARGET_RATE, decode_audio
from audio.noise import spectral_subtraction, steady_noise_snr_db
from audio.reverb import steepest_decay_db
from audio.speech import level_for_vad
from audio.vad import SpeechSegment, detect_speech

MAX_DURATION_S = 2 * 3600.0
# Steady background noise moves the voice encoder's embedding far from the
# speaker's: on the speaker corpus, noise at 10 dB SNR put 80 % of genuine
# same-speaker trials at LLR >= 1 ("not the claimed speaker"), at 20 dB
# 5.5 %. Below this estimated ratio (``audio.noise``; clean recordings mostly
# read 25-45 dB) the audio is denoised by spectral subtraction before voice
# activity detection and embedding, for enrolment and verification alike.
# Measured in ``evaluate.py`` (``steady_noise``, ``heldout_degraded_conditions``).
DENOISE_BELOW_DB = 25.0
SUBTRACT_OVER = 2.0  # spectral subtraction: noise subtracted this many times ...
SUBTRACT_FLOOR = 0.05  # ... with the gain floored here
# Speech whose sound falls at least this far within 0.12 s at its steepest
# (``audio.reverb``) is dry: no room reverberation worth the name. The
# speaker check then uses the calibration fit on clean recordings, which
# gives stronger evidence against impostors than the one that allows for
# rooms and noise. Measured on the speaker corpus (184 utterances): the
# recordings of 72 % of them, read whole, read 34 dB or more (FSDD takes
# 33 %: a noise floor ~30 dB under the speech limits the falls); the same
# speech as calls through rooms of RT60 0.4 s (direct sound 0-10 dB over the
# reverberation, a fresh impulse response per call) did in 1 call of 552
# (34.8 dB), through RT60 0.8-1.0 s rooms none read above 31 dB. Rooms of
# RT60 0.2-0.25 s read dry in 26-66 % of calls; their genuine speakers read
# LLR >= 1 in at most 0.7 %.
DRY_DECAY_DB = 34.0


def reads_dry(decay_db: float | None, denoised: bool) -> bool:
    """The one dryness rule, for calls (``Speech.dry``) and stored references alike."""
    return not denoised and decay_db is not None and decay_db >= DRY_DECAY_DB


@dataclass(frozen=True)
class Speech:
    """Speech-only samples (segments concatenated) and where they came from."""

    samples: np.ndarray  # mono float32 at ``rate``
    rate: int
    segments: tuple[SpeechSegment, ...]  # in the file's time
    vad_backend: str
    file_duration_s: float
    snr_db: float | None = None  # estimated speech-to-steady-noise ratio of the whole audio
    denoised: bool = False  # spectral subtraction was applied (snr_db < DENOISE_BELOW_DB)
    decay_db: float | None = None  # steepest fall of the sound in 0.12 s (``audio.reverb``), before denoising
    reading_clause: str = ""  # ``DecodedAudio.reading_clause``: how the file's audio was read, if not plainly

    @property
    def dry(self) -> bool:
        """Neither room reverberation (read from ``decay_db``) nor noise removal: a clean recording."""
        return reads_dry(self.decay_db, self.denoised)

    @property
    def seconds(self) -> float:
        return len(self.samples) / float(self.rate)

    def file_time(self, t: float) -> float:
        """Map a time in the concatenated speech back to the file's timeline."""
        acc = 0.0
        for s in self.segments:
            if t <= acc + s.duration_s:
                return s.start_s + (t - acc)
            acc += s.duration_s
        return self.segments[-1].end_s if self.segments else 0.0


def speech_of_samples(x: np.ndarray, rate: int = TARGET_RATE, vad_backend: str = "auto") -> Speech:
    x = np.asarray(x, np.float32)
    snr = steady_noise_snr_db(x, rate)
    decay = steepest_decay_db(x, rate)
    denoised = snr is not None and snr < DENOISE_BELOW_DB
    if denoised:
        x = spectral_subtraction(x, rate, SUBTRACT_OVER, SUBTRACT_FLOOR).astype(np.float32)
    vad = detect_speech(level_for_vad(x), rate, backend=vad_backend)  # type: ignore[arg-type]
    parts, segs = [], []
    for s in vad.segments:
        a, b = max(0, int(s.start_s * rate)), min(len(x), int(s.end_s * rate))
        if b > a:
            parts.append(x[a:b])
            segs.append(SpeechSegment(a / rate, b / rate))
    samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return Speech(samples, rate, tuple(segs), vad.backend, len(x) / float(rate), snr, denoised, decay)


def speech_of_file(path: str | Path, vad_backend: str = "auto") -> Speech:
    """Decode ``path`` (any audio or video PyAV reads) to 16 kHz mono and keep its speech.

    Raises ``audio.decode.AudioDecodeError`` (or its ``NoAudioStreamError``)
    when there is no decodable audio.
    """
    dec = decode_audio(path, target_rate=TARGET_RATE, max_duration_s=MAX_DURATION_S)
    return replace(speech_of_samples(dec.samples, dec.sample_rate, vad_backend), reading_clause=dec.reading_clause)
