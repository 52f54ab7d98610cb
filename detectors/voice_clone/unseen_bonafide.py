"""False alarms on natural bona fide speech from speakers and microphones the corpus never saw.

One command, reproducible::

    python -m detectors.voice_clone.unseen_bonafide --model MODEL.pt --out DIR [--verify]

Two test sets (nothing of either is copied into the repository):

Set A, sources the corpus never uses (read from ``--fsdd`` and ``--jfk``):

- FSDD (free-spoken-digit-dataset, CC-BY-SA-4.0): for each of its 6 speakers the
  50 recordings, sorted by (take, digit), joined 5 at a time as they are (no
  gap inserted: the recordings keep their own short silences) into 10 digit
  strings of ~2-4 s at the original 8 kHz; 60 files.
- the JFK inaugural clip from whisper's test data (11 s, 16 kHz), as is.

Set B (``--heldout-speakers``), the corpus' eval-split speakers as published:
every bona fide source whose split is ``eval`` (never trained on, never
calibrated on), without the corpus chain (no band limit, codec, noise or
loudness change): what a user would submit. Up to ``--per-speaker``
recordings of at least 2 s per speaker, picked with a fixed seed; grouped
sources (single words) are joined as the corpus joins them. Written as WAV at
the native rate. Same packages and rooms as training, other people: a milder
test than set A, but large enough (hundreds of files) to put a bound near 1 %.

Set C (``--broadcast``), real broadcast speech from the shared media folder:
the four HDTF radio-address clips SadTalker ships as driving audio
(``RD_Radio*.wav``, 8 s, labelled real in the inventory) and the audio tracks of
its two real reference videos (``WDA_*.mp4``, 8 s). Wide-band, studio and
web-video sound, unlike anything in the corpus; six files only, so it can show
a problem, not bound a rate.

Two measurements:

- model level: the file-level calibrated LLR exactly as ``verifier eval voice``
  computes it (mean window logit over the whole file, then calibration); false
  alarms at LLR > 0 and LLR > 1 (``bonafide_false_alarm`` in ``metrics.json``);
- ``--verify``: the fraction whose ``verifier verify --detectors voice_clone
  --profile finance --no-ledger --json`` verdict is ``likely_manipulated``
  (one process over the folder; the model path goes in ``VERIFIER_VOICE_MODEL``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from verifier.shared_dir import shared_dir

MEDIA = shared_dir() / "media"
FSDD = MEDIA / "audio/fsdd/recordings"
JFK = MEDIA / "audio/whisper/tests/jfk.flac"
BROADCAST = ("audio/sadtalker/examples/driven_audio/RD_Radio*.wav", "video/sadtalker/examples/ref_video/WDA_*.mp4")
DIGITS_PER_FILE = 5


def build_fsdd_strings(fsdd_dir: Path, out_dir: Path, per_file: int = DIGITS_PER_FILE) -> list[Path]:
    """Join each speaker's recordings ``per_file`` at a time (sorted by take, then digit)."""
    from audio.decode import decode_audio
    from audio.encode import write_audio

    by_speaker: dict[str, list[tuple[int, int, Path]]] = defaultdict(list)
    for p in sorted(Path(fsdd_dir).glob("*.wav")):
        m = re.fullmatch(r"(\d)_(.+)_(\d+)", p.stem)
        if m:
            by_speaker[m.group(2)].append((int(m.group(3)), int(m.group(1)), p))
    out_dir.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for spk, recs in sorted(by_speaker.items()):
        recs.sort()
        for k in range(0, len(recs) - per_file + 1, per_file):
            parts = [decode_audio(p, target_rate=None) for _, _, p in recs[k : k + per_file]]
            rate = parts[0].sample_rate
            if any(d.sample_rate != rate for d in parts):
                raise ValueError(f"{spk}: recordings at different sample rates")
            x = np.concatenate([d.samples for d in parts])
            path = out_dir / f"fsdd_{spk}_{k // per_file:02d}.wav"
            write_audio(path, x, rate, "wav")
            out.append(path)
    return out


MIN_HELDOUT_S = 2.0


def build_heldout_speaker_files(out_dir: Path, per_speaker: int = 40, seed: int = 0) -> list[Path]:
    """Raw recordings of the corpus' eval-split speakers (see set B above)."""
    from audio.decode import AudioDecodeError
    from audio.encode import write_audio
    from detectors.voice_clone.sources import BONAFIDE_SOURCES, TtsError, recording_loaders

    out_dir.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for src in BONAFIDE_SOURCES:
        if src.split != "eval" or not src.root.is_dir():
            continue
        picked = 0
        for uid, load in recording_loaders(src, seed):
            if picked >= per_speaker:
                break
            try:
                x, rate = load()
            except (AudioDecodeError, TtsError):
                continue
            if len(x) < MIN_HELDOUT_S * rate:
                continue
            out.append(write_audio(out_dir / f"heldout_{src.name}_{picked:03d}_{uid}.wav", x, rate, "wav"))
            picked += 1
    return out


