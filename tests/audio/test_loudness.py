import numpy as np
import pytest

from audio.loudness import loudness_lufs, normalize_loudness
from tests.audio.helpers import tone, voiced


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_sine_calibration(rate):
    # BS.1770: a 0 dBFS 1 kHz sine in one channel reads -3.01 LUFS
    for amp in (1.0, 0.5, 0.1):
        expected = -3.01 + 20 * np.log10(amp)
        assert loudness_lufs(tone(1000, 3.0, rate, amp), rate) == pytest.approx(expected, abs=0.15)


def test_low_frequencies_weigh_less():
    assert loudness_lufs(tone(30, 3.0, 16000), 16000) < loudness_lufs(tone(1000, 3.0, 16000), 16000) - 3


def test_gating_ignores_silence():
    x = voiced(2.0)
    padded = np.concatenate([np.zeros(32000, np.float32), x, np.zeros(32000, np.float32)])
    assert loudness_lufs(padded, 16000) == pytest.approx(loudness_lufs(x, 16000), abs=0.5)


def test_normalize_hits_target_and_respects_peak():
    x = voiced(2.0, amp=0.05)
    n = normalize_loudness(x, 16000, target_lufs=-26.0)
    assert loudness_lufs(n.samples, 16000) == pytest.approx(-26.0, abs=0.05)
    assert not n.peak_limited
    loud = normalize_loudness(x, 16000, target_lufs=0.0)
    assert loud.peak_limited and np.max(np.abs(loud.samples)) <= 0.99 + 1e-6


def test_silence_is_left_alone():
    n = normalize_loudness(np.zeros(16000, np.float32), 16000)
    assert n.gain_db == 0.0 and not np.isfinite(n.measured_lufs)
