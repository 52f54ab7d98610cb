"""Fit and check the call-level calibration of ``voice_clone`` on spliced calls.

Input: the JSON of two ``splice_eval`` runs, one on dev-split speakers (to fit)
and one on eval-split speakers (never trained, calibrated or fitted on; to
report)::

    python -m detectors.voice_clone.splice_eval --split dev --out /tmp/splice_dev --calls-per-speaker 8 --lengths 10,20,40,60
    python -m detectors.voice_clone.splice_eval --split eval --out /tmp/splice_eval --calls-per-speaker 8 --lengths 10,20,40,60
    python -m detectors.voice_clone.call_fit --dev /tmp/splice_dev/splice_eval.json --eval /tmp/splice_eval/splice_eval.json [--write]

H0 is a genuine call; H1 a call whose speech is resynthesised in part (the
middle 25 % or 50 %) or whole, by WORLD, Griffin-Lim or the GAN vocoder, every
version weighing alike. 10 % splices are scored and reported but kept out of
the fit: one sentence in ten is a second or two of a short call, which the
windows cannot isolate, and putting it in H1 only flattens the slope for all.

Each candidate file statistic (the mean window logit the detector reported
until version 0.3.0, the maximum window, the mean of the top quarter, the
strongest run of consecutive windows by summed window LLR) gets a class-balanced logistic map to log10 LR fitted on dev
calls. Reported for each: on dev, leaving one speaker out at a time (map fitted
on the others); on eval, with the map fitted on all dev calls: AUC per spliced
share, Cllr, and the share of genuine and of spliced calls at LLR >= 1 (what
the finance profile labels likely_manipulated). ``--write`` stores the
map of the statistic ``call_score.py`` uses (the top quarter) in ``call_calibration.json`` for the shipped bundle, with the LLR
held to +-log10 of the number of dev calls of the other proposition.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.voice_clone.call_score import CALL_CALIBRATION, STATISTIC, CallCalibration, top_quarter

FIT_FRACTIONS = (0.25, 0.5, 1.0)
MADE_BY = (  # the commands of the module docstring, recorded with the fit
    "python -m detectors.voice_clone.splice_eval --split dev --out /tmp/splice_dev --calls-per-speaker 8 --lengths 10,20,40,60",
    "python -m detectors.voice_clone.splice_eval --split eval --out /tmp/splice_eval --calls-per-speaker 8 --lengths 10,20,40,60",
    "python -m detectors.voice_clone.call_fit --dev /tmp/splice_dev/splice_eval.json --eval /tmp/splice_eval/splice_eval.json --write",
)
OVERLAP = 4.0  # 4 s windows, 1 s hop


@dataclass(frozen=True)
class Call:
    speaker: str
    call: str
    family: str
    fraction: float
    seconds: float
    logits: np.ndarray

    @property
    def spoof(self) -> bool:
        return self.family != "original"


def read_calls(path: Path) -> list[Call]:
    """The scored versions of a splice_eval run (declined ones left out: they carry no score)."""
    rows = json.loads(path.read_text())["rows"]
    if rows and rows[0].get("applicable") and "logits" not in rows[0]:
        raise SystemExit(f"{path}: made by an older splice_eval without window logits; run it again")
    return [Call(r["speaker"], r["call"], r["family"], float(r["fraction"]), float(r["seconds"]),
                 np.asarray(r["logits"], np.float64)) for r in rows if r["applicable"]]


def strongest_run(window_llrs: np.ndarray) -> float:
    """Highest sum of window LLRs over consecutive windows (Kadane), divided by the windows' overlap."""
    best, run = -np.inf, 0.0
    for x in window_llrs:
        run = x if run <= 0 else run + x
        best = max(best, run)
    return float(best) / OVERLAP


def candidate_statistics(window_llr: Callable[[np.ndarray], np.ndarray]) -> dict[str, Callable[[np.ndarray], float]]:
    return {
        "mean": lambda v: float(v.mean()),
        "max": lambda v: float(v.max()),
        "top_quarter": lambda v: top_quarter(v).value,
        "strongest_run": lambda v: strongest_run(window_llr(v)),
    }


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from detectors.logistic import fit_balanced_logistic

    return fit_balanced_logistic(x, y, l2=1e-4, iters=100)


def _llr10(a: float, b: float, x: np.ndarray) -> np.ndarray:
    return (a * x + b) / math.log(10)


def _report(llr: np.ndarray, x: np.ndarray, calls: list[Call]) -> dict:
    from detectors.metrics import auc_between, cllr_between

    y = np.array([c.spoof for c in calls])
    frac = np.array([c.fraction for c in calls])
    out: dict = {"genuine_calls": int((~y).sum()), "genuine_at_llr_ge_1": round(float((llr[~y] >= 1).mean()), 4)}
    for f in (0.1, 0.25, 0.5, 1.0):
        m = y & (frac == f)
        if m.any():
            key = f"spliced_{int(f * 100)}"
            out[key] = {"n": int(m.sum()), "auc": round(float(auc_between(x[m], x[~y])), 4),
                        "at_llr_ge_1": round(float((llr[m] >= 1).mean()), 4)}
    fit = y & np.isin(frac, FIT_FRACTIONS)
    out["cllr_fit_h1"] = round(float(cllr_between(llr[fit], llr[~y])), 4)
    return out


