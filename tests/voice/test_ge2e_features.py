"""Pooled GE2E states: the statistics the lfcc_ge2e head sees, and how windows reuse one pass."""

import numpy as np
import pytest
import torch

from detectors.voice_clone import ge2e_features as G
from tests.audio.helpers import voiced


def _mel(seconds: float) -> np.ndarray:
    return G.ge2e_mel(voiced(seconds, 16000, f0=120, seed=3), 16000)


def test_window_stats_are_the_mean_and_std_of_the_frames_in_each_window():
    states = np.random.default_rng(0).standard_normal((500, G.STATE_DIM)).astype(np.float32)
    stats = G.window_stats(states, np.array([0, 100, 450]), 400)
    assert stats.shape == (3, G.STATS_DIM)
    for row, (lo, hi) in zip(stats, [(0, 400), (100, 500), (450, 500)]):  # the last window is cut at the end
        w = states[lo:hi].astype(np.float64)
        np.testing.assert_allclose(row[:256], w[:, :256].mean(0), atol=1e-4)
        np.testing.assert_allclose(row[256:512], w[:, :256].std(0), atol=1e-4)
        np.testing.assert_allclose(row[-80:-40], w[:, -40:].mean(0), atol=1e-4)


def test_the_encoder_restarts_every_1_6_s_so_a_chunk_does_not_depend_on_what_came_before():
    mel = _mel(5.0)
    whole = G.frame_states(mel)
    assert whole.shape == (mel.shape[0], G.STATE_DIM)
    tail = G.frame_states(mel[G.CHUNK_FRAMES :])  # starts exactly at the second chunk
    np.testing.assert_allclose(whole[G.CHUNK_FRAMES :], tail, atol=1e-5)
    # and a frame does depend on the earlier frames of its own chunk
    shifted = G.frame_states(mel[10:])
    assert not np.allclose(whole[10 : G.CHUNK_FRAMES], shifted[: G.CHUNK_FRAMES - 10], atol=1e-3)


def test_speech_moves_the_statistics_away_from_silence():
    speech = G.window_stats(G.frame_states(_mel(4.0)), np.array([0]), 400)[0]
    quiet = G.window_stats(G.frame_states(G.ge2e_mel(np.zeros(64000, np.float32), 16000)), np.array([0]), 400)[0]
    assert np.isfinite(speech).all() and np.isfinite(quiet).all()
    assert np.abs(speech - quiet).max() > 0.1


def test_ge2e_features_need_16_khz():
    with pytest.raises(ValueError, match="16000 Hz"):
        G.ge2e_mel(np.zeros(8000, np.float32), 8000)


def test_a_window_scored_alone_equals_the_same_window_scored_in_one_pass():
    from detectors.voice_clone.models import MODEL_CONFIGS, create_model, extract_features

    cfg = MODEL_CONFIGS["lfcc_ge2e"]
    torch.manual_seed(0)
    model = create_model("lfcc_ge2e", cfg).eval()
    with torch.no_grad():
        model.ge2e.head.weight.normal_(0, 0.05)
        model.fusion.weight.copy_(torch.tensor([[0.7, 0.9]]))
    feats = extract_features(voiced(6.0, 16000, f0=110, seed=1), 16000, cfg)
    assert feats.shape[1] == cfg.n_features
    one_pass = model.score_windows(feats, np.array([0, 160]), 400)
    alone = model(torch.from_numpy(np.stack([feats[0:400], feats[160:560]])))
    assert alone[0].item() == pytest.approx(one_pass[0], abs=1e-4)  # starts on a chunk boundary: identical
    assert alone[1].item() == pytest.approx(one_pass[1], abs=1e-4)
    cnn, head = model.cnn_logits(feats, np.array([0]), 400), model.ge2e.score_windows(feats, np.array([0]), 400)
    assert one_pass[0] == pytest.approx(0.7 * cnn[0] + 0.9 * head[0] + float(model.fusion.bias.detach()), abs=1e-4)


def test_signals_encoded_in_one_batch_get_the_states_and_scores_they_get_alone():
    from detectors.voice_clone.models import MODEL_CONFIGS, create_model, extract_features

    a, b = _mel(2.3), G.ge2e_mel(voiced(5.1, 16000, f0=180, seed=7), 16000)
    both = G.frame_states_many([a, b])
    np.testing.assert_allclose(both[0], G.frame_states(a), atol=1e-5)
    np.testing.assert_allclose(both[1], G.frame_states(b), atol=1e-5)

    cfg = MODEL_CONFIGS["lfcc_ge2e"]
    torch.manual_seed(1)
    model = create_model("lfcc_ge2e", cfg).eval()
    fa = extract_features(voiced(2.3, 16000, f0=120, seed=3), 16000, cfg)
    fb = extract_features(voiced(6.0, 16000, f0=180, seed=7), 16000, cfg)
    items = [(fa, np.array([0]), fa.shape[0]), (fb, np.array([0, 100, 200]), 400)]
    many = model.score_windows_many(items)
    for (f, starts, win), got in zip(items, many):
        np.testing.assert_allclose(got, model.score_windows(f, starts, win), atol=1e-5)