def collect_broadcast(media: Path, out_dir: Path) -> list[Path]:
    """Set C copied under names whose second field is the clip (one voice each, for ``speaker_of``)."""
    import shutil

    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for pattern in BROADCAST:
        for src in sorted(media.glob(pattern)):
            dst = out_dir / f"broadcast_{src.stem.replace('_', '')}_0{src.suffix}"
            shutil.copyfile(src, dst)
            files.append(dst)
    return files


def score_files(model: Path, files: list[Path]) -> list[dict]:
    import torch

    from audio.decode import decode_audio
    from detectors.voice_clone.scoring import load_bundle

    torch.set_num_threads(1)
    b = load_bundle(model)
    rows = []
    for f in files:
        d = decode_audio(f, max_duration_s=600)
        s = b.score(d.samples, d.sample_rate)
        llr = float(b.calibration.llr10([s])[0]) if b.calibration else s / np.log(10)
        rows.append({"file": f.name, "duration_s": round(d.duration_s, 3), "raw": s, "llr": llr})
    return rows


def verify_labels(model: Path, folder: Path, verifier: str = "verifier", data_dir: Path | None = None) -> dict[str, dict]:
    env = dict(os.environ, VERIFIER_VOICE_MODEL=str(model), OMP_NUM_THREADS="1")
    cmd = [verifier, "verify", str(folder), "--detectors", "voice_clone", "--profile", "finance", "--no-ledger", "--json"]
    if data_dir is not None:  # keep the evidence copies out of the user's data dir
        cmd += ["--data-dir", str(data_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    out: dict[str, dict] = {}
    for line in proc.stdout.splitlines():
        if not line.strip().startswith("{"):
            continue
        d = json.loads(line)
        name = Path(str(d.get("input", {}).get("path") or d.get("input", {}).get("name") or "")).name
        f = next((f for f in d.get("findings", []) if f.get("detector") == "voice_clone"), {})
        out[name] = {
            "label": (d.get("verdict") or {}).get("label", "error"),
            "verdict_llr": (d.get("verdict") or {}).get("llr"),
            "applicable": f.get("applicable"),
            "detector_llr": f.get("llr"),
            "reason": f.get("reason") or d.get("error"),
        }
    if not out:
        raise RuntimeError(f"verify produced no JSON (exit {proc.returncode}): {proc.stderr[-500:]}")
    return out


def measure(model: Path, audio_dir: Path, files: list[Path], verify: bool, verifier: str, data_dir: Path) -> dict:
    """Model-level and (optionally) ``verify``-level false alarms over ``files`` (all in ``audio_dir``)."""
    rows = score_files(model, files)
    llr = np.array([r["llr"] for r in rows])
    res: dict = {
        "files": len(rows),
        "model_level": {
            "fa_llr_gt_0": float(np.mean(llr > 0)),
            "fa_llr_gt_1": float(np.mean(llr > 1)),
            "median_llr": float(np.median(llr)),
        },
        "per_file": rows,
    }
    if verify:
        labels = verify_labels(model, audio_dir, verifier, data_dir)
        for r in rows:
            r["verify"] = labels.get(r["file"], {"label": "missing"})
        lab = [r["verify"]["label"] for r in rows]
        n_flagged = sum(x == "likely_manipulated" for x in lab)
        flags: dict[str, list[bool]] = defaultdict(list)
        for r in rows:
            flags[speaker_of(r["file"])].append(r["verify"]["label"] == "likely_manipulated")
        res["verify_finance"] = {
            "likely_manipulated": n_flagged / len(lab),
            "likely_manipulated_upper95": _upper95(n_flagged, len(lab)),
            "labels": {k: lab.count(k) for k in sorted(set(lab))},
            "detector_not_applicable": sum(r["verify"].get("applicable") is False for r in rows),
            "by_speaker": speaker_level(flags),
        }
    return res


def speaker_of(file: str) -> str:
    """The voice a set's file name encodes (``fsdd_<speaker>_NN``, ``heldout_<source>_NNN_<uid>``); else the file."""
    parts = file.split("_")
    return parts[1] if len(parts) > 2 else file


def speaker_level(flags: dict[str, list[bool]], n_boot: int = 10_000, seed: int = 0) -> dict:
    """False alarms counted by voice, because they cluster by voice.

    One speaker flagged on most of their files makes the file-level
    Clopper-Pearson bound, which takes files as independent, too optimistic.
    Two views that do not assume that: how many voices had any file flagged
    (with its own bound), and a bootstrap over speakers of the file rate (each
    resample draws speakers with replacement and pools their files). With a
    dozen speakers both are rough; they are reported beside the file bound,
    not instead of it.
    """
    speakers = sorted(flags)
    if not speakers:
        raise ValueError("no files to count")
    flagged = np.array([sum(flags[s]) for s in speakers])
    n = np.array([len(flags[s]) for s in speakers])
    k = int(np.count_nonzero(flagged))
    idx = np.random.default_rng(seed).integers(0, len(speakers), size=(n_boot, len(speakers)))
    rates = flagged[idx].sum(axis=1) / n[idx].sum(axis=1)
    return {
        "speakers": len(speakers),
        "speakers_flagged": k,
        "speakers_flagged_upper95": _upper95(k, len(speakers)),
        "file_rate_speaker_bootstrap_upper95": float(np.quantile(rates, 0.95)),
        "flagged_files_by_speaker": {s: [int(f), int(m)] for s, f, m in zip(speakers, flagged, n) if f},
    }


def _upper95(k: int, n: int) -> float:
    """One-sided 95 % Clopper-Pearson upper bound on a rate seen k times in n."""
    from scipy.stats import beta

    return 1.0 if k >= n else float(beta.ppf(0.95, k + 1, n - k))


def run(model: Path, out: Path, fsdd: Path = FSDD, jfk: Path = JFK, verify: bool = False, verifier: str = "verifier",
        heldout_speakers: bool = False, per_speaker: int = 40, broadcast: bool = False) -> dict:
    audio_dir = out / "audio"
    files = build_fsdd_strings(fsdd, audio_dir)
    if jfk.is_file():
        import shutil

        dst = audio_dir / jfk.name
        shutil.copyfile(jfk, dst)
        files.append(dst)
    res: dict = {"model": str(model), **measure(model, audio_dir, files, verify, verifier, out / "verifier_data")}
    res["fsdd_files"] = sum(r["file"].startswith("fsdd_") for r in res["per_file"])
    res["model_level"]["jfk_llr"] = next((r["llr"] for r in res["per_file"] if not r["file"].startswith("fsdd_")), None)
    if heldout_speakers:
        h_dir = out / "heldout_audio"
        h_files = build_heldout_speaker_files(h_dir, per_speaker)
        h = measure(model, h_dir, h_files, verify, verifier, out / "verifier_data_heldout")
        by_src: dict[str, list[float]] = defaultdict(list)
        for r in h["per_file"]:
            by_src[speaker_of(r["file"])].append(r["llr"])
        h["per_speaker_fa_llr_gt_0"] = {k: [round(float(np.mean(np.array(v) > 0)), 3), len(v)] for k, v in sorted(by_src.items())}
        res["heldout_speakers"] = h
    if broadcast:
        b_dir = out / "broadcast_audio"
        b_files = collect_broadcast(MEDIA, b_dir)
        if not b_files:
            raise FileNotFoundError(f"no broadcast speech under {MEDIA} ({', '.join(BROADCAST)})")
        res["broadcast"] = measure(model, b_dir, b_files, verify, verifier, out / "verifier_data_broadcast")
    out.mkdir(parents=True, exist_ok=True)
    (out / "unseen_bonafide.json").write_text(json.dumps(res, indent=2) + "\n")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--fsdd", type=Path, default=FSDD)
    ap.add_argument("--jfk", type=Path, default=JFK)
    ap.add_argument("--verify", action="store_true", help="also run `verifier verify` (finance profile) on every file")
    ap.add_argument("--verifier", default=str(Path(sys.executable).with_name("verifier")))
    ap.add_argument("--heldout-speakers", action="store_true", help="also set B: the corpus' eval-split speakers, raw")
    ap.add_argument("--per-speaker", type=int, default=40)
    ap.add_argument("--broadcast", action="store_true", help="also set C: real broadcast speech from the shared media")
    a = ap.parse_args(argv)
    res = run(a.model, a.out, a.fsdd, a.jfk, a.verify, a.verifier, a.heldout_speakers, a.per_speaker, a.broadcast)
    summary = {k: v for k, v in res.items() if k != "per_file"}
    for key in ("heldout_speakers", "broadcast"):
        if key in summary:  # the per-file rows stay in the JSON file
            summary[key] = {k: v for k, v in summary[key].items() if k != "per_file"}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
