"""The blind speech-to-steady-noise estimate the voice detector gates on."""

from __future__ import annotations

import numpy as np
import pytest

from audio.noise import MAX_DB, steady_noise_snr_db
from tests.audio.helpers import voiced

RATE = 16000


def _talk() -> np.ndarray:
    """Voiced stretches with pauses between them, as speech has."""
    gap = np.zeros(RATE // 4, np.float32)
    return np.concatenate([voiced(1.0, RATE, seed=s) if i % 2 == 0 else gap for i, s in enumerate(range(12))])


def test_clean_speech_reads_the_ceiling_and_steady_noise_reads_its_level():
    x = _talk().astype(np.float64)
    assert steady_noise_snr_db(x, RATE) == MAX_DB
    rng = np.random.default_rng(0)
    est = []
    for snr in (30, 20, 10, 5):
        n = rng.standard_normal(x.size)
        y = x + n * np.sqrt(np.mean(x ** 2) / 10 ** (snr / 10))
        est.append(steady_noise_snr_db(y, RATE))
    assert est == sorted(est, reverse=True)  # more noise, lower estimate
    assert est[2] == pytest.approx(10, abs=4) and est[3] == pytest.approx(5, abs=4)


def test_too_short_has_no_estimate():
    assert steady_noise_snr_db(np.ones(100), RATE) is None
    assert steady_noise_snr_db(np.zeros(RATE), RATE) is None  # digital silence: nothing to compare
