"""Measure a voice model on trials it never saw: error rates, per family, shortcuts.

Reports EER, AUC, minDCF and Cllr overall, per spoof family (each family
against all bona fide trials), for families seen and unseen in training, and
the false-alarm rate on bona fide at the Bayes threshold (LLR > 0) and at
LLR > 1. The shortcut check fits a logistic regression on cheap properties
(duration, RMS, leading/trailing silence, roll-off, file sample rate) on one
split and reports its AUC on another: above ~0.6 the corpus leaks a shortcut
and any detector result on it is suspect.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.decode import AudioDecodeError, decode_audio
from detectors.metrics import auc, cllr, eer, min_dcf
from detectors.voice_clone.chain import SHORTCUT_FEATURES, shortcut_features
from detectors.voice_clone.datasets import Trial
from detectors.voice_clone.scoring import ModelBundle


@dataclass
class Scored:
    trials: list[Trial]
    scores: np.ndarray
    llr: np.ndarray
    labels: np.ndarray
    audio_s: float
    wall_s: float
    failed: list[str]


# Shorter files are listed as failed, not scored: a model reading 4 s windows
# says nothing about a click. (Corpora's shortest real utterances are ~1 s.)
MIN_TRIAL_S = 0.25


def score_trials(bundle: ModelBundle, trials: list[Trial]) -> Scored:
    kept, scores, failed = [], [], []
    audio_s = 0.0
    t0 = time.perf_counter()
    for t in trials:
        try:
            d = decode_audio(t.path, max_duration_s=600)
        except AudioDecodeError as exc:
            failed.append(f"{t.path}: {exc}")
            continue
        if d.duration_s < MIN_TRIAL_S:
            failed.append(f"{t.path}: {d.duration_s:.3f} s of audio, too short to score (minimum {MIN_TRIAL_S} s)")
            continue
        scores.append(bundle.score(d.samples, d.sample_rate))
        kept.append(t)
        audio_s += d.duration_s
    wall = time.perf_counter() - t0
    s = np.array(scores, np.float64)
    llr = bundle.calibration.llr10(s) if bundle.calibration else s / np.log(10)
    return Scored(kept, s, llr, np.array([t.label for t in kept]), audio_s, wall, failed)


def _metrics(s: np.ndarray, llr: np.ndarray, y: np.ndarray) -> dict:
    return {
        "n_bonafide": int((y == 0).sum()),
        "n_spoof": int((y == 1).sum()),
        "eer": eer(s, y),
        "auc": auc(s, y),
        "min_dcf": min_dcf(s, y),
        "cllr": cllr(llr, y),
    }


def summarize(sc: Scored, seen_families: set[str] | None = None) -> dict:
    y, s, l = sc.labels, sc.scores, sc.llr
    out: dict = {}
    if len(set(y.tolist())) == 2:
        out["overall"] = _metrics(s, l, y)
    else:  # one class only (e.g. unseen bona fide): error rates at fixed thresholds only
        out["overall"] = {"n_bonafide": int((y == 0).sum()), "n_spoof": int((y == 1).sum()),
                          "note": "one class only: no EER/AUC/Cllr; see the false-alarm / miss rates"}
    bona = y == 0
    fams = sorted({t.family for t in sc.trials if t.label == 1})
    out["per_family"] = {}
    for f in fams if bona.any() else []:
        m = bona | np.array([t.family == f for t in sc.trials])
        out["per_family"][f] = _metrics(s[m], l[m], y[m])
    if seen_families is not None:
        for name, sel in (("seen_families", True), ("unseen_families", False)):
            m = bona | np.array([t.label == 1 and ((t.family in seen_families) == sel) for t in sc.trials])
            if (y[m] == 1).any() and (y[m] == 0).any():
                out[name] = _metrics(s[m], l[m], y[m])
    out["bonafide_false_alarm"] = {
        "llr_gt_0": float(np.mean(l[bona] > 0)) if bona.any() else None,
        "llr_gt_1": float(np.mean(l[bona] > 1)) if bona.any() else None,
    }
    out["spoof_miss"] = {"llr_le_0": float(np.mean(l[~bona] <= 0)) if (~bona).any() else None}
    out["speed"] = {
        "audio_s": round(sc.audio_s, 1),
        "wall_s": round(sc.wall_s, 2),
        "x_real_time": round(sc.audio_s / sc.wall_s, 1) if sc.wall_s > 0 else None,
        "note": "decode + features + model, one thread",
    }
    out["failed"] = sc.failed
    return out


def shortcut_matrix(trials: list[Trial]) -> np.ndarray:
    rows = []
    for t in trials:
        d = decode_audio(t.path, max_duration_s=600)
        f = shortcut_features(d.samples, d.sample_rate, d.native_rate)
        rows.append([f[k] for k in SHORTCUT_FEATURES])
    return np.array(rows, np.float64)


def shortcut_check(train: list[Trial], test: list[Trial]) -> dict:
    """Logistic regression on shortcut features (with squares), fit on ``train``, AUC on ``test``."""
    xtr, xte = shortcut_matrix(train), shortcut_matrix(test)
    ytr, yte = np.array([t.label for t in train]), np.array([t.label for t in test])
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-9
    ztr, zte = (xtr - mu) / sd, (xte - mu) / sd
    ztr, zte = np.hstack([ztr, ztr**2]), np.hstack([zte, zte**2])
    w = _logreg(ztr, ytr)
    pred = np.hstack([zte, np.ones((len(zte), 1))]) @ w
    single = {}
    for i, k in enumerate(SHORTCUT_FEATURES):
        if np.ptp(xte[:, i]) > 0:
            a = auc(xte[:, i], yte)
            single[k] = round(max(a, 1 - a), 4)
        else:
            single[k] = 0.5
    return {
        "features": list(SHORTCUT_FEATURES),
        "auc": auc(pred, yte),
        "single_feature_auc_max_of_both_directions": single,
        "n_train": len(train),
        "n_test": len(test),
    }


def _logreg(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 100) -> np.ndarray:
    """Class-balanced L2 logistic regression by Newton's method; returns weights incl. bias."""
    x = np.hstack([x, np.ones((len(x), 1))])
    n1, n0 = y.sum(), (1 - y).sum()
    sw = np.where(y == 1, 0.5 / n1, 0.5 / n0)
    w = np.zeros(x.shape[1])
    reg = l2 * np.eye(x.shape[1])
    reg[-1, -1] = 0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(x @ w)))
        g = x.T @ (sw * (p - y)) + reg @ w
        hmat = (x * (sw * p * (1 - p))[:, None]).T @ x + reg + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hmat, g)
        w -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return w


