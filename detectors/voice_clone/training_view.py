"""Train on a public anti-spoofing data set in place: a training view of it.

`verifier train voice --dataset DIR --format asvspoof2019|asvspoof5|itw|wavefake|folder`
reads the data set where it lies (nothing is copied or converted) and writes
only a ``metadata.csv`` beside the model - which files were used, as which
split, class, family and speaker - in the layout the trainer reads from a
corpus made by `verifier corpus voice`. Keeping that file next to the model
makes the training run auditable: the bundle records its directory.

Splits. The trainer uses ``train`` to fit and ``dev`` to pick the epoch and
calibrate; it never reads an ``eval`` split (score that with
`verifier eval voice`). ASVspoof 2019 LA and ASVspoof 5 ship their own train
and dev protocols: they are used as published. The other layouts have no
published split: dev is a deterministic share of the speakers (a seeded
draw), or of the files when speakers are unknown (WaveFake, folder), so no
speaker is in both.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from detectors.voice_clone.datasets import DatasetError, Format, Trial, load_trials

VIEW_COLUMNS = ("file_id", "split", "key", "family", "speaker", "path")
PROTOCOL_SUFFIXES = (".txt", ".tsv")


@dataclass(frozen=True)
class TrainingView:
    directory: Path
    counts: dict[str, dict[str, int]]  # split -> {"bonafide": n, "spoof": n}
    split_rule: str


def _protocol_for(root: Path, part: str) -> Path | None:
    """The one protocol file of ``part`` ("train" or "dev") under ``root``, if the set has one."""
    found = sorted(p for p in root.rglob("*") if p.suffix.lower() in PROTOCOL_SUFFIXES and p.is_file()
                   and part in p.name.lower() and ("protocol" in str(p).lower() or "asvspoof" in p.name.lower()
                                                   or "trn" in p.name or "trl" in p.name))
    if len(found) > 1:
        raise DatasetError(f"{root}: {len(found)} candidate {part} protocols ({', '.join(p.name for p in found[:4])}); "
                           f"give --protocol for train and --dev-protocol for dev")
    return found[0] if found else None


def _split_by_group(trials: list[Trial], dev_share: float, seed: int) -> tuple[dict[int, str], str]:
    """Dev gets a seeded share of the speakers, or of the files when no speaker is known."""
    speakers = sorted({t.speaker for t in trials if t.speaker != "-"})
    if len(speakers) >= 2:
        rng = random.Random(seed)
        shuffled = speakers[:]
        rng.shuffle(shuffled)
        n_dev = max(1, round(dev_share * len(shuffled)))
        dev = set(shuffled[:n_dev])
        rule = f"by speaker: {n_dev} of {len(speakers)} speakers in dev (seed {seed})"
        return {i: ("dev" if t.speaker in dev else "train") for i, t in enumerate(trials)}, rule

    def draw(t: Trial) -> float:
        # By utterance: WaveFake's vocoded copies (LJ001-0001_gen) go where the original goes.
        utterance = t.path.stem.removesuffix("_gen")
        h = hashlib.sha256(f"{seed}:{utterance}".encode()).digest()
        return int.from_bytes(h[:8], "big") / 2**64

    rule = (f"by utterance (no speakers in this layout): {dev_share:.0%} of the utterances in dev, "
            f"each with its vocoded copies (seed {seed})")
    return {i: ("dev" if draw(t) < dev_share else "train") for i, t in enumerate(trials)}, rule


def _file_id(t: Trial, taken: set[str]) -> str:
    base = t.path.stem
    fid, k = base, 1
    while fid in taken:  # WaveFake repeats LJSpeech stems across vocoder folders
        k += 1
        fid = f"{base}~{k}"
    taken.add(fid)
    return fid


def write_training_view(root: Path, fmt: Format, out_dir: Path, protocol: Path | None = None,
                        dev_protocol: Path | None = None, dev_share: float = 0.2, seed: int = 0) -> TrainingView:
    root = Path(root)
    if fmt == "corpus":
        raise DatasetError("a corpus from `verifier corpus voice` is trained on directly: use --corpus")
    if not 0.0 < dev_share < 1.0:
        raise DatasetError(f"--dev-share must be between 0 and 1, not {dev_share}")
    rows: list[tuple[str, Trial]] = []
    if fmt in ("asvspoof2019", "asvspoof5"):
        train_p = protocol or _protocol_for(root, "train")
        dev_p = dev_protocol or (_protocol_for(root, "dev") if protocol is None else None)
        if train_p is None:
            raise DatasetError(f"{root}: no train protocol found (a file named like *train*.txt/.tsv); give --protocol")
        train_trials = load_trials(root, fmt, protocol=train_p)
        if dev_p is not None:
            rows = [("train", t) for t in train_trials] + [("dev", t) for t in load_trials(root, fmt, protocol=dev_p)]
            rule = f"as published: train {train_p.name}, dev {dev_p.name}"
        else:
            split, rule = _split_by_group(train_trials, dev_share, seed)
            rows = [(split[i], t) for i, t in enumerate(train_trials)]
            rule = f"{train_p.name} only, {rule}"
    else:
        trials = load_trials(root, fmt, protocol=protocol)
        split, rule = _split_by_group(trials, dev_share, seed)
        rows = [(split[i], t) for i, t in enumerate(trials)]
    missing = [t.path for _, t in rows if not t.path.is_file()]
    if missing:
        raise DatasetError(f"{root}: {len(missing)} listed audio files are missing, e.g. {missing[0]}")
    counts: dict[str, Counter] = {"train": Counter(), "dev": Counter()}
    for s, t in rows:
        counts[s]["spoof" if t.label else "bonafide"] += 1
    for s in ("train", "dev"):
        if not counts[s]["bonafide"] or not counts[s]["spoof"]:
            raise DatasetError(f"{root}: the {s} split ({rule}) needs bona fide and spoof files; it has "
                               f"{counts[s]['bonafide']} bona fide and {counts[s]['spoof']} spoof")
    out_dir.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    with open(out_dir / "metadata.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(VIEW_COLUMNS)
        for s, t in rows:
            w.writerow([_file_id(t, taken), s, "spoof" if t.label else "bonafide", t.family if t.label else "-",
                        t.speaker, str(t.path.resolve())])
    (out_dir / "SPLIT.txt").write_text(f"dataset {root.resolve()} (format {fmt})\nsplit {rule}\n", encoding="utf-8")
    return TrainingView(out_dir, {s: dict(c) for s, c in counts.items()}, rule)
