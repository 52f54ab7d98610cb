"""The blind speech-to-steady-noise estimate the voice detector gates on."""

from __future__ import annotations

import numpy as np
import pytest

from audio.noise import MAX_DB, spectral_subtraction, steady_noise_snr_db, with_steady_noise
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


def test_long_audio_is_denoised_a_minute_at_a_time_with_the_whole_file_result():
    """Chunking (for memory: whole, two hours took about 12 GB) changes nothing
    but rounding: a 150 s signal gives what one whole-file spectrum gives."""
    from scipy.signal import istft, stft

    from audio.noise import NOISE_QUANTILE

    rate = 8000
    rng = np.random.default_rng(4)
    t = np.arange(150 * rate) / rate
    x = rng.standard_normal(t.size) * (0.2 + np.abs(np.sin(3 * t)))
    nper = int(0.032 * rate)
    _, _, spec = stft(x, rate, nperseg=nper)
    power = np.abs(spec) ** 2
    energy = power.sum(axis=0)
    noise = power[:, energy <= np.percentile(energy, NOISE_QUANTILE)].mean(axis=1, keepdims=True)
    _, whole = istft(spec * np.maximum(1.0 - 2.0 * noise / (power + 1e-12), 0.05), rate, nperseg=nper)
    np.testing.assert_allclose(spectral_subtraction(x, rate), whole[: x.size], atol=1e-9)


def test_noise_is_added_at_the_stated_snr():
    rng = np.random.default_rng(0)
    x = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000)
    for snr in (20, 10, 5):
        n = with_steady_noise(x, snr, rng) - x
        assert 10 * np.log10(np.mean(x ** 2) / np.mean(n ** 2)) == pytest.approx(snr, abs=0.01)


def test_suppressor_removes_steady_noise_and_keeps_the_tone():
    rng = np.random.default_rng(1)
    rate = 16000
    t = np.arange(2 * rate) / rate
    tone = np.where(t > 1.0, 0.5 * np.sin(2 * np.pi * 440 * t), 0.0)  # silence, then a tone
    noisy = with_steady_noise(tone, 10, rng)
    y = spectral_subtraction(noisy, rate)
    assert y.size == noisy.size
    quiet = slice(2000, rate - 2000)  # the first second: noise only
    assert np.mean(y[quiet] ** 2) < 0.2 * np.mean(noisy[quiet] ** 2)  # about 10 dB down
    loud = slice(rate + 2000, 2 * rate - 2000)
    assert np.mean(y[loud] ** 2) > 0.7 * np.mean(tone[loud] ** 2)
