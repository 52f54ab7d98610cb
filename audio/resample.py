"""Resampling and band limiting of float32 arrays.

Polyphase resampling (scipy) is exact for the integer ratios used here
(8 <-> 16 <-> 48 kHz) and deterministic, which the corpus needs: the same
input must give the same bytes on every run.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd

import numpy as np
from scipy.signal import butter, resample_poly, sosfiltfilt


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample mono float32 ``x`` from ``rate_in`` to ``rate_out`` Hz."""
    if rate_in <= 0 or rate_out <= 0:
        raise ValueError(f"sample rates must be positive, got {rate_in} -> {rate_out}")
    x = np.asarray(x, dtype=np.float32)
    if rate_in == rate_out or x.size == 0:
        return x.copy()
    g = gcd(rate_in, rate_out)
    return resample_poly(x, rate_out // g, rate_in // g).astype(np.float32)


def telephone_band(x: np.ndarray, rate: int, low_hz: float = 300.0, high_hz: float = 3400.0) -> np.ndarray:
    """Narrow-band telephone channel: down to 8 kHz, band-pass 300-3400 Hz, back to ``rate``.

    Applied to both classes alike, it removes the high band where 8 kHz
    recordings and 16 kHz synthesis would otherwise differ trivially.
    """
    y = resample(x, rate, 8000)
    y = _filtfilt(_bandpass(low_hz, high_hz, 8000.0), y)
    y = resample(y, 8000, rate)
    n = len(x)  # odd lengths lose a sample in the 2:1 round trip; keep the input length
    return y[:n] if len(y) >= n else np.concatenate([y, np.zeros(n - len(y), np.float32)])


def wide_band(x: np.ndarray, rate: int, low_hz: float = 60.0, high_hz: float = 7600.0) -> np.ndarray:
    """16 kHz wide-band channel: band-pass 60-7600 Hz at ``rate`` (>= 16 kHz)."""
    high = min(high_hz, 0.475 * rate)
    return _filtfilt(_bandpass(low_hz, high, float(rate)), np.asarray(x, np.float32))


def _filtfilt(sos: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Zero-phase filtering that accepts any length: scipy's default edge
    padding (3 x (2 x sections + 1) samples) raises on shorter signals, e.g. a
    few-millisecond file met by `verifier eval voice` on someone's dataset."""
    if y.size == 0:
        return y.astype(np.float32)
    taps = 2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))  # scipy's default
    padlen = min(3 * taps, y.size - 1)
    return sosfiltfilt(sos, y, padlen=padlen).astype(np.float32)


def _bandpass(low_hz: float, high_hz: float, rate: float) -> np.ndarray:
    """Sixth-order Butterworth band-pass as second-order sections (a fresh copy: scipy wants it writable)."""
    return _bandpass_design(low_hz, high_hz, rate).copy()


@lru_cache(maxsize=16)
def _bandpass_design(low_hz: float, high_hz: float, rate: float) -> np.ndarray:
    """Cached because designing the filter costs about as much as filtering a 4 s
    segment, and the detector filters every speech segment with the same one."""
    return butter(6, [low_hz, high_hz], btype="bandpass", fs=rate, output="sos")
