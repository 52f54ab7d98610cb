"""Integrated loudness (ITU-R BS.1770, K-weighted, gated) and normalisation.

Loudness is one of the cheapest shortcuts a voice-clone detector can learn:
TTS engines and studio prompts are mastered at different levels. Both corpus
classes are normalised to the same target here, and the shortcut check later
verifies that RMS no longer separates them.

The K-weighting filters are the two biquads of BS.1770 (a +4 dB high shelf
around 1.5 kHz and a 38 Hz high-pass), designed for any sample rate with the
bilinear-transform cookbook formulas; at 48 kHz they match the coefficients
printed in the standard to about 1e-3 dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
DEFAULT_TARGET_LUFS = -23.0
MIN_FILTER_RATE = 16_000


@dataclass(frozen=True)
class Normalized:
    """Result of ``normalize_loudness``: the gain applied and why it may be
    below what the target asked (the peak ceiling)."""

    samples: np.ndarray
    measured_lufs: float
    gain_db: float
    peak_limited: bool


def _high_shelf(rate: int, gain_db: float = 4.0, fc: float = 1500.0, q: float = 1 / math.sqrt(2)):
    a = 10 ** (gain_db / 40.0)
    w0 = 2 * math.pi * fc / rate
    alpha = math.sin(w0) / (2 * q)
    cw, sa = math.cos(w0), 2 * math.sqrt(a) * alpha
    b = [a * ((a + 1) + (a - 1) * cw + sa), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - sa)]
    den = [(a + 1) - (a - 1) * cw + sa, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - sa]
    return np.array(b) / den[0], np.array(den) / den[0]


def _high_pass(rate: int, fc: float = 38.0, q: float = 0.5):
    w0 = 2 * math.pi * fc / rate
    alpha = math.sin(w0) / (2 * q)
    cw = math.cos(w0)
    b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
    den = [1 + alpha, -2 * cw, 1 - alpha]
    return np.array(b) / den[0], np.array(den) / den[0]


def k_weight(x: np.ndarray, rate: int) -> np.ndarray:
    b1, a1 = _high_shelf(rate)
    b2, a2 = _high_pass(rate)
    return lfilter(b2, a2, lfilter(b1, a1, np.asarray(x, np.float64)))


def loudness_lufs(x: np.ndarray, rate: int) -> float:
    """Gated integrated loudness in LUFS of mono ``x``; ``-inf`` for silence."""
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return float("-inf")
    if rate < MIN_FILTER_RATE:
        # the bilinear shelf drifts ~0.2 dB at 8 kHz; measure on an upsampled copy
        from audio.resample import resample

        x, rate = resample(x.astype(np.float32), rate, MIN_FILTER_RATE).astype(np.float64), MIN_FILTER_RATE
    y = k_weight(x, rate) ** 2
    block, step = int(0.4 * rate), int(0.1 * rate)
    if y.size < block:
        powers = np.array([y.mean()])
    else:
        csum = np.concatenate([[0.0], np.cumsum(y)])
        starts = np.arange(0, y.size - block + 1, step)
        powers = (csum[starts + block] - csum[starts]) / block
    with np.errstate(divide="ignore"):
        lk = -0.691 + 10 * np.log10(powers)
    gated = powers[lk > ABSOLUTE_GATE_LUFS]
    if gated.size == 0:
        return float("-inf")
    rel = -0.691 + 10 * math.log10(gated.mean()) + RELATIVE_GATE_LU
    with np.errstate(divide="ignore"):
        keep = gated[(-0.691 + 10 * np.log10(gated)) > rel]
    if keep.size == 0:
        return float("-inf")
    return float(-0.691 + 10 * math.log10(keep.mean()))


def normalize_loudness(
    x: np.ndarray, rate: int, target_lufs: float = DEFAULT_TARGET_LUFS, peak_ceiling: float = 0.99
) -> Normalized:
    """Scale ``x`` to ``target_lufs``, never letting the peak pass ``peak_ceiling``.

    Silence (no block above the absolute gate) is returned unchanged with a
    gain of 0 dB: amplifying noise to speech level would invent a signal.
    """
    x = np.asarray(x, np.float32)
    measured = loudness_lufs(x, rate)
    if not math.isfinite(measured):
        return Normalized(x.copy(), measured, 0.0, False)
    gain_db = target_lufs - measured
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    limited = False
    if peak > 0 and peak * 10 ** (gain_db / 20) > peak_ceiling:
        gain_db = 20 * math.log10(peak_ceiling / peak)
        limited = True
    return Normalized((x * 10 ** (gain_db / 20)).astype(np.float32), measured, float(gain_db), limited)
