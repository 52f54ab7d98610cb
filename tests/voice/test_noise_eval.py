"""The noise-robustness measurement makes the conditions it names."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.voice_clone.noise_eval import CONDITIONS, add_noise, conditions, suppress


def test_noise_is_added_at_the_stated_snr():
    rng = np.random.default_rng(0)
    x = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000)
    for snr in (20, 10, 5):
        n = add_noise(x, snr, rng) - x
        assert 10 * np.log10(np.mean(x ** 2) / np.mean(n ** 2)) == pytest.approx(snr, abs=0.01)


def test_suppressor_removes_steady_noise_and_keeps_the_tone():
    rng = np.random.default_rng(1)
    rate = 16000
    t = np.arange(2 * rate) / rate
    tone = np.where(t > 1.0, 0.5 * np.sin(2 * np.pi * 440 * t), 0.0)  # silence, then a tone
    noisy = add_noise(tone, 10, rng)
    y = suppress(noisy, rate)
    assert y.size == noisy.size
    quiet = slice(2000, rate - 2000)  # the first second: noise only
    assert np.mean(y[quiet] ** 2) < 0.2 * np.mean(noisy[quiet] ** 2)  # about 10 dB down
    loud = slice(rate + 2000, 2 * rate - 2000)
    assert np.mean(y[loud] ** 2) > 0.7 * np.mean(tone[loud] ** 2)


def test_every_condition_is_made():
    x = np.random.default_rng(2).standard_normal(8000)
    made = conditions(x, 8000, np.random.default_rng(3))
    assert tuple(made) == CONDITIONS and all(v.size == x.size for v in made.values())
