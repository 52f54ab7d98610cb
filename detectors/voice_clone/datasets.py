"""Readers for evaluation sets: our corpus and the public anti-spoofing layouts.

Each reader returns ``Trial`` values (path, label, family, speaker); the
evaluation code never looks at a layout. Public corpora are not shipped or
downloaded: point ``--dataset`` at a copy you have.

- ``corpus``: built by ``verifier corpus voice`` (protocol/<split>.txt + flac/)
- ``asvspoof2019``: ``SPEAKER FILE - ATTACK KEY`` protocol lines, audio in a
  ``flac/`` folder under the dataset (searched recursively)
- ``asvspoof5``: whitespace protocol whose tokens include the key
  (``bonafide``/``spoof``) and an attack tag like ``A11`` (or ``-``)
- ``itw``: In-the-Wild ``meta.csv`` with columns file, speaker, label
  (``bona-fide``/``spoof``)
- ``wavefake``: files under ``generated_audio/<vocoder>/`` are spoofs of
  family ``<vocoder>``; every other audio file is bona fide
- ``folder``: ``bonafide/**`` and ``spoof/<family>/**``
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Format = Literal["corpus", "asvspoof2019", "asvspoof5", "itw", "wavefake", "folder"]
AUDIO_EXT = {".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".gsm", ".aac"}


class DatasetError(RuntimeError):
    pass


@dataclass(frozen=True)
class Trial:
    path: Path
    label: int  # 1 spoof, 0 bona fide
    family: str  # "-" for bona fide
    speaker: str = "-"


def _audio_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXT and p.is_file())


def _audio_index(root: Path) -> dict[str, Path]:
    return {p.stem: p for p in _audio_files(root)}


def _protocol_trials(root: Path, protocol: Path, parse) -> list[Trial]:
    index = _audio_index(root)
    trials = []
    for line in protocol.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        parsed = parse(line.split())
        if parsed is None:
            continue
        speaker, fid, family, key = parsed
        if fid not in index:
            raise DatasetError(f"{protocol}: audio for {fid!r} not found under {root}")
        trials.append(Trial(index[fid], int(key == "spoof"), family if key == "spoof" else "-", speaker))
    return trials


def _parse_2019(tok: list[str]):
    if len(tok) < 5 or tok[-1] not in ("bonafide", "spoof"):
        return None
    return tok[0], tok[1], tok[3], tok[-1]


def _parse_5(tok: list[str]):
    keys = [t for t in tok if t in ("bonafide", "spoof")]
    if len(tok) < 3 or not keys:
        return None
    attacks = [t for t in tok if re.fullmatch(r"A\d\d", t)]
    return tok[0], tok[1], attacks[0] if attacks else "-", keys[-1]


def load_trials(root: Path, fmt: Format, protocol: Path | None = None, split: str = "eval") -> list[Trial]:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory")
    if fmt == "corpus":
        protocol = protocol or root / "protocol" / f"{split}.txt"
        if not protocol.is_file():
            raise DatasetError(f"{protocol}: no protocol file; is {root} a corpus built by `verifier corpus voice`?")
        trials = _protocol_trials(root / "flac", protocol, _parse_2019)
        meta = root / "metadata.csv"
        if meta.is_file():  # family names (world, hts, ...) rather than attack ids
            with open(meta, newline="", encoding="utf-8") as f:
                fam = {r["file_id"]: r["family"] for r in csv.DictReader(f)}
            trials = [Trial(t.path, t.label, fam.get(t.path.stem, t.family), t.speaker) for t in trials]
        return trials
    if fmt in ("asvspoof2019", "asvspoof5"):
        if protocol is None:
            found = sorted(root.rglob("*.txt"))
            found = [p for p in found if "protocol" in str(p).lower() or "trl" in p.name or "trn" in p.name]
            if len(found) != 1:
                raise DatasetError(f"{root}: give --protocol (found {len(found)} candidate protocol files)")
            protocol = found[0]
        return _protocol_trials(root, protocol, _parse_2019 if fmt == "asvspoof2019" else _parse_5)
    if fmt == "itw":
        meta = protocol or root / "meta.csv"
        if not meta.is_file():
            raise DatasetError(f"{meta}: In-the-Wild needs meta.csv (file,speaker,label)")
        with open(meta, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return [
            Trial(root / r["file"], int(r["label"].strip().lower() == "spoof"), "itw" if r["label"].strip().lower() == "spoof" else "-", r.get("speaker", "-"))
            for r in rows
        ]
    if fmt == "wavefake":
        trials = []
        # Every file, not an index by stem: each vocoder folder repeats the same names.
        for p in _audio_files(root):
            parts = p.relative_to(root).parts
            if "generated_audio" in parts and parts.index("generated_audio") + 2 < len(parts) + 1:
                i = parts.index("generated_audio")
                trials.append(Trial(p, 1, parts[i + 1] if i + 2 < len(parts) else "wavefake"))
            else:
                trials.append(Trial(p, 0, "-"))
        return trials
    if fmt == "folder":
        bona = sorted(p for p in (root / "bonafide").rglob("*") if p.suffix.lower() in AUDIO_EXT)
        spoof_root = root / "spoof"
        spoofs = sorted(p for p in spoof_root.rglob("*") if p.suffix.lower() in AUDIO_EXT) if spoof_root.is_dir() else []
        if not bona and not spoofs:
            raise DatasetError(f"{root}: expected bonafide/ and spoof/<family>/ folders with audio")
        fam = lambda p: p.relative_to(spoof_root).parts[0] if len(p.relative_to(spoof_root).parts) > 1 else "spoof"
        return [Trial(p, 0, "-") for p in bona] + [Trial(p, 1, fam(p)) for p in spoofs]
    raise DatasetError(f"unknown dataset format {fmt!r}")
