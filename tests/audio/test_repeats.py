"""A stretch of audio played again inside a recording is found; sound that only
sounds the same (steady noise, the same syllables said again) is not."""

from __future__ import annotations

import numpy as np
import pytest

from audio.repeats import DETAIL_REPEAT, REPEAT_CORRELATION, find_repeats, repeated_seconds, strongest_repeat

RATE = 16_000


def _babble(seconds: float, seed: int) -> np.ndarray:
    """Noise shaped like syllables (4 Hz envelope, a speech-like spectral tilt): never the same twice."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = np.cumsum(rng.normal(0, 1, n)) * 0.02  # brown-ish tilt
    x = x - np.convolve(x, np.ones(400) / 400, mode="same")  # no drift
    env = 0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 2 * np.arange(n) / RATE + rng.uniform(0, 3)))
    return (0.3 * x * env / np.max(np.abs(x))).astype(np.float32)


def test_fresh_sound_with_a_repeating_spectrum_is_not_a_repeat():
    x = _babble(20.0, seed=1)
    waveform, detail = strongest_repeat(x)
    assert waveform < REPEAT_CORRELATION and detail < DETAIL_REPEAT
    assert find_repeats(x) == []


@pytest.mark.parametrize("codec", ["pcm", "opus"])
def test_a_snippet_played_again_is_found_where_it_is_even_through_a_codec(codec):
    from audio.encode import codec_roundtrip

    a, b, c = _babble(6.0, 2), _babble(6.0, 3), _babble(6.0, 4)
    snippet = a[2 * RATE: int(4.5 * RATE)]  # 2.5 s of the first part, played again after the second
    x = np.concatenate([a, b, -snippet, c])  # played back with its polarity flipped: the same recording
    if codec != "pcm":
        x = codec_roundtrip(x, RATE, codec)
    reps = find_repeats(x)
    assert len(reps) == 1
    r = reps[0]
    assert r.start_s == pytest.approx(12.0, abs=0.3) and r.end_s == pytest.approx(14.5, abs=0.3)  # quarter-second steps
    assert r.lag_s == pytest.approx(10.0, abs=0.05) and r.similarity > 0.9
    assert repeated_seconds(reps) == pytest.approx(2.5, abs=0.3)


def test_short_audio_has_no_repeats():
    assert find_repeats(_babble(1.0, 5)) == [] and strongest_repeat(np.zeros(0, np.float32)) == (0.0, 0.0)


@pytest.mark.parametrize("change", ["faster_0.3%", "phase_90deg", "allpass"])
def test_a_copy_whose_waveform_was_changed_is_still_found(change):
    """A red team replayed each copy 0.1 % faster or with its phase turned by
    90 degrees: the same sound, but the waveform no longer correlated. The
    fine spectral detail (harmonic positions, the grain of the noise) still
    repeats. (This low-pass babble keeps its waveform through 0.1 %; real
    speech does not.)"""
    from scipy.signal import hilbert, lfilter, resample_poly

    a, b, c = _babble(6.0, 2), _babble(6.0, 3), _babble(6.0, 4)
    snippet = a[2 * RATE: int(4.5 * RATE)].astype(np.float64)
    if change == "faster_0.3%":
        copy = resample_poly(snippet, 1000, 1003)
    elif change == "phase_90deg":
        copy = np.imag(hilbert(snippet))
    else:
        copy = lfilter([0.7, 1.0], [1.0, 0.7], lfilter([-0.5, 1.0], [1.0, -0.5], snippet))
    x = np.concatenate([a, b, copy.astype(np.float32), c])
    waveform, detail = strongest_repeat(x)
    assert waveform >= REPEAT_CORRELATION or detail >= DETAIL_REPEAT, (waveform, detail)
    if change == "faster_0.3%":
        assert waveform < REPEAT_CORRELATION  # what the red team relied on (0.1 % did it on real speech)
    reps = find_repeats(x)
    assert len(reps) == 1 and reps[0].lag_s == pytest.approx(10.0, abs=0.05)
    assert repeated_seconds(reps) == pytest.approx(2.5, abs=0.5)