def write_report(out_dir: Path, summary: dict, sc: Scored) -> dict[str, str]:
    from dataclasses import asdict

    from detectors.metrics import reliability
    from detectors.voice_clone.plots import det_png, histogram_png, reliability_png

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bona = sc.labels == 0
    files: dict[str, str] = {}
    two_class = bona.any() and (~bona).any()
    curves = {"all": (sc.scores, sc.labels)}
    for f in summary["per_family"]:
        m = bona | np.array([t.family == f for t in sc.trials])
        curves[f] = (sc.scores[m], sc.labels[m])
    if two_class:
        files["det"] = str(det_png(curves, out_dir / "det.png", "DET, per spoof family"))
        bins = reliability(sc.llr, sc.labels)
        files["reliability"] = str(reliability_png(bins, out_dir / "reliability.png"))
        # open-ended outer bins: JSON has no infinity, so their outer edge is null
        summary = dict(summary, reliability=[{k: (v if not isinstance(v, float) or np.isfinite(v) else None)
                                              for k, v in asdict(b).items()} for b in bins])
    files["histogram"] = str(histogram_png(sc.llr, sc.labels, out_dir / "llr_hist.png"))
    (out_dir / "scores.tsv").write_text(
        "".join(f"{t.path}\t{t.label}\t{t.family}\t{s:.6f}\t{l:.6f}\n" for t, s, l in zip(sc.trials, sc.scores, sc.llr)),
        encoding="utf-8",
    )
    summary = dict(summary, plots=files)
    (out_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    files["metrics"] = str(out_dir / "metrics.json")
    return files
