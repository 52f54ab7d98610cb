"""The blind room reading the speaker check chooses its calibration by."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import fftconvolve

import audio.reverb as reverb
from audio.reverb import steepest_decay_db, synthetic_room
from detectors.speaker.speech import DRY_DECAY_DB
from tests.audio.helpers import voiced

RATE = 16000


def _syllables(seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    """Voiced bursts of 150-350 ms that stop dead, with pauses in between,
    over room tone 50 dB down: what a close microphone hears."""
    rng = np.random.default_rng(seed)
    parts, total = [], 0
    while total < seconds * RATE:
        burst = voiced(rng.uniform(0.15, 0.35), RATE, f0=rng.uniform(100, 220), seed=int(rng.integers(1 << 30)))
        gap = np.zeros(int(rng.uniform(0.08, 0.3) * RATE), np.float32)
        parts += [burst, gap]
        total += burst.size + gap.size
    x = np.concatenate(parts)
    return (x + rng.standard_normal(x.size).astype(np.float32) * 0.3 * 10 ** (-50 / 20)).astype(np.float32)


def _room(x: np.ndarray, rt60: float, drr_db: float, seed: int = 0) -> np.ndarray:
    return fftconvolve(x, synthetic_room(rt60, drr_db, np.random.default_rng(seed)))[: x.size].astype(np.float32)


def _gate(x: np.ndarray, below_db: float) -> np.ndarray:
    """Silence every 10 ms frame more than ``below_db`` under the loudest."""
    n = x.size // 160
    level = 10 * np.log10(np.mean(x[: n * 160].reshape(n, 160) ** 2, axis=1) + 1e-12)
    keep = np.repeat(level > np.percentile(level, 99) - below_db, 160)
    y = x.copy()
    y[: keep.size] *= keep
    y[keep.size:] = 0
    return y


def test_dry_speech_reads_dry_and_rooms_do_not():
    x = _syllables()
    dry = steepest_decay_db(x, RATE)
    assert dry is not None and dry >= DRY_DECAY_DB
    for rt60, drr in ((0.4, 10.0), (0.4, 5.0), (0.4, 0.0), (1.0, 15.0)):
        wet = steepest_decay_db(_room(x, rt60, drr), RATE)
        assert wet is not None and wet < DRY_DECAY_DB, (rt60, drr, wet)
    # a longer room, or less direct sound, keeps more of the sound alive
    assert steepest_decay_db(_room(x, 0.8, 0.0), RATE) < steepest_decay_db(_room(x, 0.4, 0.0), RATE)


def test_a_noise_gate_does_not_make_a_room_read_dry():
    """Call software often cuts quiet tails to digital silence; falls into
    silence do not count, or a speakerphone call would read as a headset."""
    wet = _room(_syllables(), 0.4, 5.0)
    gated = _gate(wet, 25.0)
    assert steepest_decay_db(gated, RATE) < DRY_DECAY_DB
    assert steepest_decay_db(gated, RATE) == pytest.approx(steepest_decay_db(wet, RATE), abs=2.0)


def test_the_reading_does_not_depend_on_level():
    x = _syllables()
    assert steepest_decay_db(0.05 * x, RATE) == pytest.approx(steepest_decay_db(x, RATE), abs=0.5)


def test_too_little_sound_gives_no_reading():
    assert steepest_decay_db(np.zeros(RATE * 3, np.float32), RATE) is None
    assert steepest_decay_db(np.zeros(100, np.float32), RATE) is None
    assert steepest_decay_db(_syllables(0.3), RATE) is None
    with pytest.raises(ValueError):
        steepest_decay_db(np.zeros((2, RATE), np.float32), RATE)


def test_long_audio_is_read_in_chunks_with_the_whole_file_result(monkeypatch):
    x = np.concatenate([_syllables(seed=s) for s in range(4)])
    whole = steepest_decay_db(x, RATE)
    monkeypatch.setattr(reverb, "CHUNK_FRAMES", 300)  # 3 s chunks: eight of them
    assert steepest_decay_db(x, RATE) == pytest.approx(whole, abs=1e-3)


def test_other_sample_rates_read_alike():
    import librosa

    x = _syllables()
    at8k = librosa.resample(x, orig_sr=RATE, target_sr=8000)
    assert steepest_decay_db(at8k, 8000) == pytest.approx(steepest_decay_db(x, RATE), abs=4.0)
    assert steepest_decay_db(librosa.resample(_room(x, 0.4, 5.0), orig_sr=RATE, target_sr=8000), 8000) < DRY_DECAY_DB
