"""lfcc_ge2e fusion fitted for unseen families: CNNs trained without one family score it on dev.

Plumbing on a tiny synthetic corpus with two spoof families in every split;
what the rule buys on real data is measured in docs/voice.md (eleventh session).
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from detectors.voice_clone.corpus import CorpusConfig, build_corpus
from tests.voice.test_roundtrip import FAMILY, _fake_sources


@pytest.fixture(scope="module")
def two_family_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("voice2")
    cfg = CorpusConfig(seed=1, tts_per_voice=0, resynth_fraction=1.0, resynth_families=(FAMILY, "lpc"),
                       unseen_families=(), duration_bin_s=10.0)
    build_corpus(root / "corpus", cfg, bonafide_sources=_fake_sources(root / "src"), tts_voices=[])
    return root / "corpus"


@pytest.fixture(scope="module")
def cnns(two_family_corpus, tmp_path_factory) -> dict[str, Path]:
    from detectors.voice_clone.train import TrainConfig, train

    out = tmp_path_factory.mktemp("cnns")
    paths = {}
    for name, exclude in (("full", ()), ("no_lpc", ("lpc",))):
        cfg = TrainConfig(epochs=1, batch_size=8, exclude_families=exclude)
        paths[name] = out / f"{name}.pt"
        train(two_family_corpus, cfg, log=lambda m: None).bundle.save(paths[name])
    return paths


def test_stacked_fusion_records_its_folds_and_keeps_cnn_and_head(two_family_corpus, cnns):
    from detectors.voice_clone.scoring import load_bundle
    from detectors.voice_clone.train import TrainConfig
    from detectors.voice_clone.train_ge2e import train_ge2e_model

    cfg = TrainConfig(model="lfcc_ge2e")
    plain = train_ge2e_model(two_family_corpus, cfg, cnn_from=cnns["full"], log=lambda m: None)
    stacked = train_ge2e_model(two_family_corpus, cfg, cnn_from=cnns["full"], log=lambda m: None,
                               lofo_cnns={"lpc": cnns["no_lpc"]})
    assert plain.record["fusion"]["fitted_on"] == "dev" and plain.record["fusion"]["unseen_family_folds"] == {}
    fusion = stacked.record["fusion"]
    assert fusion["fitted_on"] == "dev + stacked leave-one-family-out"
    assert fusion["unseen_family_folds"]["lpc"]["cnn_sha256"] == load_bundle(cnns["no_lpc"]).sha256
    # only the fusion changes: the shipped CNN and the head fitted on all of train are the same
    for k, v in plain.model.state_dict().items():
        if not k.startswith("fusion."):
            assert torch.equal(stacked.model.state_dict()[k], v), k
    assert not np.allclose(fusion["weights"], plain.record["fusion"]["weights"])


def test_model_card_names_the_unseen_family_folds(two_family_corpus, cnns, tmp_path):
    from detectors.voice_clone.model_card import model_card
    from detectors.voice_clone.train import TrainConfig
    from detectors.voice_clone.train_ge2e import train_ge2e_model

    bundle = train_ge2e_model(two_family_corpus, TrainConfig(model="lfcc_ge2e"), cnn_from=cnns["full"],
                              log=lambda m: None, lofo_cnns={"lpc": cnns["no_lpc"]})
    bundle.save(tmp_path / "m.pt")
    card = model_card(tmp_path / "m.pt", [])
    assert "fusion (dev + stacked leave-one-family-out)" in card
    assert "  - lpc: CNN" in card


def test_stacked_fusion_refuses_a_cnn_that_saw_its_family(two_family_corpus, cnns):
    from detectors.voice_clone.train import TrainConfig, TrainError
    from detectors.voice_clone.train_ge2e import train_ge2e_model

    with pytest.raises(TrainError, match="--exclude-family lpc"):
        train_ge2e_model(two_family_corpus, TrainConfig(model="lfcc_ge2e"), cnn_from=cnns["full"],
                         log=lambda m: None, lofo_cnns={"lpc": cnns["full"]})
    # a family left out of the whole run leaves no fold: leave-one-family-out runs stay nested
    with pytest.raises(TrainError, match="none of the given CNNs"):
        train_ge2e_model(two_family_corpus, TrainConfig(model="lfcc_ge2e", exclude_families=("lpc",)),
                         cnn_from=cnns["no_lpc"], log=lambda m: None, lofo_cnns={"lpc": cnns["no_lpc"]})


def test_train_cli_explains_a_malformed_lofo_cnn(two_family_corpus, cnns, tmp_path):
    from verifier.cli import app

    args = ["train", "voice", "--corpus", str(two_family_corpus), "--model", "lfcc_ge2e", "--cnn-from", str(cnns["full"]),
            "--out", str(tmp_path / "m.pt")]
    r = CliRunner().invoke(app, [*args, "--lofo-cnn", str(cnns["no_lpc"])])
    assert r.exit_code == 1 and "--lofo-cnn wants FAMILY=PATH" in r.output
    r = CliRunner().invoke(app, [*args, "--lofo-cnn", f"lpc={cnns['no_lpc']}"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m.pt").is_file()
