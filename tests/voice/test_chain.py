import numpy as np
import pytest

from audio.loudness import loudness_lufs
from detectors.voice_clone.chain import Chain, ChainConfig, TooShortError, shortcut_features
from detectors.voice_clone.vocoders import RESYNTH_FAMILIES, FamilyUnavailableError
from tests.audio.helpers import voiced


def _utterance(rate, seconds=3.0):
    x = voiced(seconds, rate, f0=130)
    lead = np.zeros(int(0.7 * rate), np.float32)
    return np.concatenate([lead, x, lead])


@pytest.mark.parametrize("rate,band", [(8000, "tel"), (22050, "tel"), (16000, "wide"), (32000, "wide")])
def test_chain_output_is_uniform(rate, band):
    cfg = ChainConfig(p_codec=1.0, p_noise=0.0, p_reverb=0.0, lufs_jitter=0.0)
    y, meta = Chain(cfg).run(_utterance(rate), rate, band, np.random.default_rng(3))
    assert y.dtype == np.float32
    assert meta.duration_s <= cfg.crop_max_s + 1e-6
    assert loudness_lufs(y, 16000) == pytest.approx(cfg.target_lufs, abs=0.6)
    f = shortcut_features(y, 16000, 16000)
    assert f["lead_silence_s"] < 0.2  # the 0.7 s of leading silence is gone
    if band == "tel":
        assert f["rolloff_hz"] < 3700


def test_chain_is_deterministic_per_seed():
    x = _utterance(16000)
    a, _ = Chain().run(x, 16000, "tel", np.random.default_rng(7))
    b, _ = Chain().run(x, 16000, "tel", np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)


def test_too_short_and_wrong_band():
    with pytest.raises(TooShortError):
        Chain().run(voiced(0.5, 16000), 16000, "tel", np.random.default_rng(0))
    with pytest.raises(ValueError, match="wide band"):
        Chain().run(_utterance(8000), 8000, "wide", np.random.default_rng(0))


@pytest.mark.parametrize("family", ["world", "griffinlim", "lpc", "neural"])
@pytest.mark.parametrize("rate", [8000, 16000])
def test_resynthesis_keeps_length_and_changes_signal(family, rate):
    x = voiced(1.5, rate, f0=120)
    try:
        y = RESYNTH_FAMILIES[family](x, rate, np.random.default_rng(0))
    except FamilyUnavailableError as exc:
        pytest.skip(str(exc))
    assert y.shape == x.shape and y.dtype == np.float32 and np.all(np.isfinite(y))
    assert 0.05 < np.sqrt(np.mean(y**2)) / np.sqrt(np.mean(x**2)) < 20
    assert not np.allclose(x, y, atol=1e-3)


def test_neural_family_without_weights_says_how_to_train(tmp_path):
    from detectors.voice_clone.vocoders import neural_resynth

    with pytest.raises(FamilyUnavailableError, match=r"missing.*gan_vocoder train --out .* --minutes"):
        neural_resynth(np.zeros(16000, np.float32), 16000, np.random.default_rng(0), weights=tmp_path / "none.pt")


def test_balance_durations_equalises_histograms():
    from detectors.voice_clone.corpus import CorpusRow, balance_durations

    rng = np.random.default_rng(0)

    def row(i, key, dur):
        return CorpusRow(f"{key}{i}", "train", "s", key, "-" if key == "bonafide" else "x", "-", "en", "tel", "none",
                         None, None, float(dur), 8000, "o")

    rows = [row(i, "bonafide", d) for i, d in enumerate(rng.uniform(1.0, 3.0, 400))]
    rows += [row(i, "spoof", d) for i, d in enumerate(rng.uniform(2.0, 5.0, 600))]
    keep, dropped = balance_durations(rows, seed=0, bin_s=0.25)
    assert len(keep) + len(dropped) == len(rows)
    bona = np.array([r.duration_s for r in keep if r.key == "bonafide"])
    spoof = np.array([r.duration_s for r in keep if r.key == "spoof"])
    assert len(bona) > 50 and len(spoof) > 50
    assert bona.min() >= 2.0 - 0.25 and spoof.max() <= 3.0 + 0.25  # only the overlap survives
    from detectors.metrics import auc

    d = np.concatenate([bona, spoof])
    y = np.concatenate([np.zeros(len(bona)), np.ones(len(spoof))]).astype(int)
    assert abs(auc(d, y) - 0.5) < 0.06
