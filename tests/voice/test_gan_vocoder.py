"""The GAN vocoder behind the ``neural`` spoof family: training entry point, export, resynthesis."""

import hashlib

import numpy as np
import pytest
import torch

from audio.encode import write_audio
from detectors.voice_clone import gan_vocoder as gv
from detectors.voice_clone.vocoders import RESYNTH_FAMILIES, neural_resynth
from tests.audio.helpers import voiced


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """Two adversarial training steps on two short synthetic files, exported as float16."""
    root = tmp_path_factory.mktemp("gan")
    write_audio(root / "audio" / "a.wav", voiced(1.0, 8000, f0=110), 8000)
    write_audio(root / "audio" / "b.wav", voiced(1.0, 16000, f0=180, seed=1), 16000)
    rc = gv.main(["train", "--out", str(root / "run"), "--audio-dir", str(root / "audio"), "--max-steps", "2",
                  "--warmup-frac", "0", "--batch-size", "2", "--segment", "4000"])
    assert rc == 0
    ckpt = root / "run" / "ckpt.pt"
    ck = torch.load(ckpt, weights_only=True)
    assert ck["step"] == 2 and ck["format"] == gv.FORMAT and "discriminators" in ck
    out = root / "gan_vocoder.pt"
    assert gv.main(["export", str(ckpt), str(out)]) == 0
    return out


def test_training_checkpoint_and_export_load(tiny_weights):
    b = torch.load(tiny_weights, weights_only=True)
    assert all(v.dtype == torch.float16 for v in b["generator"].values())
    g, mel = gv.load_generator(tiny_weights)
    m = mel(torch.zeros(1, 4000))
    assert m.shape == (1, 80, 4000 // 200 + 1)
    assert g(m).shape == (1, (4000 // 200 + 1) * 200)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_neural_resynthesis_keeps_length_rate_and_level(tiny_weights, rate):
    x = voiced(1.3, rate, f0=120)
    y = neural_resynth(x, rate, np.random.default_rng(0), weights=tiny_weights)
    assert y.shape == x.shape and y.dtype == np.float32 and np.all(np.isfinite(y))
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(x**2)), rel=0.05)
    assert np.max(np.abs(y)) <= 0.99 + 1e-6
    assert not np.allclose(x, y, atol=1e-3)
    z = neural_resynth(x, rate, np.random.default_rng(1), weights=tiny_weights)
    np.testing.assert_array_equal(y, z)  # deterministic


def test_neural_resynthesis_edge_inputs(tiny_weights):
    for x in (np.zeros(0, np.float32), np.zeros(1000, np.float32), np.full(7, 0.1, np.float32)):
        y = neural_resynth(x, 8000, np.random.default_rng(0), weights=tiny_weights)
        assert y.shape == x.shape and np.all(np.isfinite(y))


def test_generator_upsampling_matches_hop():
    with pytest.raises(ValueError, match="multiply"):
        gv.Generator(gv.VocoderConfig(upsample=(5, 5, 4)))


def test_shipped_weights_are_small_and_run():
    if not gv.WEIGHTS_PATH.is_file():
        pytest.skip(f"{gv.WEIGHTS_PATH} not built")
    assert gv.WEIGHTS_PATH.stat().st_size < 5 * 2**20
    b = torch.load(gv.WEIGHTS_PATH, weights_only=True)
    assert b["format"] == gv.FORMAT and all(v.dtype == torch.float16 for v in b["generator"].values())
    for rate in (8000, 16000):
        x = voiced(1.0, rate)
        y = RESYNTH_FAMILIES["neural"](x, rate, np.random.default_rng(0))
        assert y.shape == x.shape and np.all(np.isfinite(y))
    assert len(hashlib.sha256(gv.WEIGHTS_PATH.read_bytes()).hexdigest()) == 64
