"""Spliced-clone attack: how much of a call must be synthetic before `verify` notices?

The finance scenario is rarely a whole synthetic call. A forger keeps a real
recording of the executive and replaces one sentence ("...and wire it to this
account today"). The detector's file score is the mean window logit over the
speech, the statistic its calibration was fitted on, so a short splice is
diluted by the genuine remainder. This module measures that dilution on data
the model never saw, without the training corpus:

1. "calls" of about 40 s (``--lengths``: several lengths used in turn):
   recordings of the corpus' eval-split speakers (asterisk June and Armelle,
   pocketsphinx, KLettres fr/he/hu/nl, Tux Paint and KTuberling ca/el/fr/nl;
   never trained or calibrated on), concatenated per speaker with 0.2 s
   pauses; ``--split dev`` takes the dev-split speakers instead, whose calls
   ``call_fit`` fits the detector's call-level calibration on;
2. for each resynthesis family (WORLD, Griffin-Lim, the GAN vocoder): the
   whole call resynthesised, and the middle 50 %, 25 % and 10 % of it
   replaced by the same span of that resynthesis (same words, same speaker,
   same timing; 10 ms crossfades) - the cleanest splice there is;
3. every version through the `voice_clone` detector exactly as `verify` runs
   it (Silero VAD, 4 s windows, the shipped bundle), recording the
   calibrated file LLR and the window logits in time order.

Reported per family and spliced share: the fraction `verify --profile
finance` would label likely_manipulated (file LLR >= 1), the median LLR, and
the AUC of the originals against the spliced versions for three file
statistics: the mean window logit (what detector versions up to 0.3.0 reported), the
maximum window logit (what version 0.4.0 reports, mapped by the call-level
calibration ``call_fit`` fits on dev-split files) and the mean of the top
quarter of windows. ``--whole-files`` scores genuine single recordings and
whole TTS files instead, which ``call_fit`` also needs. ``--long-calls``
scores genuine calls only, of the ``--lengths`` given (e.g. 600 s), from
every split (the fit saw files up to 60 s; the strongest of more windows
runs higher by chance).

    python -m detectors.voice_clone.splice_eval --out /tmp/splice [--calls-per-speaker 4] [--split dev] [--lengths 10,20,40,60] [--whole-files]
    python -m detectors.voice_clone.splice_eval --out /tmp/long --long-calls --lengths 600 --calls-per-speaker 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALL_S = 40.0
PAUSE_S = 0.2
FRACTIONS = (1.0, 0.5, 0.25, 0.1)
FAMILIES = ("world", "griffinlim", "neural")
RATE = 16000
FADE_S = 0.01


@dataclass(frozen=True)
class Call:
    speaker: str
    index: int
    samples: np.ndarray  # 16 kHz mono float32


def build_calls(per_speaker: int, seed: int = 0, split: str = "eval",
                lengths_s: tuple[float, ...] = (CALL_S,)) -> list[Call]:
    """Up to ``per_speaker`` calls for every ``split`` speaker installed here.

    A speaker's calls take their lengths from ``lengths_s`` in turn (one
    length: every call about that long), so a statistic fitted on them sees
    short voice notes and long calls alike.
    """
    from audio.decode import AudioDecodeError
    from audio.resample import resample
    from detectors.voice_clone.sources import BONAFIDE_SOURCES, TtsError, recording_loaders

    calls: list[Call] = []
    pause = np.zeros(int(PAUSE_S * RATE), np.float32)
    for src in BONAFIDE_SOURCES:
        if src.split != split or not src.root.is_dir():
            continue
        parts: list[np.ndarray] = []
        got = 0.0
        want = lengths_s[0]
        for _, load in recording_loaders(src, seed, target_rate=RATE):
            if len(calls) and sum(c.speaker == src.name for c in calls) >= per_speaker:
                break
            try:
                x, rate = load()
            except (AudioDecodeError, TtsError):
                continue
            x = resample(np.asarray(x, np.float32), rate, RATE)
            parts += [x, pause]
            got += len(x) / RATE + PAUSE_S
            if got >= want:
                n = sum(c.speaker == src.name for c in calls)
                calls.append(Call(src.name, n, np.concatenate(parts)))
                parts, got, want = [], 0.0, lengths_s[(n + 1) % len(lengths_s)]
    return calls


def resynthesise(family: str, x: np.ndarray, seed: int) -> np.ndarray:
    from detectors.voice_clone import vocoders

    rng = np.random.default_rng(seed)
    fn = {"world": vocoders.world_resynth, "griffinlim": vocoders.griffinlim_resynth,
          "neural": vocoders.neural_resynth}[family]
    return np.asarray(fn(x, RATE, rng), np.float32)


def splice(original: np.ndarray, synthetic: np.ndarray, fraction: float) -> np.ndarray:
    """The middle ``fraction`` of ``original`` replaced by the same span of ``synthetic``."""
    if fraction >= 1.0:
        return synthetic.copy()
    n = len(original)
    a = int(n * (0.5 - fraction / 2))
    b = int(n * (0.5 + fraction / 2))
    fade = int(FADE_S * RATE)
    w = np.zeros(n, np.float32)
    w[a:b] = 1.0
    w[a : a + fade] = np.linspace(0, 1, fade, dtype=np.float32)
    w[b - fade : b] = np.linspace(1, 0, fade, dtype=np.float32)
    return (1 - w) * original + w * synthetic


def score_file(path: Path) -> dict:
    """The voice_clone finding for ``path`` as `verify` computes it, plus window statistics."""
    from detectors.base import DetectorContext
    from detectors.voice_clone.detector import VoiceCloneDetector
    from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo

    media = MediaInfo(kind=MediaKind.audio, mime_type="audio/wav", streams=[StreamInfo(index=0, kind="audio")])
    ctx = DetectorContext(path=path, media=media, provenance=ProvenanceResult(state=ProvenanceState.absent))
    f = VoiceCloneDetector().analyze(ctx)
    if not f.applicable:
        return {"applicable": False, "reason": f.reason}
    from detectors.voice_clone.call_score import call_features

    logits = np.array([s.score for s in f.segments], np.float64)
    mean, strongest, quarter = call_features(logits, ("mean", "max", "top_quarter"))
    return {"applicable": True, "llr": f.llr, "mean": float(mean), "max": float(strongest),
            "top_quarter": float(quarter), "windows": int(len(logits)),
            "logits": [round(float(v), 4) for v in logits],
            "starts": [round(s.start_s, 3) for s in f.segments]}


def _auc(neg: list[float], pos: list[float]) -> float | None:
    from detectors.metrics import auc_between

    return round(float(auc_between(pos, neg)), 4) if neg and pos else None


def summarise(rows: list[dict]) -> dict:
    every_orig = [r for r in rows if r["family"] == "original"]
    orig = [r for r in every_orig if r["applicable"]]
    out: dict = {"calls": len(every_orig), "speakers": sorted({r["speaker"] for r in every_orig}),
                 "original": {"n": len(orig), "declined": len(every_orig) - len(orig),
                              "likely_manipulated": _share([r["llr"] >= 1 for r in orig]),
                              "median_llr": _median([r["llr"] for r in orig])}}
    for fam in FAMILIES:
        for frac in FRACTIONS:
            every = [r for r in rows if r["family"] == fam and r["fraction"] == frac]
            sub = [r for r in every if r["applicable"]]
            key = f"{fam}/{int(round(frac * 100))}%"
            out[key] = {
                "n": len(sub),
                "declined": len(every) - len(sub),
                "likely_manipulated": _share([r["llr"] >= 1 for r in sub]),
                "median_llr": _median([r["llr"] for r in sub]),
                **{f"auc_{stat}": _auc([r[stat] for r in orig], [r[stat] for r in sub])
                   for stat in ("mean", "max", "top_quarter")},
            }
    return out


def _share(flags: list[bool]) -> float | None:
    return round(float(np.mean(flags)), 4) if flags else None


def _median(v: list[float]) -> float | None:
    return round(float(np.median(v)), 3) if v else None


def table(summary: dict) -> str:
    lines = ["| family / spliced share | scored (declined) | finance likely_manipulated | median LLR | AUC mean | AUC max window (reported) | AUC top quarter |",
             "|---|---|---|---|---|---|---|",
             f"| original (bona fide) | {summary['original']['n']} ({summary['original']['declined']}) | "
             f"{summary['original']['likely_manipulated']} | {summary['original']['median_llr']} | - | - | - |"]
    for key, v in summary.items():
        if "/" not in key:
            continue
        lines.append(f"| {key} | {v['n']} ({v['declined']}) | {v['likely_manipulated']} | {v['median_llr']} | {v['auc_mean']} | "
                     f"{v['auc_max']} | {v['auc_top_quarter']} |")
    return "\n".join(lines)


def run(out: Path, per_speaker: int, seed: int = 0, log=print, split: str = "eval",
        lengths_s: tuple[float, ...] = (CALL_S,)) -> dict:
    from audio.encode import write_audio

    out.mkdir(parents=True, exist_ok=True)
    audio_dir = out / "audio"
    audio_dir.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    calls = build_calls(per_speaker, seed, split, lengths_s)
    if not calls:
        raise SystemExit(f"no {split}-split bona fide speech installed: see docs/voice.md for the Debian packages")
    log(f"{len(calls)} calls from {len({c.speaker for c in calls})} speakers ({time.perf_counter() - t0:.0f} s)")
    rows: list[dict] = []
    for i, c in enumerate(calls):
        stem = f"{c.speaker}_{c.index:02d}"
        versions = [("original", 1.0, c.samples)]
        for fam in FAMILIES:
            synth = resynthesise(fam, c.samples, seed + i)
            versions += [(fam, frac, splice(c.samples, synth, frac)) for frac in FRACTIONS]
        for fam, frac, x in versions:
            p = write_audio(audio_dir / f"{stem}_{fam}_{int(round(frac * 100))}.wav", x, RATE, "wav")
            rows.append({"speaker": c.speaker, "call": stem, "family": fam, "fraction": frac,
                         "seconds": round(len(x) / RATE, 2), **score_file(p)})
        log(f"call {i + 1}/{len(calls)} {stem} done ({time.perf_counter() - t0:.0f} s)")
    summary = summarise(rows)
    (out / "splice_eval.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
    (out / "splice_eval.md").write_text(table(summary) + "\n")
    return summary


SINGLES_PER_SPEAKER = 12
TTS_SENTENCES_PER_VOICE = 6


def whole_file_rows(split: str, lengths_s: tuple[float, ...], audio_dir: Path, seed: int = 0, log=print) -> list[dict]:
    """Files a call-level map must also get right, scored as ``verify`` scores them:

    - ``original_single``: a speaker's recordings one at a time, as published
      (voice notes of a few seconds: one or two windows);
    - ``tts_<family>``: the split's TTS voices, whole files: single sentences
      and calls of ``lengths_s`` made of sentences with 0.3 s pauses.
    """
    import random

    from audio.decode import AudioDecodeError
    from audio.encode import write_audio
    from audio.resample import resample
    from detectors.voice_clone.sources import (
        BONAFIDE_SOURCES,
        TTS_VOICES,
        TtsError,
        recording_loaders,
        synthesize,
        voice_available,
    )
    from detectors.voice_clone.texts import render

    rows: list[dict] = []
    for src in BONAFIDE_SOURCES:
        if src.split != split or not src.root.is_dir():
            continue
        for k, (_, load) in enumerate(recording_loaders(src, seed, target_rate=RATE)[:SINGLES_PER_SPEAKER]):
            try:
                x, rate = load()
            except (AudioDecodeError, TtsError):
                continue
            p = write_audio(audio_dir / f"{src.name}_single_{k:02d}.wav", resample(np.asarray(x, np.float32), rate, RATE), RATE, "wav")
            rows.append({"speaker": src.name, "call": p.stem, "family": "original_single", "fraction": 1.0,
                         "seconds": round(len(x) / rate, 2), **score_file(p)})
    for v in TTS_VOICES:
        if v.split != split or not voice_available(v):
            continue
        rng = random.Random(f"{seed}:{v.speaker}")
        wants = [0.0] * TTS_SENTENCES_PER_VOICE + list(lengths_s)
        for k, want in enumerate(wants):
            parts: list[np.ndarray] = []
            got = 0.0
            while not parts or got < want:
                x, rate = synthesize(v, render(v.lang, rng.randrange(1000), rng))
                x = resample(np.asarray(x, np.float32), rate, RATE)
                parts += [x, np.zeros(int(PAUSE_S * RATE * 1.5), np.float32)]
                got += len(x) / RATE + PAUSE_S * 1.5
            y = np.concatenate(parts)
            p = write_audio(audio_dir / f"{v.speaker}_{k:02d}.wav", y, RATE, "wav")
            rows.append({"speaker": v.speaker, "call": p.stem, "family": f"tts_{v.family}", "fraction": 1.0,
                         "seconds": round(len(y) / RATE, 2), **score_file(p)})
        log(f"{v.speaker}: {len(wants)} files")
    return rows


def long_call_rows(length_s: float, per_speaker: int, audio_dir: Path, seed: int = 0, log=print) -> list[dict]:
    """Genuine calls of about ``length_s`` (those reaching 90 % of it) from
    every split's speakers, as ``verify`` judges them; train-split voices
    are labelled, as the model saw their other recordings."""
    from audio.encode import write_audio

    rows = []
    for split in ("eval", "dev", "train"):
        for c in build_calls(per_speaker, seed, split, (length_s,)):
            if len(c.samples) < 0.9 * length_s * RATE:
                continue
            path = write_audio(audio_dir / f"{c.speaker}_{c.index}.wav", c.samples, RATE, "wav")
            row = score_file(path)
            path.unlink()
            row.pop("logits", None)
            row.pop("starts", None)
            rows.append({"split": split, "speaker": c.speaker, "seconds": round(len(c.samples) / RATE, 1), **row})
            log(f"{split} {c.speaker} {rows[-1]['seconds']} s: LLR {row.get('llr')}")
    return rows


def main(argv: list[str] | None = None) -> int:
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--calls-per-speaker", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", choices=("eval", "dev"), default="eval",
                    help="speakers to build calls from: eval (never trained or calibrated on) or dev (for fitting)")
    ap.add_argument("--lengths", default=str(CALL_S),
                    help="comma-separated call lengths in seconds, used in turn (default: %(default)s)")
    ap.add_argument("--whole-files", action="store_true",
                    help="instead: single genuine recordings and whole TTS files of the split (whole_files.json)")
    ap.add_argument("--long-calls", action="store_true",
                    help="instead: genuine calls of each --lengths value from every split (long_calls.json)")
    a = ap.parse_args(argv)
    lengths = tuple(float(v) for v in a.lengths.split(","))
    if a.long_calls:
        (a.out / "audio").mkdir(parents=True, exist_ok=True)
        rows = [r for length in lengths for r in long_call_rows(length, a.calls_per_speaker, a.out / "audio", a.seed,
                                                               log=lambda m: print(m, file=sys.stderr))]
        (a.out / "long_calls.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
        llrs = [r["llr"] for r in rows if r.get("applicable")]
        print(f"{len(rows)} calls; LLR {min(llrs):+.2f} .. {max(llrs):+.2f}; at LLR >= 1: {sum(v >= 1 for v in llrs)}"
              if llrs else "no call long enough: see docs/voice.md for the Debian packages")
        return 0
    if a.whole_files:
        (a.out / "audio").mkdir(parents=True, exist_ok=True)
        rows = whole_file_rows(a.split, lengths, a.out / "audio", a.seed, log=lambda m: print(m, file=sys.stderr))
        (a.out / "whole_files.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
        print(f"{len(rows)} files scored: {a.out / 'whole_files.json'}")
        return 0
    summary = run(a.out, a.calls_per_speaker, a.seed, log=lambda m: print(m, file=sys.stderr),
                  split=a.split, lengths_s=lengths)
    print(table(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
