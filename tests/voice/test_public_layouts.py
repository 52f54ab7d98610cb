"""Retrain and evaluate on a public data set's layout with one command each
(issue 4): `verifier train voice --dataset DIR --format F` then
`verifier eval voice --dataset DIR --format F`. The data sets themselves are
not here, so tiny stand-ins are written in their layouts (ASVspoof 2019 LA
with its train/dev/eval protocols, In-the-Wild's meta.csv, WaveFake's
folders); this checks the plumbing and the splits, not detection."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from detectors.voice_clone.datasets import DatasetError
from detectors.voice_clone.training_view import write_training_view
from tests.audio.helpers import voiced
from tests.audio.helpers import write_wav as _write_wav
from verifier.cli_eval import eval_app
from verifier.cli_train import train_app

RATE = 16000


def write_wav(path: Path, x: np.ndarray, rate: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_wav(path, x, rate)


def _audio(kind: str, k: int) -> np.ndarray:
    """Bona fide: a voiced signal; spoof: the same buzz through a flat, noisier source."""
    x = voiced(2.2, RATE, f0=110 + 7 * (k % 9), seed=k)
    if kind == "spoof":
        x = 0.6 * x + 0.05 * np.random.default_rng(k).standard_normal(len(x))
    return x.astype(np.float32)


def _asvspoof2019(root: Path) -> Path:
    flac = root / "LA" / "ASVspoof2019_LA_train" / "flac"
    flac.mkdir(parents=True)
    proto = root / "LA" / "ASVspoof2019_LA_cm_protocols"
    proto.mkdir(parents=True)
    k = 0
    for part, prefix, speakers in (("train", "T", ("LA_0079", "LA_0080")), ("dev", "D", ("LA_0069",)),
                                   ("eval", "E", ("LA_0039",))):
        lines = []
        for spk in speakers:
            for i in range(4):
                key = "spoof" if i % 2 else "bonafide"
                fid = f"LA_{prefix}_{k:07d}"
                write_wav(flac / f"{fid}.wav", _audio(key, k), RATE)
                lines.append(f"{spk} {fid} - {'A0' + str(1 + i % 2) if key == 'spoof' else '-'} {key}")
                k += 1
        name = f"ASVspoof2019.LA.cm.{part}.{'trn' if part == 'train' else 'trl'}.txt"
        (proto / name).write_text("\n".join(lines) + "\n")
    return root


def _itw(root: Path) -> Path:
    root.mkdir(parents=True)
    with open(root / "meta.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "speaker", "label"])
        for k in range(30):
            label = "spoof" if k % 2 else "bona-fide"
            write_wav(root / f"{k}.wav", _audio("spoof" if k % 2 else "bonafide", k), RATE)
            w.writerow([f"{k}.wav", f"speaker {k % 5}", label])
    return root


def _wavefake(root: Path) -> Path:
    for k in range(12):
        write_wav(root / "LJSpeech-1.1" / "wavs" / f"LJ001-{k:04d}.wav", _audio("bonafide", k), RATE)
        for voc in ("ljspeech_melgan", "ljspeech_hifiGAN"):
            write_wav(root / "generated_audio" / voc / f"LJ001-{k:04d}_gen.wav", _audio("spoof", 100 + k), RATE)
    return root


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(train_app, name="train")
    app.add_typer(eval_app, name="eval")
    return app


def _rows(view: Path) -> list[dict[str, str]]:
    with open(view / "metadata.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_asvspoof2019_trains_on_its_published_train_and_dev_and_never_reads_eval(tmp_path):
    root = _asvspoof2019(tmp_path / "ds")
    view = write_training_view(root, "asvspoof2019", tmp_path / "view")
    rows = _rows(view.directory)
    assert {r["split"] for r in rows} == {"train", "dev"}
    assert {r["speaker"] for r in rows if r["split"] == "dev"} == {"LA_0069"}
    assert not any(r["file_id"].startswith("LA_E_") for r in rows)
    assert "as published" in view.split_rule and view.counts["train"] == {"bonafide": 4, "spoof": 4}
    assert all(Path(r["path"]).is_file() for r in rows)


def test_itw_dev_is_a_share_of_speakers_none_in_both(tmp_path):
    view = write_training_view(_itw(tmp_path / "itw"), "itw", tmp_path / "view", dev_share=0.4, seed=3)
    rows = _rows(view.directory)
    train_spk = {r["speaker"] for r in rows if r["split"] == "train"}
    dev_spk = {r["speaker"] for r in rows if r["split"] == "dev"}
    assert len(dev_spk) == 2 and not train_spk & dev_spk and len(train_spk | dev_spk) == 5
    again = write_training_view(tmp_path / "itw", "itw", tmp_path / "view2", dev_share=0.4, seed=3)
    assert _rows(again.directory) == rows  # deterministic


def test_wavefake_repeated_stems_get_distinct_ids_and_families_are_the_vocoders(tmp_path):
    """Each vocoder folder repeats the same file names: the reader had
    indexed files by stem and kept one vocoder's copy of each."""
    from detectors.voice_clone.datasets import load_trials

    root = _wavefake(tmp_path / "wf")
    trials = load_trials(root, "wavefake")
    assert len(trials) == 36 and sum(t.label for t in trials) == 24
    view = write_training_view(root, "wavefake", tmp_path / "view", dev_share=0.3)
    rows = _rows(view.directory)
    assert len({r["file_id"] for r in rows}) == len(rows) == 36
    assert {r["family"] for r in rows if r["key"] == "spoof"} == {"ljspeech_melgan", "ljspeech_hifiGAN"}
    assert "by utterance" in view.split_rule
    split_of = {}
    for r in rows:  # an utterance and its vocoded copies never straddle train and dev
        split_of.setdefault(Path(r["path"]).stem.removesuffix("_gen"), set()).add(r["split"])
    assert all(len(s) == 1 for s in split_of.values()) and len(split_of) == 12


