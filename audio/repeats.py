"""Stretches of audio that occur twice: a recording replayed into another.

An impostor who has a few seconds of the real person (a voicemail greeting, a
public talk) can play them into a voice note, several times over, so that the
real voice holds enough of the speech to be "one of the voices heard" and to
match an identity claim. People do not say the same thing twice with the same
spectrum frame by frame; a replayed recording does, down to the timing of
every syllable, even through a codec.

A spectral match alone is not enough: the same person reading the same
digits again matches frame by frame nearly as well (FSDD speakers saying each
digit five times: mean log-mel cosine 0.90-0.98 over 1.5 s, against 0.94-0.99
for replays). What a person cannot repeat is the waveform: the phase of every
harmonic. So stretches whose log-mel frames match along one lag (a run of
``RUN_S`` with mean cosine >= ``MEL_CANDIDATE``, at least ``MIN_LAG_S``
apart) are candidates, and a candidate is a repeat when the waveforms
themselves correlate: normalised cross-correlation >= ``REPEAT_CORRELATION``
at the best shift within one frame.

A third red-team round (session 24) kept the sound and changed the waveform:
each copy played 0.1 % faster, or with its phase turned by 90 degrees. So a
candidate whose waveform does not correlate is also a repeat when its fine
spectral detail does (session 26): the log spectrum in 64 ms frames, less its
140 Hz average, holds the exact position of every harmonic and the grain of
the noise between them; a replay keeps both through a speed change of a few
tenths of a per cent, a phase turn or an all-pass filter, and a person saying
the same words again moves both. Mean frame cosine >= ``DETAIL_REPEAT``.
Threshold and figures: ``python -m audio.repeats_eval`` (its docstring).

What it does not catch: a copy played about 1 % faster or slower (its
harmonics move by a bin: detail 0.2 on babble); pieces shorter than
``RUN_S`` replayed in varied order; copies after the first
``MAX_EXAMINED_S`` of speech; copies pushed out of the ``MAX_CANDIDATES``
shortlist by stronger spectral look-alikes. It finds careless replays and
some careful ones, not a forger who knows it is there.

Cost: the frame similarity matrix of at most ``MAX_EXAMINED_S`` of speech
(4,500 frames: 81 MB in float32), one pass per lag, and one short
correlation per candidate (at most ``MAX_CANDIDATES``), and, when a waveform
does not correlate, one fine spectrogram of the examined speech (90 s: 18,000
frames, about 0.2 GB while it is computed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from audio.features import MelConfig, StftConfig, log_mel, power_spectrogram

RATE = 16_000
HOP = 320  # 20 ms
MEL = MelConfig(stft=StftConfig(n_fft=1024, win_length=640, hop_length=HOP), n_mels=64)
MIN_LAG_S = 0.5
RUN_S = 1.5
MEL_CANDIDATE = 0.85
REPEAT_CORRELATION = 0.8
MAX_CANDIDATES = 64
MAX_EXAMINED_S = 90.0
# The fine spectral detail: 64 ms frames resolve each harmonic, 5 ms apart; what
# is left of the log spectrum once its 9-bin (140 Hz) average is taken away, in
# 100-4000 Hz, where within DETAIL_FLOOR_DB of the frame's strongest band.
DETAIL = StftConfig(n_fft=1024, win_length=1024, hop_length=80)
DETAIL_BAND_HZ = (100.0, 4000.0)
DETAIL_SMOOTH_BINS = 9
DETAIL_FLOOR_DB = 30.0
DETAIL_REPEAT = 0.5


@dataclass(frozen=True)
class Repeat:
    """``start_s``..``end_s`` repeats the audio ``lag_s`` earlier (times in the samples given)."""

    start_s: float
    end_s: float
    lag_s: float
    similarity: float  # waveform correlation
    detail: float = 0.0  # fine spectral detail similarity (``_detail_similarity``), when the waveform missed


def _frames(x: np.ndarray) -> np.ndarray:
    m = log_mel(np.asarray(x, np.float32), RATE, MEL)
    if m.shape[0] == MEL.n_mels and m.shape[1] != MEL.n_mels:
        m = m.T
    m = m - m.mean(axis=1, keepdims=True)  # spectral shape, not loudness
    return (m / (np.linalg.norm(m, axis=1, keepdims=True) + 1e-9)).astype(np.float32)


def strongest_repeat(x: np.ndarray) -> tuple[float, float]:
    """The highest waveform correlation and the highest fine-detail similarity of any spectral
    candidate (0 when none): the statistics measured."""
    found = _verified(np.asarray(x, np.float32))
    return max((r.similarity for r in found), default=0.0), max((r.detail for r in found), default=0.0)


def find_repeats(x: np.ndarray, threshold: float = REPEAT_CORRELATION) -> list[Repeat]:
    """Stretches of ``x`` (16 kHz mono) that repeat earlier audio, merged (the later copy is reported)."""
    runs = sorted((r for r in _verified(np.asarray(x, np.float32)) if r.similarity >= threshold or r.detail >= DETAIL_REPEAT),
                  key=lambda r: r.start_s)
    merged: list[Repeat] = []
    for r in runs:
        if merged and r.start_s <= merged[-1].end_s:
            last = merged[-1]
            merged[-1] = Repeat(last.start_s, max(last.end_s, r.end_s), last.lag_s, max(last.similarity, r.similarity),
                                max(last.detail, r.detail))
        else:
            merged.append(r)
    return merged


def repeated_seconds(repeats: list[Repeat]) -> float:
    return sum(r.end_s - r.start_s for r in repeats)


@dataclass(frozen=True)
class _Candidate:
    lag: int  # frames
    best: int  # frame where the best run starts
    first: int
    last: int  # frames where qualifying runs start
    mel: float


def _candidates(x: np.ndarray) -> list[_Candidate]:
    """Per lag, each stretch where the ``RUN_S`` mean log-mel cosine stays >= ``MEL_CANDIDATE``; the strongest kept."""
    f = _frames(x)
    n = len(f)
    run = int(round(RUN_S * RATE / HOP))
    lag0 = int(round(MIN_LAG_S * RATE / HOP))
    if n < lag0 + run:
        return []
    sim = f @ f.T
    out: list[_Candidate] = []
    for lag in range(lag0, n - run + 1):
        d = np.diagonal(sim, lag)  # frame i against frame i + lag
        c = np.cumsum(np.concatenate([[0.0], d]))
        mean = (c[run:] - c[:-run]) / run  # the run starting at frame i
        idx = np.flatnonzero(mean >= MEL_CANDIDATE)
        if not idx.size:
            continue
        breaks = np.flatnonzero(np.diff(idx) > 1)
        for a, b in zip(np.r_[0, breaks + 1], np.r_[breaks, len(idx) - 1]):
            i0, i1 = int(idx[a]), int(idx[b])
            best = i0 + int(np.argmax(mean[i0:i1 + 1]))
            out.append(_Candidate(lag, best, i0, i1, float(mean[best])))
    return sorted(out, key=lambda c: -c.mel)[:MAX_CANDIDATES]


def _correlation(x: np.ndarray, start: int, lag: int, width: int) -> tuple[float, int]:
    """Best normalised cross-correlation of ``x[start:start+width]`` with the audio ``lag`` samples
    later, shifted by up to one frame either way (a replay need not fall on the frame grid), and
    the exact lag in samples it was found at."""
    a = x[start:start + width].astype(np.float64)
    lo, hi = start + lag - HOP, start + lag + width + HOP
    if lo < 0 or hi > len(x) or len(a) < width:
        return 0.0, lag
    b = x[lo:hi].astype(np.float64)
    # by FFT: np.correlate runs one BLAS dot product per shift, which a busy machine's
    # BLAS threads slowed 180-fold (41.7 s for one file under load; red team, session 24)
    num = fftconvolve(b, a[::-1], mode="valid")
    e = np.cumsum(np.concatenate([[0.0], b * b]))
    eb = e[width:] - e[:-width]
    # magnitude: a copy played with its polarity flipped is the same recording
    ncc = np.abs(num) / np.sqrt(np.maximum(eb, 1e-20) * max(float(a @ a), 1e-20))
    k = int(np.argmax(ncc))
    return float(ncc[k]), lag - HOP + k


def _ncc_at(x: np.ndarray, start: int, lag: int, width: int) -> float:
    if start < 0 or start + lag + width > len(x):
        return 0.0
    a, b = x[start:start + width].astype(np.float64), x[start + lag:start + lag + width].astype(np.float64)
    return abs(float(a @ b)) / np.sqrt(max(float(a @ a) * float(b @ b), 1e-20))


def _detail(x: np.ndarray) -> np.ndarray:
    """Unit vectors, one per ``DETAIL`` frame of ``x``, of the log spectrum's fine structure (see
    ``DETAIL``), less its mean over the whole audio: a steady tone or hum is the same line in every
    frame and would make any two stretches alike."""
    from scipy.ndimage import uniform_filter1d

    p = power_spectrogram(x, DETAIL)
    lo, hi = (int(f * DETAIL.n_fft / RATE) for f in DETAIL_BAND_HZ)
    log = 10 * np.log10(p[:, lo:hi].astype(np.float64) + 1e-12)
    smooth = uniform_filter1d(log, DETAIL_SMOOTH_BINS, axis=1)
    d = np.where(smooth >= smooth.max(axis=1, keepdims=True) - DETAIL_FLOOR_DB, log - smooth, 0.0)
    d -= d.mean(axis=0, keepdims=True)
    d -= d.mean(axis=1, keepdims=True)
    return (d / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-9)).astype(np.float32)


def _detail_similarity(detail: np.ndarray, start: int, lag: int, width: int) -> float:
    """Mean frame cosine of the fine spectral detail (``_detail`` of the whole audio) of
    ``width`` samples from ``start`` and of the audio ``lag`` samples later, at the best shift
    within one frame either way.

    The waveform correlation is lost to a copy played 0.1 % faster or with its phase turned
    (red team, session 24); the harmonics' exact positions and the grain of the noise between
    them are not, and a person saying the same words again moves both."""
    h = DETAIL.hop_length
    a0, n, b0, reach = start // h, width // h, (start + lag) // h, HOP // h
    if a0 < 0 or b0 - reach < 0 or b0 + n + reach > len(detail) or n == 0:
        return 0.0
    a = detail[a0:a0 + n]
    return max(float(np.mean(np.einsum("ij,ij->i", a, detail[b0 + k:b0 + k + n]))) for k in range(-reach, reach + 1))


def _extent(x: np.ndarray, start: int, lag: int, width: int, detail: np.ndarray | None = None) -> tuple[int, int]:
    """Grow the verified window a quarter second at a time while the audio still repeats at
    ``lag`` (by the waveform, or by ``detail`` when given): the spectral run around a repeat can
    be far longer than the repeat."""
    q = RATE // 4

    def repeats(at: int) -> bool:
        if detail is not None:
            return _detail_similarity(detail, at, lag, q) >= DETAIL_REPEAT
        return _ncc_at(x, at, lag, q) >= REPEAT_CORRELATION
    lo, hi = start, start + width
    while lo - q >= 0 and repeats(lo - q):
        lo -= q
    while hi + lag + q <= len(x) and repeats(hi):
        hi += q
    return lo, hi


def _verified(x: np.ndarray) -> list[Repeat]:
    x = x[: int(MAX_EXAMINED_S * RATE)]
    width = int(round(RUN_S * RATE))
    out = []
    detail = None
    for c in _candidates(x):
        start = c.best * HOP
        r, lag = _correlation(x, start, c.lag * HOP, width)
        d = 0.0
        if r < REPEAT_CORRELATION:
            detail = _detail(x) if detail is None else detail
            d = _detail_similarity(detail, start, c.lag * HOP, width)
        if r >= REPEAT_CORRELATION:
            lo, hi = _extent(x, start, lag, width)
        elif d >= DETAIL_REPEAT:
            lo, hi = _extent(x, start, lag, width, detail)
        else:
            lo, hi = start, start + width
        out.append(Repeat((lo + lag) / RATE, (hi + lag) / RATE, lag / RATE, r, d))
    return out


__all__ = ["Repeat", "find_repeats", "repeated_seconds", "strongest_repeat"]