def evaluate(dev: list[Call], ev: list[Call], stats: dict[str, Callable[[np.ndarray], float]]) -> dict:
    """Per statistic: leave-one-speaker-out on dev, and eval with the map fitted on all of dev."""
    in_fit = [c for c in dev if not c.spoof or c.fraction in FIT_FRACTIONS]
    results: dict = {}
    for name, stat in stats.items():
        xd = np.array([stat(c.logits) for c in dev])
        fit_mask = np.array([not c.spoof or c.fraction in FIT_FRACTIONS for c in dev])
        yd = np.array([c.spoof for c in dev])
        loso = np.empty(len(dev))
        for spk in {c.speaker for c in dev}:
            held = np.array([c.speaker == spk for c in dev])
            a, b = _fit(xd[fit_mask & ~held], yd[fit_mask & ~held])
            loso[held] = _llr10(a, b, xd[held])
        a, b = _fit(xd[fit_mask], yd[fit_mask])
        xe = np.array([stat(c.logits) for c in ev])
        results[name] = {"a": a, "b": b, "dev_leave_one_speaker_out": _report(loso, xd, dev),
                         "eval": _report(_llr10(a, b, xe), xe, ev), "dev_calls_in_fit": len(in_fit)}
    return results


def table(results: dict, part: str) -> str:
    lines = ["| statistic | genuine at LLR >= 1 | AUC 10 % / 25 % / 50 % / 100 % | at LLR >= 1: 10 % / 25 % / 50 % / 100 % | Cllr (25-100 %) |",
             "|---|---|---|---|---|"]
    for name, r in results.items():
        p = r[part]
        keys = ("spliced_10", "spliced_25", "spliced_50", "spliced_100")
        aucs = " / ".join(str(p[k]["auc"]) if k in p else "-" for k in keys)
        hits = " / ".join(f"{p[k]['at_llr_ge_1']:.2f}" if k in p else "-" for k in keys)
        lines.append(f"| {name} | {p['genuine_at_llr_ge_1']:.3f} of {p['genuine_calls']} | {aucs} | {hits} | {p['cllr_fit_h1']} |")
    return "\n".join(lines)


def write_calibration(results: dict, dev: list[Call], weights_sha256: str,
                      path: Path = CALL_CALIBRATION) -> CallCalibration:
    r = results[STATISTIC]
    n_genuine = sum(not c.spoof for c in dev)
    n_spoof = sum(c.spoof and c.fraction in FIT_FRACTIONS for c in dev)
    record = {
        "h1": "the middle 25 % or 50 % of the call's speech, or all of it, resynthesised by WORLD, Griffin-Lim or the GAN vocoder",
        "fitted_on": {"dev_calls": sorted({c.call for c in dev}), "genuine": n_genuine, "spliced": n_spoof,
                      "made_by": list(MADE_BY)},
        "dev_leave_one_speaker_out": r["dev_leave_one_speaker_out"],
        "eval": r["eval"],
    }
    # no stronger than the number of fitted calls of the other proposition can support
    cal = CallCalibration(weights_sha256, r["a"], r["b"], (-math.log10(n_spoof), math.log10(n_genuine)), record)
    path.write_text(json.dumps(cal.to_dict(), indent=1) + "\n")
    return cal


def main(argv: list[str] | None = None) -> int:
    from detectors.voice_clone.detector import DEFAULT_WEIGHTS
    from detectors.voice_clone.scoring import load_bundle

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dev", type=Path, required=True, help="splice_eval.json of a --split dev run")
    ap.add_argument("--eval", type=Path, required=True, help="splice_eval.json of a --split eval run")
    ap.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    ap.add_argument("--write", action="store_true", help=f"write the {STATISTIC} map to {CALL_CALIBRATION.name}")
    ap.add_argument("--json", type=Path, help="write every statistic's figures here")
    a = ap.parse_args(argv)
    bundle = load_bundle(a.weights)
    if bundle.calibration is None:
        raise SystemExit(f"{a.weights} has no window calibration to build on")
    dev, ev = read_calls(a.dev), read_calls(a.eval)
    stats = candidate_statistics(bundle.calibration.llr10)
    results = evaluate(dev, ev, stats)
    print("dev, leave one speaker out:\n" + table(results, "dev_leave_one_speaker_out"))
    print("\neval (map fitted on all dev calls):\n" + table(results, "eval"))
    if a.json:
        a.json.write_text(json.dumps(results, indent=1) + "\n")
    if a.write:
        cal = write_calibration(results, dev, bundle.sha256)
        print(f"\nwrote {CALL_CALIBRATION} (llr range {cal.llr_range[0]:+.2f} .. {cal.llr_range[1]:+.2f})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