def test_a_split_without_both_classes_or_a_missing_file_is_refused(tmp_path):
    root = _itw(tmp_path / "itw")
    with open(root / "meta.csv", "a", newline="") as f:
        csv.writer(f).writerow(["gone.wav", "speaker 0", "spoof"])
    with pytest.raises(DatasetError, match="missing, e.g."):
        write_training_view(root, "itw", tmp_path / "view")
    only_bona = tmp_path / "folder"
    for k in range(4):
        write_wav(only_bona / "bonafide" / f"{k}.wav", _audio("bonafide", k), RATE)
    with pytest.raises(DatasetError, match="needs bona fide and spoof"):
        write_training_view(only_bona, "folder", tmp_path / "view2")


def test_one_command_to_retrain_one_to_evaluate_on_asvspoof2019(tmp_path):
    root = _asvspoof2019(tmp_path / "ds")
    model = tmp_path / "m.pt"
    runner = CliRunner()
    r = runner.invoke(_cli(), ["train", "voice", "--dataset", str(root), "--format", "asvspoof2019",
                               "--out", str(model), "--epochs", "1", "--batch-size", "4"])
    assert r.exit_code == 0, r.output
    record = json.loads(r.stdout[r.stdout.index("{"):])["record"]
    assert record["corpus"] == str(tmp_path / "m.pt.training-view")
    out = tmp_path / "ev"
    protocol = root / "LA" / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"
    r = runner.invoke(_cli(), ["eval", "voice", "--dataset", str(root), "--format", "asvspoof2019",
                               "--protocol", str(protocol), "--model", str(model), "--out", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["dataset"]["trials"] == 4 and 0.0 <= m["overall"]["eer"] <= 1.0


def test_train_cli_wants_exactly_one_source(tmp_path):
    runner = CliRunner()
    r = runner.invoke(_cli(), ["train", "voice", "--out", str(tmp_path / "m.pt")])
    assert r.exit_code == 2 and "either --corpus" in r.output
    r = runner.invoke(_cli(), ["train", "voice", "--dataset", str(tmp_path), "--out", str(tmp_path / "m.pt")])
    assert r.exit_code == 2 and "needs --format" in r.output
    r = runner.invoke(_cli(), ["train", "voice", "--dataset", str(tmp_path), "--format", "itw", "--out", str(tmp_path / "m.pt")])
    assert r.exit_code == 2 and "meta.csv" in r.output
