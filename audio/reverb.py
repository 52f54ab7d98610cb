"""How fast sound dies away in a recording: a blind sign of room reverberation.

A room keeps sound alive after the talker stops: in an office (RT60 0.4 s)
the reverberant tail falls about 150 dB per second, so no sound can fall
faster than that once the direct sound has stopped. Dry speech (a headset,
a studio, a handset close to the mouth) falls 30-90 dB within 0.12 s at the
ends of syllables. The steepest falls in a recording therefore bound its
reverberation without knowing what was said (the idea behind blind RT60
estimators, which fit the decays; here only the steepest fall is read).

Measured on the speaker corpus (184 utterances as calls, a fresh impulse
response per call, ``detectors.speaker.evaluate``; 1st-99th percentile):
its clean speech read 31-68 dB (joined VAD-cut speech; its recordings read
whole, with their pauses and noise floor, are dry in 72 % of utterances: a
reading needs ~35 dB between speech and noise floor, and FSDD takes with a
floor ~30 dB down read 29-33 dB); the same speech through synthetic rooms of
RT60 0.4 s with the direct sound 10, 5 or 0 dB above the reverberation
22-32 dB; RT60 0.8 s (direct +5, 0 dB) 16-23 dB; RT60 1.0 s at +15 dB
23-30 dB. Short, mild rooms overlap dry speech: RT60 0.2 s at +10 dB reads
29-44 dB.

Only falls between frames that both hold sound (within ``ACTIVE_BELOW_DB``
of the loudest) count: a noise gate or echo canceller that cuts a
reverberant tail to digital silence would otherwise make a room read dry
(measured: a gate at -25 dB did exactly that when falls into silence
counted; with this rule the gated calls read as without a gate).
"""

from __future__ import annotations

import numpy as np

BAND_HZ = (300.0, 3400.0)  # the telephone band: the same reading for wide- and narrow-band audio
N_BANDS = 16
FRAME_S = 0.025
HOP_S = 0.010
LAG_S = 0.12  # the fall is read over this long
ACTIVE_BELOW_DB = 50.0  # a frame holds sound when within this of the loudest (99.5th percentile)
QUANTILE = 99.0  # "steepest": this percentile of all falls
MIN_FALLS = 400  # fewer falls (about half a second of speech) give no reading
CHUNK_FRAMES = 6000  # spectra a minute at a time: two hours whole would take ~1.5 GB


def _band_levels_db(x: np.ndarray, rate: int) -> np.ndarray:
    """(frames, N_BANDS) levels in dB of triangular mel bands over BAND_HZ."""
    from librosa.filters import mel

    win, hop = int(round(FRAME_S * rate)), int(round(HOP_S * rate))
    n_fft = 1 << (win - 1).bit_length()
    fb = mel(sr=rate, n_fft=n_fft, n_mels=N_BANDS, fmin=BAND_HZ[0], fmax=min(BAND_HZ[1], rate / 2)).astype(np.float32)
    n_frames = 1 + (x.size - win) // hop if x.size >= win else 0
    window = np.hanning(win).astype(np.float32)
    out = np.empty((n_frames, N_BANDS), np.float32)
    for a in range(0, n_frames, CHUNK_FRAMES):
        b = min(n_frames, a + CHUNK_FRAMES)
        seg = x[a * hop: (b - 1) * hop + win]
        frames = np.lib.stride_tricks.sliding_window_view(seg, win)[::hop] * window
        power = np.abs(np.fft.rfft(frames, n_fft, axis=1)) ** 2
        out[a:b] = 10 * np.log10(power @ fb.T + 1e-10)
    return out


def steepest_decay_db(x: np.ndarray, rate: int) -> float | None:
    """The fall in level (dB) over ``LAG_S`` at the steepest ``QUANTILE`` of
    falls, read in ``N_BANDS`` bands from frames above their band's median
    level. High (about 34 dB and more): dry. Low: a room. ``None``
    when the audio holds too little sound to read."""
    x = np.asarray(x, np.float32)
    if x.ndim != 1 or rate <= 0:
        raise ValueError("steepest_decay_db needs mono samples and a positive rate")
    levels = _band_levels_db(x, rate)
    lag = int(round(LAG_S / HOP_S))
    if levels.shape[0] <= lag:
        return None
    total = 10 * np.log10(np.sum(10 ** (levels.astype(np.float64) / 10), axis=1) + 1e-10)
    active = total > np.percentile(total, 99.5) - ACTIVE_BELOW_DB
    if active.sum() <= lag:
        return None
    median = np.median(levels[active], axis=0)
    start, end = levels[:-lag], levels[lag:]
    use = (start > median) & active[:-lag, None] & active[lag:, None]
    falls = (start - end)[use]
    if falls.size < MIN_FALLS:
        return None
    return float(np.percentile(falls, QUANTILE))


def synthetic_room(rt60: float, drr_db: float, rng: np.random.Generator, rate: int = 16000) -> np.ndarray:
    """A room impulse response: the direct sound, then exponentially decaying
    noise (``rt60``: 60 dB decay time) with ``drr_db`` less energy. Late
    reverberation is close to such noise in real rooms; early reflections
    are not modelled. Used to measure what rooms do to the detectors."""
    n = int(rt60 * rate)
    tail = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / rate / rt60)
    tail[0] = 0.0
    tail *= np.sqrt(1.0 / float(np.sum(tail ** 2)) / 10 ** (drr_db / 10))
    tail[0] = 1.0
    return tail / np.sqrt(float(np.sum(tail ** 2)))
