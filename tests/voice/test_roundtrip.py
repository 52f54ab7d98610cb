"""Tiny corpus -> train -> eval round trip, on speech-like signals made here.

No Debian package is needed: the bona fide "speakers" are synthetic voiced
signals and the spoofs are their vocoder resyntheses, so this checks the
plumbing (protocol, splits, training, calibration, evaluation, plots), not
detection quality.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import lfilter
from typer.testing import CliRunner

from detectors.voice_clone.corpus import CorpusConfig, build_corpus, read_metadata
from detectors.voice_clone.sources import BonafideSource
from tests.audio.helpers import voiced, write_wav


def _has_pyworld() -> bool:
    try:
        from detectors.voice_clone.vocoders import import_pyworld

        import_pyworld()
        return True
    except ImportError:
        return False


# WORLD is the fastest resynthesis; without pyworld the round trip uses Griffin-Lim
FAMILY = "world" if _has_pyworld() else "griffinlim"
SPEAKERS = {"spk_a": "train", "spk_b": "train", "spk_c": "dev", "spk_d": "eval"}


def _fake_sources(root: Path, per_speaker: int = 4) -> list[BonafideSource]:
    rng = np.random.default_rng(0)
    out = []
    for k, (spk, split) in enumerate(SPEAKERS.items()):
        d = root / spk
        d.mkdir(parents=True)
        for i in range(per_speaker):
            x = voiced(rng.uniform(1.8, 3.0), 8000, f0=100 + 25 * k + 5 * i, seed=i)
            x = lfilter([1.0], [1.0, -0.9 + 0.05 * k], x).astype(np.float32)  # a speaker's "vocal tract"
            x = 0.3 * x / np.max(np.abs(x)) + 0.002 * rng.standard_normal(len(x)).astype(np.float32)
            write_wav(d / f"u{i}.wav", np.concatenate([np.zeros(2000, np.float32), x]), 8000)
        if k == 0:  # same stem in a subfolder, as asterisk has (digits/1.wav, letters/1.wav)
            (d / "sub").mkdir()
            write_wav(d / "sub" / "u0.wav", voiced(2.5, 8000, f0=90), 8000)
        out.append(BonafideSource(f"fake-{spk}", spk, "en", d, ("**/*.wav",), "none", split))
    return out


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("voice")
    cfg = CorpusConfig(seed=1, tts_per_voice=0, resynth_fraction=1.0, resynth_families=(FAMILY, "lpc"), unseen_families=("lpc",), duration_bin_s=10.0)
    build_corpus(root / "corpus", cfg, bonafide_sources=_fake_sources(root / "src"), tts_voices=[])
    return root / "corpus"


def test_corpus_layout_and_splits(tiny_corpus):
    rows = read_metadata(tiny_corpus)
    manifest = json.loads((tiny_corpus / "manifest.json").read_text())
    assert manifest["files"] == len(rows) > 0
    by_split = {s: {r["speaker"] for r in rows if r["split"] == s} for s in ("train", "dev", "eval")}
    assert by_split["train"] == {"spk_a", "spk_b"} and by_split["dev"] == {"spk_c"} and by_split["eval"] == {"spk_d"}
    # the unseen family only in eval
    assert {r["split"] for r in rows if r["family"] == "lpc"} == {"eval"}
    assert len({r["file_id"] for r in rows}) == len(rows) == len(list((tiny_corpus / "flac").iterdir()))
    assert any(r["file_id"].endswith("sub-u0") for r in rows)
    for r in rows:
        assert (tiny_corpus / "flac" / f"{r['file_id']}.flac").is_file()
    line = (tiny_corpus / "protocol" / "train.txt").read_text().splitlines()[0].split()
    assert len(line) == 5 and line[2] == "-" and line[4] in ("bonafide", "spoof")


@pytest.mark.slow
def test_corpus_is_reproducible(tmp_path):
    # WORLD's noise generator is process-global and cannot be seeded through
    # pyworld, so bit-exactness within one process is checked on the other families
    cfg = CorpusConfig(seed=1, tts_per_voice=0, resynth_fraction=1.0, resynth_families=("griffinlim", "lpc"), unseen_families=("lpc",), duration_bin_s=10.0)
    build_corpus(tmp_path / "first", cfg, bonafide_sources=_fake_sources(tmp_path / "src1"), tts_voices=[])
    tiny_corpus = tmp_path / "first"
    build_corpus(tmp_path / "again", cfg, bonafide_sources=_fake_sources(tmp_path / "src"), tts_voices=[])
    a = sorted((tiny_corpus / "flac").iterdir())
    b = sorted((tmp_path / "again" / "flac").iterdir())
    assert [p.name for p in a] == [p.name for p in b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))


def test_train_then_eval_cli(tiny_corpus, tmp_path):
    import typer

    from verifier.cli_eval import eval_app
    from verifier.cli_train import train_app

    app = typer.Typer()
    app.add_typer(train_app, name="train")
    app.add_typer(eval_app, name="eval")
    runner = CliRunner()
    model = tmp_path / "m.pt"
    r = runner.invoke(app, ["train", "voice", "--corpus", str(tiny_corpus), "--out", str(model), "--epochs", "1", "--batch-size", "8"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "ev"
    r = runner.invoke(app, ["eval", "voice", "--dataset", str(tiny_corpus), "--model", str(model), "--out", str(out), "--shortcut-check"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= m["overall"]["eer"] <= 1.0 and np.isfinite(m["overall"]["cllr"])
    assert set(m["per_family"]) == {FAMILY, "lpc"}
    assert "unseen_families" in m and 0.0 <= m["shortcut_check"]["auc"] <= 1.0
    assert (out / "det.png").stat().st_size > 1000 and (out / "llr_hist.png").stat().st_size > 1000
    assert (out / "reliability.png").stat().st_size > 1000
    assert len((out / "scores.tsv").read_text().splitlines()) == m["dataset"]["trials"]


def test_bundle_is_deterministic(tiny_corpus, tmp_path):
    from detectors.voice_clone.train import TrainConfig, train

    cfg = TrainConfig(epochs=1, batch_size=8)
    a = train(tiny_corpus, cfg, log=lambda m: None).bundle
    b = train(tiny_corpus, cfg, log=lambda m: None).bundle
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb and bool((va == vb).all())
    assert a.calibration == b.calibration


@pytest.mark.parametrize(
    "name,width,feature", [("spec_lcnn", 1, "logspec"), ("lfcc_mgd_lcnn", 1, "lfcc+mgd"), ("lfcc_lcnn", 2, "lfcc")]
)
def test_other_models_train_save_and_score_the_same_after_loading(tiny_corpus, tmp_path, name, width, feature):
    from detectors.voice_clone.models import MODEL_CONFIGS
    from detectors.voice_clone.scoring import load_bundle
    from detectors.voice_clone.train import TrainConfig, train

    bundle = train(tiny_corpus, TrainConfig(model=name, epochs=1, batch_size=8, width=width), log=lambda m: None).bundle
    assert bundle.config.feature == feature
    assert bundle.config.channels == tuple(width * c for c in MODEL_CONFIGS[name].channels)
    path = tmp_path / "model.pt"
    bundle.save(path)
    loaded = load_bundle(path)
    assert loaded.config == bundle.config
    feats = np.random.default_rng(0).standard_normal((400, bundle.config.n_features)).astype(np.float32)
    np.testing.assert_allclose(loaded.window_logits(feats)[0], bundle.window_logits(feats)[0], rtol=1e-5, atol=1e-5)


def test_window_mean_normalisation_makes_a_constant_channel_offset_irrelevant(tiny_corpus, tmp_path):
    """CMN inside the model: a fixed filter on the line (a constant cepstral offset) does not move the score."""
    from detectors.voice_clone.scoring import load_bundle
    from detectors.voice_clone.train import TrainConfig, train

    cmn = train(tiny_corpus, TrainConfig(epochs=1, batch_size=8, input_norm="window"), log=lambda m: None).bundle
    path = tmp_path / "cmn.pt"
    cmn.save(path)
    loaded = load_bundle(path)
    assert loaded.config.input_norm == "window"
    plain = train(tiny_corpus, TrainConfig(epochs=1, batch_size=8), log=lambda m: None).bundle
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((400, cmn.config.n_features)).astype(np.float32)
    offset = feats + rng.standard_normal(cmn.config.n_features).astype(np.float32)
    np.testing.assert_allclose(loaded.window_logits(offset)[0], loaded.window_logits(feats)[0], rtol=1e-4, atol=1e-4)
    assert not np.allclose(plain.window_logits(offset)[0], plain.window_logits(feats)[0], atol=1e-3)


def test_speed_perturbation_adds_stretched_versions_of_each_train_file(tiny_corpus):
    from detectors.voice_clone.models import MODEL_CONFIGS
    from detectors.voice_clone.train import TrainConfig, TrainError, load_split, train

    examples = load_split(tiny_corpus, "train", MODEL_CONFIGS["lfcc_lcnn"], speed_perturb=(0.9, 1.1))
    for e in examples:
        slow, fast = (v.shape[0] for v in e.variants)
        n = e.feats.shape[0]
        assert abs(slow - n / 0.9) <= 3 and abs(fast - n / 1.1) <= 3  # 0.9: longer (slower), 1.1: shorter
        assert not np.allclose(e.variants[0][:10], e.feats[:10])
    bundle = train(tiny_corpus, TrainConfig(epochs=1, batch_size=8, speed_perturb=(0.9, 1.1)), log=lambda m: None).bundle
    assert bundle.record["train_config"]["speed_perturb"] == (0.9, 1.1)
    with pytest.raises(TrainError, match="0.5-2.0"):
        train(tiny_corpus, TrainConfig(epochs=1, speed_perturb=(3.0,)), log=lambda m: None)


def test_train_cli_rejects_an_unknown_input_normalisation(tiny_corpus, tmp_path):
    from verifier.cli import app

    r = CliRunner().invoke(app, ["train", "voice", "--corpus", str(tiny_corpus), "--out", str(tmp_path / "m.pt"), "--input-norm", "utterance"])
    assert r.exit_code == 1 and "input_norm must be global or window" in r.output
    assert not (tmp_path / "m.pt").exists()


def test_lfcc_ge2e_keeps_the_given_cnn_fits_head_and_fusion_and_reloads_to_the_same_scores(tiny_corpus, tmp_path):
    import torch

    from detectors.voice_clone.scoring import BundleError, load_bundle
    from detectors.voice_clone.train import TrainConfig, train
    from detectors.voice_clone.train_ge2e import HEAD_L2, train_ge2e_model

    cnn = train(tiny_corpus, TrainConfig(epochs=1, batch_size=8), log=lambda m: None).bundle
    cnn_path = tmp_path / "cnn.pt"
    cnn.save(cnn_path)
    bundle = train_ge2e_model(tiny_corpus, TrainConfig(model="lfcc_ge2e"), cnn_from=cnn_path, log=lambda m: None)
    for k, v in cnn.model.state_dict().items():
        assert torch.equal(bundle.model.cnn.state_dict()[k], v)
    rec = bundle.record
    assert rec["head"]["l2"] in HEAD_L2 and len(rec["fusion"]["weights"]) == 2
    assert set(rec["dev_eer"]) == {"cnn", "head", "fused"} and bundle.calibration is not None
    path = tmp_path / "fused.pt"
    bundle.save(path)
    loaded = load_bundle(path)
    x = voiced(7.0, 16000, f0=130, seed=4)
    logits, starts = loaded.window_logits(loaded.features(x, 16000))
    assert len(starts) >= 4  # a 7 s signal: 4 s windows with a 1 s hop
    np.testing.assert_allclose(logits, bundle.window_logits(bundle.features(x, 16000))[0], rtol=1e-5, atol=1e-5)

    # bundles refuse an encoder other than the one they were fitted on
    payload = torch.load(path, weights_only=True)
    payload["record"]["ge2e_weights_sha256"] = "0" * 64
    torch.save(payload, tmp_path / "other.pt")
    with pytest.raises(BundleError, match="resemblyzer"):
        load_bundle(tmp_path / "other.pt")
    # and weights of another layout are a clear error, not a traceback from torch
    payload = torch.load(path, weights_only=True)
    payload["state_dict"] = {k.replace("ge2e.", ""): v for k, v in payload["state_dict"].items()}
    torch.save(payload, tmp_path / "layout.pt")
    with pytest.raises(BundleError, match="do not fit model 'lfcc_ge2e'"):
        load_bundle(tmp_path / "layout.pt")


def test_train_cli_rejects_cnn_from_without_lfcc_ge2e(tiny_corpus, tmp_path):
    import typer

    from verifier.cli_train import train_app

    app = typer.Typer()
    app.add_typer(train_app, name="train")
    r = CliRunner().invoke(app, ["train", "voice", "--corpus", str(tiny_corpus), "--cnn-from", str(tmp_path / "x.pt")])
    assert r.exit_code == 2 and "--cnn-from and --lofo-cnn go with --model lfcc_ge2e" in r.output


def test_ge2e_head_alone_trains_calibrates_and_reloads_to_the_same_scores(tiny_corpus, tmp_path):
    import torch

    from detectors.voice_clone.scoring import BundleError, load_bundle
    from detectors.voice_clone.train import TrainConfig, TrainError, train
    from detectors.voice_clone.train_ge2e import train_ge2e_model

    bundle = train_ge2e_model(tiny_corpus, TrainConfig(model="ge2e_head"), log=lambda m: None)
    assert bundle.config.feature == "ge2e" and bundle.config.n_features == 40
    assert "fusion" not in bundle.record and bundle.calibration is not None
    path = tmp_path / "head.pt"
    bundle.save(path)
    loaded = load_bundle(path)
    x = voiced(5.5, 16000, f0=140, seed=5)
    np.testing.assert_allclose(loaded.window_logits(loaded.features(x, 16000))[0],
                               bundle.window_logits(bundle.features(x, 16000))[0], rtol=1e-5, atol=1e-5)
    with pytest.raises(TrainError, match="train_ge2e_model"):  # not a gradient-trained model
        train(tiny_corpus, TrainConfig(model="ge2e_head"), log=lambda m: None)
    # like the fused model, it refuses an encoder other than the one it was fitted on
    payload = torch.load(path, weights_only=True)
    payload["record"]["ge2e_weights_sha256"] = "0" * 64
    torch.save(payload, tmp_path / "other.pt")
    with pytest.raises(BundleError, match="resemblyzer"):
        load_bundle(tmp_path / "other.pt")


def test_a_file_that_is_no_bundle_is_refused_in_one_line(tmp_path):
    import torch

    from detectors.voice_clone.scoring import BundleError, load_bundle

    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint" * 10)
    with pytest.raises(BundleError, match=r"not a voice model bundle \(torch cannot read it: \w+\)$"):
        load_bundle(junk)
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")  # a real checkpoint, but no bundle
    with pytest.raises(BundleError, match="unknown bundle format 'Tensor'"):
        load_bundle(tmp_path / "tensor.pt")


def test_eval_lists_files_too_short_to_score_instead_of_crashing(tmp_path):
    from detectors.voice_clone.datasets import Trial
    from detectors.voice_clone.detector import DEFAULT_WEIGHTS
    from detectors.voice_clone.evaluate import MIN_TRIAL_S, score_trials
    from detectors.voice_clone.scoring import load_bundle
    from fixtures.make_fixtures import write_audio

    short = tmp_path / "click.wav"
    write_audio(short, "wav", "pcm_s16le", seconds=0.01, rate=16000)
    longer = tmp_path / "tone.wav"
    write_audio(longer, "wav", "pcm_s16le", seconds=1.0, rate=16000)
    scored = score_trials(load_bundle(DEFAULT_WEIGHTS), [Trial(short, 0, "bonafide"), Trial(longer, 0, "bonafide")])
    assert [t.path for t in scored.trials] == [longer] and len(scored.failed) == 1
    assert "too short to score" in scored.failed[0] and str(MIN_TRIAL_S) in scored.failed[0]


def test_the_one_class_head_trains_saves_and_scores_toward_spoof_away_from_its_bona_fide_direction(tiny_corpus, tmp_path):
    import torch

    from detectors.voice_clone.models import ONE_CLASS_SCALE
    from detectors.voice_clone.scoring import load_bundle
    from detectors.voice_clone.train import TrainConfig, one_class_loss, train

    bundle = train(tiny_corpus, TrainConfig(epochs=1, batch_size=8, head="one_class"), log=lambda m: None).bundle
    path = tmp_path / "oc.pt"
    bundle.save(path)
    loaded = load_bundle(path)
    assert loaded.config.head == "one_class" and loaded.model.one_class
    feats = np.random.default_rng(0).standard_normal((400, bundle.config.n_features)).astype(np.float32)
    logits = loaded.window_logits(feats)[0]
    np.testing.assert_allclose(logits, bundle.window_logits(feats)[0], rtol=1e-5, atol=1e-5)
    assert np.all(np.abs(logits) <= ONE_CLASS_SCALE * 1.55 + 1e-4)  # a scaled cosine, bounded

    # OC-softmax: bona fide pays softplus(20 (0.9 - cos)), a spoof softplus(20 (cos - 0.2))
    loss = one_class_loss(torch.tensor(1.0))
    for cos in (-1.0, 0.0, 0.2, 0.55, 0.9, 1.0):
        z = ONE_CLASS_SCALE * (0.55 - torch.tensor([cos]))
        assert float(loss(z, torch.tensor([0.0]))) == pytest.approx(float(torch.nn.functional.softplus(torch.tensor(20 * (0.9 - cos)))), rel=1e-5)
        assert float(loss(z, torch.tensor([1.0]))) == pytest.approx(float(torch.nn.functional.softplus(torch.tensor(20 * (cos - 0.2)))), rel=1e-5)
