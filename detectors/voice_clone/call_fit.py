"""Fit and check the call-level calibration of ``voice_clone``.

Input: ``splice_eval`` runs on dev-split speakers (to fit) and on eval-split
speakers (never trained, calibrated or fitted on; to report)::

    python -m detectors.voice_clone.splice_eval --split dev --out /tmp/splice_dev --calls-per-speaker 8 --lengths 10,20,40,60
    python -m detectors.voice_clone.splice_eval --split dev --whole-files --out /tmp/whole_dev --lengths 10,20,40,60
    python -m detectors.voice_clone.splice_eval --split eval --out /tmp/splice_eval --calls-per-speaker 8 --lengths 10,20,40,60
    python -m detectors.voice_clone.splice_eval --split eval --whole-files --out /tmp/whole_eval --lengths 10,20,40,60
    python -m detectors.voice_clone.call_fit --dev /tmp/splice_dev/splice_eval.json /tmp/whole_dev/whole_files.json \\
        --eval /tmp/splice_eval/splice_eval.json /tmp/whole_eval/whole_files.json [--write]

H0, a genuine file: calls of 10-60 s and single recordings of a few seconds,
the two kinds weighing alike. H1, some or all of the speech synthetic: calls
with the middle 25 % or 50 %, or all, resynthesised by WORLD, Griffin-Lim or
the GAN vocoder, and whole TTS files (sentences and calls) of the split's TTS
voices, the two kinds weighing alike. 10 % splices are scored and reported
but kept out of the fit: one sentence in ten is a second or two of a short
call, which the windows cannot isolate, and putting it in H1 only flattens
the map for all.

Each candidate (one or two file statistics of the window logits: the mean the
detector reported until 0.3.0, the maximum window, the mean of the top
quarter, the top quarter with the mean or with log(number of windows)) gets a
class-balanced logistic map to log10 LR fitted on dev. Reported for each: on
dev, leaving one speaker or voice out at a time; on eval, with the map fitted
on all of dev. ``--write`` stores the chosen candidate's map in
``call_calibration.json`` for the shipped bundle, with the LLR held to
+-log10 of the number of dev files of the other proposition.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.voice_clone.call_score import CALL_CALIBRATION, CallCalibration, call_features

FIT_FRACTIONS = (0.25, 0.5, 1.0)
GENUINE = ("original", "original_single")
CANDIDATES: dict[str, tuple[str, ...]] = {
    "mean": ("mean",),
    "max": ("max",),
    "top_quarter": ("top_quarter",),
    "top_quarter+mean": ("top_quarter", "mean"),
    "top_quarter+log_windows": ("top_quarter", "log_windows"),
}
CHOSEN = "max"  # the best leave-one-speaker-out Cllr on dev (see docs/voice.md)
MADE_BY = (  # the commands of the module docstring, recorded with the fit
    "python -m detectors.voice_clone.splice_eval --split dev --out /tmp/splice_dev --calls-per-speaker 8 --lengths 10,20,40,60",
    "python -m detectors.voice_clone.splice_eval --split dev --whole-files --out /tmp/whole_dev --lengths 10,20,40,60",
    "python -m detectors.voice_clone.splice_eval --split eval --out /tmp/splice_eval --calls-per-speaker 8 --lengths 10,20,40,60",
    "python -m detectors.voice_clone.splice_eval --split eval --whole-files --out /tmp/whole_eval --lengths 10,20,40,60",
    "python -m detectors.voice_clone.call_fit --dev /tmp/splice_dev/splice_eval.json /tmp/whole_dev/whole_files.json "
    "--eval /tmp/splice_eval/splice_eval.json /tmp/whole_eval/whole_files.json --write",
)


@dataclass(frozen=True)
class Scored:
    speaker: str
    call: str
    family: str
    fraction: float
    logits: np.ndarray

    @property
    def genuine(self) -> bool:
        return self.family in GENUINE

    @property
    def tts(self) -> bool:
        return self.family.startswith("tts_")

    @property
    def in_fit(self) -> bool:
        return self.genuine or self.tts or self.fraction in FIT_FRACTIONS

    @property
    def kind(self) -> str:
        """The groups that weigh alike within each proposition."""
        if self.genuine:
            return self.family
        return "tts" if self.tts else "resynthesis"


def read_scored(paths: list[Path]) -> list[Scored]:
    """The scored files of splice_eval runs (declined ones left out: they carry no score)."""
    out: list[Scored] = []
    for path in paths:
        rows = json.loads(path.read_text())["rows"]
        if any(r.get("applicable") and "logits" not in r for r in rows):
            raise SystemExit(f"{path}: made by an older splice_eval without window logits; run it again")
        out += [Scored(r["speaker"], r["call"], r["family"], float(r["fraction"]), np.asarray(r["logits"], np.float64))
                for r in rows if r["applicable"]]
    return out


def kind_weights(items: list[Scored]) -> np.ndarray:
    """Within each proposition, every kind of file totals the same weight."""
    kinds = [s.kind for s in items]
    count = {k: kinds.count(k) for k in set(kinds)}
    return np.array([1.0 / count[k] for k in kinds])


def fit(x: np.ndarray, items: list[Scored]) -> tuple[np.ndarray, float]:
    from detectors.logistic import fit_l2_logistic

    y = np.array([not s.genuine for s in items], np.float64)
    return fit_l2_logistic(x, y, l2=1e-4, weights=kind_weights(items), iters=100)


def _share(mask: np.ndarray) -> float:
    return round(float(mask.mean()), 4) if mask.size else float("nan")


def report(llr: np.ndarray, items: list[Scored]) -> dict:
    from detectors.metrics import auc_between, cllr_between

    fam = np.array([s.family for s in items])
    frac = np.array([s.fraction for s in items])
    tts = np.array([s.tts for s in items])
    calls, singles = fam == "original", fam == "original_single"
    genuine = calls | singles
    out: dict = {
        "genuine_calls": int(calls.sum()), "genuine_calls_at_llr_ge_1": _share(llr[calls] >= 1),
        "genuine_calls_at_llr_le_minus_1": _share(llr[calls] <= -1),
        "genuine_singles": int(singles.sum()), "genuine_singles_at_llr_ge_1": _share(llr[singles] >= 1),
        "genuine_singles_at_llr_le_minus_1": _share(llr[singles] <= -1),
    }
    for f in (0.1, 0.25, 0.5, 1.0):
        m = ~genuine & ~tts & (frac == f)
        if m.any():
            out[f"spliced_{int(f * 100)}"] = {"n": int(m.sum()), "auc": round(float(auc_between(llr[m], llr[calls])), 4),
                                              "at_llr_ge_1": _share(llr[m] >= 1), "at_llr_le_minus_1": _share(llr[m] <= -1)}
    for family in sorted(set(fam[tts])):
        m = fam == family
        out[family] = {"n": int(m.sum()), "auc": round(float(auc_between(llr[m], llr[genuine])), 4),
                       "at_llr_ge_1": _share(llr[m] >= 1), "at_llr_le_minus_1": _share(llr[m] <= -1)}
    in_fit = np.array([s.in_fit for s in items])
    out["cllr"] = round(float(cllr_between(llr[in_fit & ~genuine], llr[genuine])), 4)
    return out


def evaluate(dev: list[Scored], ev: list[Scored]) -> dict:
    """Per candidate: leave-one-speaker-out on dev, and eval with the map fitted on all of dev."""
    dev_fit = [s for s in dev if s.in_fit]
    results: dict = {}
    for name, features in CANDIDATES.items():
        xd = np.array([call_features(s.logits, features) for s in dev])
        fit_mask = np.array([s.in_fit for s in dev])
        loso = np.empty(len(dev))
        for spk in {s.speaker for s in dev}:
            held = np.array([s.speaker == spk for s in dev])
            train = fit_mask & ~held
            coef, b = fit(xd[train], [s for s, t in zip(dev, train) if t])
            loso[held] = (xd[held] @ coef + b) / math.log(10)
        coef, b = fit(xd[fit_mask], dev_fit)
        xe = np.array([call_features(s.logits, features) for s in ev])
        results[name] = {"features": list(features), "coef": [float(c) for c in coef], "b": b,
                         "dev_leave_one_speaker_out": report(loso, dev),
                         "eval": report((xe @ coef + b) / math.log(10), ev)}
    return results


def table(results: dict, part: str) -> str:
    tts = sorted({k for r in results.values() for k in r[part] if k.startswith("tts_")})
    head = ("| candidate | genuine calls / singles at LLR >= 1 | singles at LLR <= -1 | splice AUC 10/25/50/100 % | "
            "splices at LLR >= 1: 25/50/100 % | " + " | ".join(f"{t[4:]} at LLR >= 1" for t in tts) + " | Cllr |")
    lines = [head, "|" + "---|" * (6 + len(tts))]
    for name, r in results.items():
        p = r[part]
        sp = [p.get(f"spliced_{f}") for f in (10, 25, 50, 100)]
        lines.append(
            f"| {name} | {p['genuine_calls_at_llr_ge_1']:.3f} of {p['genuine_calls']} / {p['genuine_singles_at_llr_ge_1']:.3f} "
            f"of {p['genuine_singles']} | {p['genuine_singles_at_llr_le_minus_1']:.2f} | "
            + " / ".join(f"{s['auc']:.2f}" if s else "-" for s in sp) + " | "
            + " / ".join(f"{s['at_llr_ge_1']:.2f}" if s else "-" for s in sp[1:]) + " | "
            + " | ".join(f"{p[t]['at_llr_ge_1']:.2f}" for t in tts) + f" | {p['cllr']} |")
    return "\n".join(lines)


def write_calibration(results: dict, dev: list[Scored], weights_sha256: str, name: str = CHOSEN,
                      path: Path = CALL_CALIBRATION) -> CallCalibration:
    r = results[name]
    fitted = [s for s in dev if s.in_fit]
    n_genuine = sum(s.genuine for s in fitted)
    n_synthetic = len(fitted) - n_genuine
    record = {
        "h0": "a genuine file: calls of 10-60 s and single recordings, weighing alike",
        "h1": "some or all of the speech synthetic: the middle 25 % or 50 % of a call, or all of it, resynthesised "
              "by WORLD, Griffin-Lim or the GAN vocoder, and whole TTS files, the two kinds weighing alike",
        "fitted_on": {"genuine": n_genuine, "synthetic": n_synthetic,
                      "speakers": sorted({s.speaker for s in fitted}), "made_by": list(MADE_BY)},
        "dev_leave_one_speaker_out": r["dev_leave_one_speaker_out"],
        "eval": r["eval"],
    }
    # no stronger than the number of fitted files of the other proposition can support
    cal = CallCalibration(weights_sha256, tuple(r["features"]), tuple(r["coef"]), r["b"],
                          (-math.log10(n_synthetic), math.log10(n_genuine)), record)
    path.write_text(json.dumps(cal.to_dict(), indent=1) + "\n")
    return cal


def main(argv: list[str] | None = None) -> int:
    from detectors.voice_clone.detector import DEFAULT_WEIGHTS
    from detectors.voice_clone.scoring import load_bundle

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dev", type=Path, nargs="+", required=True, help="splice_eval JSON of --split dev runs")
    ap.add_argument("--eval", type=Path, nargs="+", required=True, help="splice_eval JSON of --split eval runs")
    ap.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    ap.add_argument("--write", action="store_true", help=f"write the {CHOSEN} map to {CALL_CALIBRATION.name}")
    ap.add_argument("--json", type=Path, help="write every candidate's figures here")
    a = ap.parse_args(argv)
    dev, ev = read_scored(a.dev), read_scored(a.eval)
    results = evaluate(dev, ev)
    print("dev, leave one speaker out:\n" + table(results, "dev_leave_one_speaker_out"))
    print("\neval (map fitted on all dev files):\n" + table(results, "eval"))
    if a.json:
        a.json.write_text(json.dumps(results, indent=1) + "\n")
    if a.write:
        cal = write_calibration(results, dev, load_bundle(a.weights).sha256)
        print(f"\nwrote {CALL_CALIBRATION} (llr range {cal.llr_range[0]:+.2f} .. {cal.llr_range[1]:+.2f})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
