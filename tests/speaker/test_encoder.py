"""The voice encoder built here from the resemblyzer weights: features,
partial windows, embeddings, and the narrow-band test."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.speaker import encoder
from detectors.speaker.band import (
    choose_band,
    high_band_db,
    is_narrowband,
    to_telephone,
)
from detectors.speaker.score import similarities, similarity, windows


def test_mel_features_match_librosa():
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(16000) * 0.1).astype(np.float32)
    ref = librosa.feature.melspectrogram(y=x, sr=16000, n_fft=400, hop_length=160, n_mels=40).T
    ours = encoder.mel_power(x)
    assert ours.shape == ref.shape
    assert np.max(np.abs(ours - ref)) / ref.max() < 1e-4


def test_partials_cover_the_signal():
    s = encoder.partial_slices(16000 * 5)
    assert s[0].start == 0 and all(b.stop - b.start == encoder.PARTIAL_FRAMES for b in s)
    assert s[-1].stop * encoder.HOP >= 16000 * 5 * 0.9
    assert len(encoder.partial_slices(100)) == 1  # short input still gives one partial


def test_embeddings_are_unit_deterministic_and_weights_hashed():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(16000 * 3) * 0.05).astype(np.float32)
    a, b = encoder.embed_utterance(x), encoder.embed_utterance(x)
    assert a.shape == (256,) and abs(np.linalg.norm(a) - 1) < 1e-5
    assert np.allclose(a, b)
    assert len(encoder.model_sha256()) == 64


def test_narrowband_detection():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(16000 * 2) * 0.1).astype(np.float32)
    assert not is_narrowband(x) and high_band_db(x) > -10
    assert is_narrowband(to_telephone(x))
    assert choose_band(False, (False, False)) == "wideband"
    assert choose_band(False, (False, True)) == "telephone"
    assert choose_band(True, ()) == "telephone"


def test_combining_references():
    refs = np.eye(3)[:2]  # two orthogonal references
    t = np.array([1.0, 0.0, 0.0])
    assert similarity(t, refs, "max") == pytest.approx(1.0)
    assert similarity(t, refs, "mean") == pytest.approx(0.5)
    assert similarity(t, refs, "centroid") == pytest.approx(1 / np.sqrt(2))
    assert similarities(np.stack([t, t]), refs, "max") == pytest.approx([1.0, 1.0])


def test_windows_group_partials():
    vecs = np.tile(np.eye(4)[0], (10, 1))
    p = encoder.Partials(vecs, np.arange(10) * 0.8)
    w = windows(p, 4.0, 2.0)
    assert len(w) >= 3 and w[0].start_s == 0.0 and w[-1].end_s <= 0.8 * 9 + 1.6 + 1e-9
