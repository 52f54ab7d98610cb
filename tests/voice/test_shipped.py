"""The shipped voice model: loaded by default, opt-in only, card tied to the file; training weights."""

import hashlib
import re

import numpy as np
import pytest

from detectors.voice_clone.detector import DEFAULT_WEIGHTS, VoiceCloneDetector

CARD = DEFAULT_WEIGHTS.parent / "MODEL_CARD.md"
CNN_WEIGHTS = DEFAULT_WEIGHTS.parent / "lfcc_lcnn.pt"  # inside the default, and the fast option
CNN_CARD = DEFAULT_WEIGHTS.parent / "MODEL_CARD_lfcc_lcnn.md"


def test_detector_loads_the_shipped_weights_by_default(monkeypatch):
    import torch

    from detectors.voice_clone.scoring import load_bundle

    monkeypatch.delenv("VERIFIER_VOICE_MODEL", raising=False)
    assert DEFAULT_WEIGHTS.is_file() and DEFAULT_WEIGHTS.stat().st_size < 1_000_000
    sha = hashlib.sha256(DEFAULT_WEIGHTS.read_bytes()).hexdigest()
    assert VoiceCloneDetector().weights_sha256 == sha
    b = load_bundle(DEFAULT_WEIGHTS)
    assert b.calibration is not None and b.record["validation"].startswith("NOT EVIDENCE")
    raw = torch.load(DEFAULT_WEIGHTS, map_location="cpu", weights_only=True)
    assert {v.dtype for v in raw["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    assert next(b.model.parameters()).dtype == torch.float32


def test_env_variable_overrides_the_shipped_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("VERIFIER_VOICE_MODEL", str(tmp_path / "other.pt"))
    assert VoiceCloneDetector().weights_sha256 is None  # that file does not exist: not silently the default


def test_voice_clone_stays_opt_in():
    from detectors.base import DEFAULT_DETECTORS

    assert "voice_clone" not in DEFAULT_DETECTORS


def test_model_card_names_the_shipped_file_and_its_hash():
    card = CARD.read_text(encoding="utf-8")
    sha = hashlib.sha256(DEFAULT_WEIGHTS.read_bytes()).hexdigest()
    assert re.search(rf"SHA-256 `{sha}`", card), "MODEL_CARD.md is stale: regenerate it for the shipped weights"
    assert "not evidence" in card.lower() and "GPL-2+" in card


def test_the_default_is_the_shipped_cnn_fused_with_a_ge2e_head():
    import torch

    from detectors.voice_clone.ge2e_features import weights_sha256
    from detectors.voice_clone.scoring import load_bundle

    fused, cnn = load_bundle(DEFAULT_WEIGHTS), load_bundle(CNN_WEIGHTS)
    assert fused.config.name == "lfcc_ge2e" and fused.record["ge2e_weights_sha256"] == weights_sha256()
    assert fused.record["cnn"]["sha256"] == hashlib.sha256(CNN_WEIGHTS.read_bytes()).hexdigest()
    for k, v in cnn.model.state_dict().items():
        assert torch.equal(fused.model.cnn.state_dict()[k], v), k
    w = fused.record["fusion"]["weights"]
    assert w[0] > 0 and w[1] > 0  # both parts push towards "spoof" for a spoof-like window


def test_the_cnn_card_names_its_file_and_hash():
    sha = hashlib.sha256(CNN_WEIGHTS.read_bytes()).hexdigest()
    assert re.search(rf"SHA-256 `{sha}`", CNN_CARD.read_text(encoding="utf-8"))


def _ex(speaker, label):
    from detectors.voice_clone.train import Example

    return Example("f", label, "-", speaker, np.zeros((1, 1), np.float32))


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_speaker_weights_keep_class_shares_and_scale_speakers(power):
    from detectors.voice_clone.train import speaker_weights

    ex = [_ex("big", 0)] * 16 + [_ex("small", 0)] * 4 + [_ex("tts", 1)] * 10
    w = speaker_weights(ex, power)
    assert w.sum() == pytest.approx(1.0)
    assert w[:20].sum() == pytest.approx(20 / 30) and w[20:].sum() == pytest.approx(10 / 30)
    big, small = w[:16].sum(), w[16:20].sum()
    assert big / small == pytest.approx((16 / 4) ** power)


def test_weighted_calibration_equals_plain_fit_with_equal_weights_and_follows_weights():
    from detectors.voice_clone.calibration import fit_calibration

    rng = np.random.default_rng(0)
    s = np.concatenate([rng.normal(-1, 1, 200), rng.normal(1, 1, 100)])
    y = np.r_[np.zeros(200), np.ones(100)]
    plain = fit_calibration(s, y)
    same = fit_calibration(s, y, weights=np.ones_like(s))
    assert same.a == pytest.approx(plain.a, rel=1e-6) and same.b == pytest.approx(plain.b, abs=1e-6)
    # up-weighting the highest-scoring bona fide trials moves the bona fide mass up: lower offset
    w = np.ones_like(s)
    w[:200][s[:200] > 0] = 10
    assert fit_calibration(s, y, weights=w).b < plain.b



def test_the_fast_inference_path_gives_the_logits_of_the_plain_network(monkeypatch):
    """Eval mode folds each batch norm into its convolution and runs channels-last
    (twice as fast on one core); the logits must be those of the plain layers."""
    import torch

    from detectors.voice_clone.scoring import load_bundle

    bundle = load_bundle(CNN_WEIGHTS)
    cnn = bundle.model.eval()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((6, 400, bundle.mean.shape[0])).astype(np.float32))
    with torch.no_grad():
        fast = cnn(x)
        monkeypatch.setattr(cnn, "_body_inference", lambda t: cnn.body(t))
        plain = cnn(x)
    assert plain.abs().max() > 0.1  # a network that says something, so the comparison means something
    assert torch.allclose(fast, plain, rtol=0, atol=1e-4), (fast - plain).abs().max()
