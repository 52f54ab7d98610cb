"""Build the evaluation set from the shared talking-head clips, fit and
measure the calibration, write ``calibration.json``.

Variants per clip (the audio is changed in memory; the mouth signal is the
clip's own): the original; the audio delayed/advanced by +-3, +-5, +-10
frames (zero-padded at the exposed end, as a remux would leave silence); the
audio replaced by speech from every other clip and from the real-speech
SadTalker driving wavs. The calibration weighs H1 = substituted against
H0 = original; the shifted variants measure the offset estimate (and that a
shift is not mistaken for a substitution). Variants whose audio the VAD finds
no speech in (music, noise) are declined, as the detector declines them,
and listed.

Held-out by clip: each clip's variants are scored by a logistic regression
fitted on the other clips only. The shipped calibration is then fitted on all.

Low frame rates get their own calibration. A webcam call at 12.5-15 fps has
half the frames of the 25/30 fps clips: the correlation on Fisher's scale
shrinks for genuine and substituted speech alike, and the first calibration
read genuine half-rate clips as leaning toward "substituted". Every clip is
also written at half its rate (every other frame, times kept) and the same
variants are built, fitted and held out on those; the detector uses that fit
below ``LOW_FPS_BELOW`` frames per second.

Run: ``python -m detectors.av_sync.evaluate [--write]``.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import pickle
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from audio.vad import detect_speech
from detectors.av_sync.detector import MIN_SPEECH_S, sync_frames
from detectors.av_sync.envelope import RATE, load_audio, speech_envelope, stream_start_gap
from detectors.av_sync.features import FEATURE_NAMES, sync_features
from detectors.av_sync.mouth import mouth_signal
from detectors.av_sync.sync import REPORT_SPAN_S, report_range, sync_search
from detectors.face_swap.faces import SHARED_VIDEO_SCAN, FaceTrack, scan_faces
from detectors.face_swap.frame_grid import LOW_FPS_BELOW, FrameGrid
from detectors.face_swap.rewrite import write_half_rate
from detectors.metrics import auc_between as auc
from detectors.metrics import cllr_between as cllr
from verifier.shared_dir import shared_dir

SHARED = shared_dir()
MEDIA = SHARED / "media"
SHIFTS = (-10, -5, -3, 3, 5, 10)
CALIBRATION = Path(__file__).with_name("calibration.json")
REG_C = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
# Exactly what the detector sees: the shared scan, chips and colour crops
# included (their frames get real landmark predictions, which the frames
# between are interpolated from), only without the 10-minute guard.
SYNC_SCAN = replace(SHARED_VIDEO_SCAN, max_seconds=None)


def clip_paths() -> list[Path]:
    pats = ["video/sadtalker/examples/ref_video/*.mp4", "video/liveportrait/assets/examples/driving/*.mp4"]
    return sorted(Path(p) for pat in pats for p in glob.glob(str(MEDIA / pat)))


def donor_wavs() -> list[Path]:
    return sorted(Path(p) for p in glob.glob(str(MEDIA / "audio/sadtalker/**/RD_Radio*.wav"), recursive=True))


@dataclass
class ClipData:
    name: str
    fps: float
    times: np.ndarray
    track: FaceTrack

    @property
    def mouth(self):
        if not hasattr(self, "_mouth"):
            analysed = len(self.times) if self.grid is None else self.grid.source_times.size
            self._mouth = mouth_signal(self.track, analysed, self.fps, grid=self.grid)
        return self._mouth
    audio: np.ndarray
    gap: float
    grid: FrameGrid | None = None  # variable frame rate: ``times`` and ``fps`` are this grid's


def load_clip(path: Path, cache: Path | None) -> ClipData | None:
    # Keyed by the file and the scan options: a cached scan made with other
    # face-following settings must not stand in for this one.
    key = cache / (hashlib.sha1(f"{path}|{SYNC_SCAN!r}".encode()).hexdigest()[:12] + ".pkl") if cache else None
    if key and key.is_file():
        return ClipData(**pickle.loads(key.read_bytes()))
    try:
        audio = load_audio(path)
    except Exception:
        return None
    if not np.any(np.abs(audio) > 1e-4):
        return None  # silent track: no speech to sync
    scan = scan_faces(path, SYNC_SCAN)
    track = scan.main_track()
    if track is None:
        return None
    frames = sync_frames(scan, track)  # as the detector reads it (a regular grid if the frame rate varies)
    slim = FaceTrack(track.track_id, [replace(o, chip=None, color_crop=None) for o in track.observations])
    data = ClipData(path.name, frames.fps, frames.times, slim, audio, stream_start_gap(path), frames.grid)
    if key:
        key.parent.mkdir(parents=True, exist_ok=True)
        # Plain fields only: the class lives in __main__ when run with -m.
        key.write_bytes(pickle.dumps(dict(name=data.name, fps=data.fps, times=data.times, track=data.track,
                                          audio=data.audio, gap=data.gap, grid=data.grid)))
    return data


def half_rate_clips(paths: list[Path], cache: Path) -> list[ClipData]:
    """Each clip at half its frame rate, written once under ``cache``, read as the detector reads it."""
    out = []
    for p in paths:
        if (c := load_clip(write_half_rate(p, cache / "half_rate" / f"{p.stem}.half.mp4"), cache)) is not None:
            out.append(c)
    return out


def shift_audio(x: np.ndarray, frames: int, fps: float) -> np.ndarray:
    """Delay (frames > 0) or advance the audio by whole video frames."""
    d = int(round(abs(frames) * RATE / fps))
    if frames > 0:
        return np.concatenate([np.zeros(d, x.dtype), x])[: x.size]
    return np.concatenate([x[d:], np.zeros(d, x.dtype)])


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    reps = int(np.ceil(n / max(1, x.size)))
    return np.tile(x, reps)[:n]


def analyse(clip: ClipData, audio: np.ndarray):
    """What the detector does with this audio under this clip's mouth: the
    envelope, its speech frames (the VAD's), and the search (None when the
    detector would say "not applicable": too little speech)."""
    vad = detect_speech(audio, RATE)
    env = speech_envelope(audio, clip.times, clip.fps, clip.gap, vad.segments)
    if vad.speech_s < MIN_SPEECH_S:
        return env, None
    return env, sync_search(clip.mouth, env.log_energy, env.active, clip.times, clip.fps)


def build_rows(clips: list[ClipData], donors: list[tuple[str, np.ndarray]]) -> tuple[list[dict], list[dict]]:
    """Scored variants, and the variants the detector declines (too little
    speech: music, noise), which the metrics leave out and the report lists."""
    rows: list[dict] = []
    declined: list[dict] = []

    def add(row: dict, env, r) -> None:
        if r is None:
            declined.append(dict(row, speech_s=round(env.speech_seconds, 2)))
        else:
            rows.append(dict(row, offset=r.offset_frames, offset_calibrated_range=r.curve.best_offset,
                             search_range=report_range(r.fps), speech_s=round(env.speech_seconds, 2),
                             x=sync_features(r).vector().tolist()))

    for c in clips:
        env, r = analyse(c, c.audio)
        add(dict(clip=c.name, kind="original", shift=0, y=0), env, r)
        if r is None:
            continue  # no speech in the clip: nothing to shift
        for k in SHIFTS:
            add(dict(clip=c.name, kind="shifted", shift=k, y=1), *analyse(c, shift_audio(c.audio, k, c.fps)))
        for name, other in [(o.name, o.audio) for o in clips if o is not c] + donors:
            add(dict(clip=c.name, kind="swapped", shift=None, donor=name, y=1), *analyse(c, fit_length(other, c.audio.size)))
    return rows, declined


def fit_lr(x: np.ndarray, y: np.ndarray, c: float = 1.0):
    from sklearn.linear_model import LogisticRegression

    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    w = np.where(y == 1, 0.5 / max(1, (y == 1).sum()), 0.5 / max(1, (y == 0).sum())) * len(y)
    lr = LogisticRegression(C=c, max_iter=1000).fit((x - mu) / sd, y, sample_weight=w)
    coef = lr.coef_[0] / sd
    bias = float(lr.intercept_[0] - (lr.coef_[0] * mu / sd).sum())
    return coef, bias


def llr_of(x: np.ndarray, coef: np.ndarray, bias: float, bounds: tuple[float, float] | None = None) -> np.ndarray:
    """log10 LR with equal class priors in the fit: the logit is the natural-log LR."""
    v = (x @ coef + bias) / np.log(10)
    return np.clip(v, *bounds) if bounds is not None else v


def llr_bounds(n_original: int, n_substituted: int) -> tuple[float, float]:
    """A conservative cap in the spirit of ELUB (Vergeer et al., 2016): with n
    examples of the other proposition in the calibration data, no ratio
    stronger than about n to 1 is supported. 6 originals: substitution can be
    supported up to 10^0.78; 54 substitutions: the original, up to 10^1.73."""
    return -float(np.log10(max(1, n_substituted))), float(np.log10(max(1, n_original)))


def evaluate(rows: list[dict], reg: float = 1.0) -> dict:
    clips = sorted({r["clip"] for r in rows})
    x = np.array([r["x"] for r in rows])
    y = np.array([r["y"] for r in rows])
    held = np.zeros(len(rows))
    orig = np.array([r["kind"] == "original" for r in rows])
    sh = np.array([r["kind"] == "shifted" for r in rows])
    sw = np.array([r["kind"] == "swapped" for r in rows])
    for c in clips:
        test = np.array([r["clip"] == c for r in rows])
        fit = ~test & (orig | sw)  # the LR weighs substitution only (see features.py)
        coef, bias = fit_lr(x[fit], y[fit], reg)
        lo_hi = (x[fit].min(axis=0), x[fit].max(axis=0))
        held[test] = llr_of(np.clip(x[test], *lo_hi), coef, bias, llr_bounds(int((fit & orig).sum()), int((fit & sw).sum())))
    base = {r["clip"]: r["offset"] for r in rows if r["kind"] == "original"}
    shifted = [r for r in rows if r["kind"] == "shifted"]
    within_abs = np.mean([abs(r["offset"] - r["shift"]) <= 1 for r in shifted])
    within_rel = np.mean([abs(r["offset"] - base[r["clip"]] - r["shift"]) <= 1 for r in shifted])
    raw = x[:, 0]  # the single feature, peak_z
    reach = [r for r in shifted if abs(base[r["clip"]] + r["shift"]) <= r["search_range"]]
    base_narrow = {r["clip"]: r["offset_calibrated_range"] for r in rows if r["kind"] == "original"}
    narrow = [abs(r["offset_calibrated_range"] - base_narrow[r["clip"]] - r["shift"]) <= 1 for r in shifted]
    per_clip = {c: {"original": base[c], **{f"{r['shift']:+d}": r["offset"] for r in shifted if r["clip"] == c},
                    "peak_z": round(float(next(r["x"][0] for r in rows if r["clip"] == c and r["kind"] == "original")), 2),
                    "swapped_peak_z_median": round(float(np.median([r["x"][0] for r in rows if r["clip"] == c and r["kind"] == "swapped"])), 2)}
                for c in clips}
    return dict(
        clips=len(clips), rows=len(rows), originals=int(orig.sum()), shifted=int(sh.sum()), swapped=int(sw.sum()),
        offset_within_1_of_shift=float(within_abs),
        offset_within_1_of_shift_plus_clip_offset=float(within_rel),
        offset_within_1_in_search_range=float(np.mean([abs(r["offset"] - base[r["clip"]] - r["shift"]) <= 1 for r in reach])) if reach else float("nan"),
        shifted_cases_in_search_range=len(reach),
        search_range_s=REPORT_SPAN_S,
        offset_within_1_reading_the_calibrated_range_only=float(np.mean(narrow)),
        original_offsets={c: base[c] for c in clips},
        originals_beyond_2_frames=float(np.mean([abs(v) > 2 for v in base.values()])),
        auc_swapped_vs_original_raw_peak_z=auc(-raw[sw], -raw[orig]),
        auc_swapped_vs_original_llr_heldout=auc(held[sw], held[orig]),
        auc_shifted_vs_original_llr_heldout=auc(held[sh], held[orig]),
        cllr_heldout=cllr(held[sw], held[orig]),
        false_alarm_rate_llr_gt_0_heldout=float(np.mean(held[orig] > 0)),
        miss_rate_llr_le_0_heldout=float(np.mean(held[sw] <= 0)),
        shifted_llr_gt_0_heldout=float(np.mean(held[sh] > 0)) if sh.any() else float("nan"),
        original_offset_range=[int(min(base.values())), int(max(base.values()))],
        per_clip=per_clip,
    )


def fit_and_measure(rows: list[dict], declined: list[dict], label: str) -> tuple[dict, dict]:
    """Held-out metrics at the regularisation with the best held-out Cllr, and the fit on all clips."""
    # with 6 clips, a strongly regularised model that says little is better than a confident wrong one
    by_c = {c: evaluate(rows, c) for c in REG_C}
    for c, m in by_c.items():
        print(f"{label} C={c}: held-out Cllr {m['cllr_heldout']:.3f}, AUC {m['auc_swapped_vs_original_llr_heldout']:.3f}, "
              f"false alarms {m['false_alarm_rate_llr_gt_0_heldout']:.2f}", file=sys.stderr)
    best_c = min(by_c, key=lambda c: by_c[c]["cllr_heldout"])
    metrics = by_c[best_c]
    metrics["regularisation_C"] = best_c
    metrics["not_applicable"] = [{k: d[k] for k in ("clip", "kind", "speech_s")} | {"donor": d.get("donor")} for d in declined]
    fit = [r for r in rows if r["kind"] != "shifted"]
    fx = np.array([r["x"] for r in fit])
    coef, bias = fit_lr(fx, np.array([r["y"] for r in fit]), best_c)
    orig_z = sorted(r["x"][0] for r in rows if r["kind"] == "original")
    cal = dict(
        model="logistic regression on sync features, equal priors; llr = log10 LR(speech substituted : as captured)",
        features=list(FEATURE_NAMES), coef=[float(v) for v in coef], bias=bias,
        feature_range=[fx.min(axis=0).tolist(), fx.max(axis=0).tolist()],
        llr_bounds=list(llr_bounds(sum(r["kind"] == "original" for r in fit), sum(r["kind"] == "swapped" for r in fit))),
        tolerance_frames=1, max_offset=15, original_offset_range=metrics["original_offset_range"],
        no_match_peak_z=float(np.percentile(orig_z, 5)) if orig_z else 0.0,
    )
    return metrics, cal


def with_calibration(rows: list[dict], cal: dict) -> dict:
    """What a calibration fitted at another frame rate says about these rows (no refit)."""
    x = np.clip(np.array([r["x"] for r in rows]), *cal["feature_range"])
    llr = llr_of(x, np.asarray(cal["coef"]), cal["bias"], tuple(cal["llr_bounds"]))
    orig = np.array([r["kind"] == "original" for r in rows])
    sw = np.array([r["kind"] == "swapped" for r in rows])
    return dict(original_llr={r["clip"]: round(float(v), 2) for r, v, o in zip(rows, llr, orig) if o},
                false_alarm_rate_llr_gt_0=float(np.mean(llr[orig] > 0)), cllr=cllr(llr[sw], llr[orig]),
                auc=auc(llr[sw], llr[orig]), miss_rate_llr_le_0=float(np.mean(llr[sw] <= 0)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help=f"write {CALIBRATION.name}")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "av_sync_eval_cache")
    ap.add_argument("--json", type=Path, help="write the rows and metrics here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    clips = [c for p in clip_paths() if (c := load_clip(p, args.cache)) is not None]
    if not clips:
        print(f"no usable clips under {MEDIA}", file=sys.stderr)
        return 2
    donors = [(p.name, load_audio(p)) for p in donor_wavs()]
    rows, declined = build_rows(clips, donors)
    for d in declined:
        print(f"not applicable (speech {d['speech_s']} s < {MIN_SPEECH_S} s): {d['clip']} {d['kind']} "
              f"{d.get('donor') or ''}", file=sys.stderr)
    metrics, cal = fit_and_measure(rows, declined, "full rate")
    low_clips = half_rate_clips([p for p in clip_paths() if p.name in {c.name for c in clips}], args.cache)
    low_rows, low_declined = build_rows(low_clips, donors)
    low_metrics, low_cal = fit_and_measure(low_rows, low_declined, "half rate")
    low_metrics["fps"] = sorted({round(c.fps, 2) for c in low_clips})
    low_metrics["with_full_rate_calibration"] = with_calibration(low_rows, cal)
    metrics["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(dict(full_rate=metrics, half_rate=low_metrics), indent=2))
    if args.json:
        args.json.write_text(json.dumps(dict(metrics=metrics, rows=rows, half_rate_metrics=low_metrics,
                                             half_rate_rows=low_rows), indent=1))
    if args.write:
        cal.update(data=sorted({r["clip"] for r in rows}), donors=[p.name for p in donor_wavs()], metrics_heldout=metrics)
        low_cal.update(below_fps=LOW_FPS_BELOW, fps=low_metrics["fps"], metrics_heldout=low_metrics)
        CALIBRATION.write_text(json.dumps(dict(cal, low_fps=low_cal), indent=2) + "\n")
        print(f"wrote {CALIBRATION}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
