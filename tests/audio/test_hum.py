"""Hum and tones under speech (``audio.hum``): a tone at the speech's level
fills the pauses, the blind noise estimate reads it as noise, and the voice
detectors declined. It is filtered out at decode, said, and only then."""

from __future__ import annotations

import numpy as np
import pytest

from audio.decode import decode_audio
from audio.noise import steady_noise_snr_db
from tests.audio.helpers import voiced, write_wav

RATE = 16_000


def _speech_with_pauses() -> np.ndarray:
    """Syllables of two pitches with 0.3 s pauses (digital silence between)."""
    parts = []
    for i in range(6):
        parts += [voiced(0.9, f0=120.0 + 15 * i, seed=i), np.zeros(int(0.3 * RATE), np.float32)]
    return np.concatenate(parts)


def _with(x: np.ndarray, hz: list[float], level_db: float = 0.0) -> np.ndarray:
    t = np.arange(x.size) / RATE
    speech_rms = float(np.sqrt(np.mean(x[np.abs(x) > 0] ** 2)))
    tone = sum(np.sin(2 * np.pi * f * t + k) / (k + 1) for k, f in enumerate(hz))
    tone *= speech_rms * 10 ** (level_db / 20) / float(np.sqrt(np.mean(tone ** 2)))
    return (x + tone).astype(np.float32)


@pytest.mark.parametrize("hz,said", [
    ([45.0], "45 Hz"),                                 # below what a phone's loudspeaker plays
    ([50.0 * k for k in range(1, 6)], "50, 100, 150"),  # mains hum and its harmonics to 250 Hz
])
def test_a_low_tone_at_the_speech_level_is_filtered_out_and_said(tmp_path, hz, said):
    x = _speech_with_pauses()
    y = _with(x, hz)
    assert steady_noise_snr_db(y, RATE) < 11  # what the voice detectors declined on
    d = decode_audio(write_wav(tmp_path / "hum.wav", y, RATE))
    assert d.sample_note is not None and "filled the pauses between words" in d.sample_note and said in d.sample_note
    assert steady_noise_snr_db(d.samples, RATE) > 20
    # The speech is kept: its power per band, from its fundamental up, within 1.5 dB of the clean
    # recording's (the filters shift the phase of the lowest harmonics, which nothing here reads;
    # the notches take the harmonics of this synthetic voice that fall on multiples of 50 Hz).
    assert np.abs(_band_db(d.samples) - _band_db(x)).max() < 1.5


def _band_db(x: np.ndarray) -> np.ndarray:
    spec = np.abs(np.fft.rfft(x[RATE:])) ** 2  # past the filters' first second
    hz = np.fft.rfftfreq(x.size - RATE, 1 / RATE)
    edges = [110, 300, 700, 1500, 3000, 7000]
    return np.array([10 * np.log10(spec[(hz >= a) & (hz < b)].sum()) for a, b in zip(edges, edges[1:])])


@pytest.mark.parametrize("hz", [[1000.0], [50.0 * k for k in range(1, 11)]])
def test_an_audible_tone_is_left_in_and_the_detectors_decline_on_it(tmp_path, hz):
    """A whistle, or hum with harmonics up into the voice's band, is heard by
    whoever listens, and notches there change the voice as the speaker
    encoder hears it (an impostor came closer to the claimed voice): the audio
    is left as it is, and the estimate the detectors decline on is unchanged."""
    y = _with(_speech_with_pauses(), hz)
    d = decode_audio(write_wav(tmp_path / "whistle.wav", y, RATE))
    assert d.sample_note is None
    assert steady_noise_snr_db(d.samples, RATE) < 11


def test_a_tone_only_in_the_pauses_is_filtered_out_too(tmp_path):
    x = _speech_with_pauses()
    pause = np.convolve((x == 0).astype(np.float64), np.ones(800) / 800, "same")  # 50 ms ramps
    y = x + 0.1 * pause * np.sin(2 * np.pi * 60 * np.arange(x.size) / RATE)
    assert steady_noise_snr_db(y.astype(np.float32), RATE) < 11
    d = decode_audio(write_wav(tmp_path / "gated.wav", y.astype(np.float32), RATE))
    assert d.sample_note is not None and "filled the pauses between words" in d.sample_note
    assert steady_noise_snr_db(d.samples, RATE) > 20


def test_ordinary_audio_and_faint_hum_are_left_bit_identical(tmp_path):
    """The detectors were measured on recordings as decoded: hum that does not
    hide the speech (here 30 dB under it) is not touched."""
    x = _speech_with_pauses()
    for name, y in (("clean", x), ("faint", _with(x, [50.0, 100.0], -30.0))):
        p = write_wav(tmp_path / f"{name}.wav", y, RATE)
        d = decode_audio(p)
        assert d.sample_note is None, name
        assert np.array_equal(d.samples, decode_audio(p).samples)


@pytest.mark.parametrize("name", ["line_up_tone", "steady_vowel"])
def test_a_file_that_is_mostly_tone_is_left_alone(tmp_path, name):
    """A line-up tone, or a constant-pitch vowel with no pause: the tones are
    the content, not a background under it."""
    t = np.arange(2 * RATE) / RATE
    y = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32) if name == "line_up_tone" else voiced(2.0, amp=0.5)
    d = decode_audio(write_wav(tmp_path / f"{name}.wav", y, RATE))
    assert d.sample_note is None


def test_a_tone_louder_than_the_speech_is_left_in(tmp_path):
    """Filtered out, a tone 6 dB over the speech left a residue that brought
    other voices closer to the call in the speaker encoder's reading (up to
    +0.11): such a file is left as decoded and the detectors decline."""
    y = _with(_speech_with_pauses(), [45.0], level_db=6.0)
    d = decode_audio(write_wav(tmp_path / "loud_hum.wav", y, RATE))
    assert d.sample_note is None
    assert steady_noise_snr_db(d.samples, RATE) < 11
