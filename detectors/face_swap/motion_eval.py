"""Calibrate and measure the ``face_motion`` cue on real clips and face swaps
made from them.

    python -m detectors.face_swap.motion_eval --work /tmp/face_motion [--write]

Real clips: the shared talking-head videos (first ``--seconds`` of each).
Swaps: each clip's face replaced frame by frame by the faces of the next
two clips (``manipulate.make_swap``, Poisson and alpha blending, H.264
CRF 18), made once under ``--work`` and reused. Every file goes through the
detector's own path (the shared scan, ``relative_motion``).

Split by identity, as the face-swap CNN's: the clips of its held-out test
split (``heldout_results.json``) and every swap onto them are never used for
the fit; the logistic regression on log(score) is fitted on the others.
Reported: held-out AUC and false alarms (LLR >= 1, the finance profile's
likely_manipulated threshold) on the test identities, and leave-one-target-
out AUC over all clips. With ``--conditions``, every real clip and swap is
also re-encoded (H.264 CRF 23, CRF 32, 480 lines) and scored with the same
calibration: both classes then share one encoder, so an encoding difference
between the published clips and the swaps made here cannot explain the AUC.

Every clip and swap is also written at half its frame rate (every other
frame, times kept: a 12.5-15 fps webcam) and a second calibration is fitted
and measured on those copies with the same split. Frame-to-frame jitter
grows when frames are twice as far apart, for filmed and pasted faces alike;
under the full-rate fit genuine half-rate clips leaned toward "pasted".
The detector uses the half-rate fit below ``LOW_FPS_BELOW`` fps.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from detectors.face_swap import faces as F
from detectors.face_swap.evaluate_heldout import CONDITIONS, condition_file, make_fakes
from detectors.face_swap.motion import relative_motion
from detectors.face_swap.motion_detector import CALIBRATION_PATH, LOW_FPS_BELOW
from detectors.face_swap.rewrite import write_half_rate
from detectors.metrics import auc_between as auc
from verifier.shared_dir import shared_dir

HERE = Path(__file__).parent
SHARED = shared_dir() / "media" / "video"


def real_clips(media: Path) -> list[Path]:
    return sorted(Path(p) for p in glob.glob(str(media / "sadtalker/examples/ref_video/*.mp4"))) + \
        sorted(Path(p) for p in glob.glob(str(media / "liveportrait/assets/examples/driving/*.mp4")))


def test_identities() -> set[str]:
    d = json.loads((HERE / "heldout_results.json").read_text())
    return {Path(p).stem for p in d["test_clips"]}


def score_file(path: Path, seconds: float) -> float | None:
    opts = replace(F.SHARED_VIDEO_SCAN, max_seconds=seconds)
    scan = F.scan_faces(path, opts)
    scores = [m.score for t in scan.tracks if (m := relative_motion(t, scan.frame_times, opts.crop_margin)) is not None]
    return max(scores) if scores else None


def fit_lr(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Equal-prior logistic regression on log(score): natural-log odds."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1.0, class_weight="balanced").fit(np.log(np.maximum(x, 1e-3))[:, None], y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def llr_of(coef: float, bias: float, score: float) -> float:
    return float(np.clip((coef * np.log(max(score, 1e-3)) + bias) / np.log(10), -3, 3))


def fit_and_measure(rows: list[tuple], test: set[str]) -> tuple[float, float, dict]:
    """Fit on the identities outside ``test``; held-out and leave-one-identity-out figures.

    ``rows``: (name, is_swap, target identity, method, score).
    """
    fit = [r for r in rows if r[2] not in test]
    held = [r for r in rows if r[2] in test]
    coef, bias = fit_lr(np.array([r[4] for r in fit]), np.array([r[1] for r in fit]))
    # Leave one target identity out: fit without it (reals and swaps onto it), score it.
    loo = []
    for tgt in sorted({r[2] for r in rows}):
        tr = [r for r in rows if r[2] != tgt]
        c_, b_ = fit_lr(np.array([r[4] for r in tr]), np.array([r[1] for r in tr]))
        loo += [(r[1], c_ * np.log(max(r[4], 1e-3)) + b_) for r in rows if r[2] == tgt]
    held_real = [r[4] for r in held if r[1] == 0]
    held_fake = [r[4] for r in held if r[1] == 1]
    metrics = dict(
        real_clips=sum(r[1] == 0 for r in rows), swaps=sum(r[1] == 1 for r in rows),
        test_identities=sorted(test), test_real=len(held_real), test_swaps=len(held_fake),
        test_auc=auc(held_fake, held_real) if held_real and held_fake else None,
        test_auc_by_method={m: auc([r[4] for r in held if r[3] == m], held_real)
                            for m in ("poisson", "alpha") if any(r[3] == m for r in held)},
        test_real_llr_ge_1=sum(llr_of(coef, bias, s) >= 1 for s in held_real),
        test_swaps_llr_ge_1=sum(llr_of(coef, bias, s) >= 1 for s in held_fake),
        fit_auc=auc([r[4] for r in fit if r[1]], [r[4] for r in fit if not r[1]]),
        leave_one_identity_out_auc=auc([z for y, z in loo if y], [z for y, z in loo if not y]),
        all_real_llr_ge_1=sum(llr_of(coef, bias, r[4]) >= 1 for r in rows if r[1] == 0),
        real_score_p90=float(np.percentile([r[4] for r in rows if r[1] == 0], 90)),
    )
    return coef, bias, metrics


def half_rate_file(path: Path, work: Path, rel: str) -> Path:
    """``path`` at half its frame rate, written once under ``work/half_rate``."""
    return write_half_rate(path, work / "half_rate" / rel)


def half_rates(files: list[tuple], work: Path) -> set[float]:
    import av

    out = set()
    for *_, rel in files:
        p = work / "half_rate" / rel
        if p.is_file():
            with av.open(str(p)) as c:
                out.add(float(c.streams.video[0].average_rate))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/face_motion"))
    ap.add_argument("--media", type=Path, default=SHARED)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--write", action="store_true", help=f"write {CALIBRATION_PATH.name}")
    ap.add_argument("--conditions", action="store_true", help="also score re-encoded copies (CRF 23, CRF 32, 480p)")
    args = ap.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    clips = real_clips(args.media)
    if len(clips) < 4:
        log(f"need at least 4 talking-head clips under {args.media}")
        return 2
    # Each clip is its own identity group: every clip gets the faces of the next two.
    swaps = make_fakes([(c.stem, c) for c in clips], args.work, args.seconds, log)
    files = [(c.stem, 0, c.stem, "-", c, f"real/{c.name}") for c in clips] + \
        [(p.stem, 1, target, method, p, f"fake/{method}/{p.name}") for method, target, p in swaps]
    rows = [(n, y, t, m, s) for n, y, t, m, p, _ in files if (s := score_file(p, args.seconds)) is not None]
    test = test_identities()
    coef, bias, metrics = fit_and_measure(rows, test)
    metrics["seconds_per_clip"] = args.seconds

    def llr(s: float) -> float:
        return llr_of(coef, bias, s)

    half = [(n, y, t, m, s) for n, y, t, m, p, rel in files
            if (s := score_file(half_rate_file(p, args.work, rel), args.seconds)) is not None]
    hcoef, hbias, hmetrics = fit_and_measure(half, test)
    hmetrics["fps"] = sorted({round(fps, 2) for fps in half_rates(files, args.work)})
    hmetrics["with_full_rate_calibration"] = dict(
        real_llr_ge_1=f"{sum(llr(r[4]) >= 1 for r in half if r[1] == 0)}/{sum(r[1] == 0 for r in half)}",
        test_real_llr_ge_1=f"{sum(llr(r[4]) >= 1 for r in half if r[1] == 0 and r[2] in test)}/"
                           f"{sum(r[1] == 0 and r[2] in test for r in half)}",
        real_llr_median=round(float(np.median([llr(r[4]) for r in half if r[1] == 0])), 3),
    )
    log(f"half rate: {hmetrics}")
    if args.conditions:
        metrics["conditions"] = {}
        for cond in (c for c in CONDITIONS if CONDITIONS[c] is not None):
            cr = [(y, t, s) for n, y, t, m, p, rel in files
                  if (s := score_file(condition_file(p, cond, args.work, rel), args.seconds)) is not None]
            metrics["conditions"][cond] = dict(
                auc_all=auc([s for y, _, s in cr if y], [s for y, _, s in cr if not y]),
                auc_test=auc([s for y, t, s in cr if y and t in test], [s for y, t, s in cr if not y and t in test]),
                real_llr_ge_1=f"{sum(llr(s) >= 1 for y, _, s in cr if not y)}/{sum(not y for y, _, _ in cr)}",
                swaps_llr_ge_1=f"{sum(llr(s) >= 1 for y, _, s in cr if y)}/{sum(y for y, _, _ in cr)}",
            )
            log(f"{cond}: {metrics['conditions'][cond]}")
    metrics["minutes"] = round((time.perf_counter() - t0) / 60, 1)
    print(json.dumps(dict(metrics=metrics, half_rate_metrics=hmetrics, rows=[dict(name=r[0], swap=r[1], target=r[2], method=r[3],
                                                        score=round(r[4], 4), llr=round(llr(r[4]), 3)) for r in rows]),
                     indent=1))
    if args.write:
        CALIBRATION_PATH.write_text(json.dumps(dict(
            model="logistic regression on log(median frame-to-frame change of inner-minus-outer flow), equal priors; "
                  "llr = log10 LR(pasted face : filmed face)",
            coef=coef, bias=bias, metrics=metrics,
            data=[c.name for c in clips], note="swaps made by detectors/face_swap/manipulate.py; see FACE_MOTION.md",
            low_fps=dict(below_fps=LOW_FPS_BELOW, coef=hcoef, bias=hbias, metrics=hmetrics,
                         note="the same clips and swaps at half their frame rate (every other frame, times kept)"),
        ), indent=2) + "\n")
        log(f"wrote {CALIBRATION_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
