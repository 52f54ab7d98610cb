"""Measure same/different-identity distances and fit the identity-consistency
calibration.

Data (all from the shared media folder, read in place):
- dlib ``examples/johns``: 55 small face crops of 5 people named John
  (identity labels from the folder names);
- the main face track of every shared talking-head clip (SadTalker HDTF
  references, LivePortrait driving videos): one person per track, chips every
  0.5 s over the first 20 s.

Pairs: same person = two chips of one clip track or two crops of one John;
different = chips of two different clips or crops of two different Johns
(clips are assumed to show different people; they do).

Consistency: a genuine track is a clip's own chips; a manipulated track has
a contiguous 30 % stretch of its chips replaced by another clip's chips (an
identity switch, as a face swap that fails on some frames would show).
Logistic regression on the track score, held out by clip.

Run: ``python -m detectors.identity.evaluate [--write]``.
"""

from __future__ import annotations

import argparse
import glob
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from detectors.av_sync.evaluate import MEDIA, clip_paths, fit_lr, llr_of
from detectors.face_swap.faces import SHARED_VIDEO_SCAN, scan_faces
from detectors.identity.consistency import TrackEmbeddings, track_consistency
from detectors.identity.embeddings import embed_image, embed_track
from detectors.metrics import auc_between as auc
from detectors.metrics import cllr_between as cllr

CALIBRATION = Path(__file__).with_name("calibration.json")
# Exactly what the detector sees (the shared scan), first 20 s.
SCAN = replace(SHARED_VIDEO_SCAN, max_seconds=20.0)


def johns() -> tuple[list[str], np.ndarray]:
    import cv2

    names, vecs = [], []
    for p in sorted(glob.glob(str(MEDIA / "image/dlib/examples/johns/*/*.jpg"))):
        bgr = cv2.imread(p)
        if bgr is None:
            continue
        v = embed_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if v is not None:
            names.append(Path(p).parent.name)
            vecs.append(v)
    return names, np.array(vecs)


def clip_tracks() -> dict[str, TrackEmbeddings]:
    out = {}
    for p in clip_paths():
        scan = scan_faces(p, SCAN)
        t = scan.main_track()
        if t is not None:
            e = embed_track(t)
            if len(e.vectors) >= 6:
                out[p.name] = e
    return out


def pair_distances(labels: list[str], vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = np.array(labels)
    d = np.linalg.norm(vecs[:, None] - vecs[None], axis=2)
    iu = np.triu_indices(len(lab), 1)
    same = lab[iu[0]] == lab[iu[1]]
    return d[iu][same], d[iu][~same]


def switched(genuine: TrackEmbeddings, donor: TrackEmbeddings, frac: float = 0.3, start: float = 0.35) -> TrackEmbeddings:
    v = genuine.vectors.copy()
    n = len(v)
    k = max(1, int(round(frac * n)))
    s = min(n - k, int(start * n))
    v[s:s + k] = donor.vectors[np.arange(k) % len(donor.vectors)]
    return TrackEmbeddings(genuine.track_id, genuine.times, v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--threshold", type=float, default=0.5, help="same-person distance (0.5: FMR 0.08 %% here)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    jn, jv = johns()
    tracks = clip_tracks()
    labels = jn + [name for name, e in tracks.items() for _ in e.vectors]
    vecs = np.vstack([jv] + [e.vectors for e in tracks.values()])
    same, diff = pair_distances(labels, vecs)
    js, jd = pair_distances(jn, jv)
    thr = args.threshold
    metrics = dict(
        johns_crops=len(jn), johns_people=len(set(jn)), clip_tracks=len(tracks), chips=int(sum(len(e.vectors) for e in tracks.values())),
        pairs_same=int(len(same)), pairs_different=int(len(diff)),
        auc_same_vs_different=auc(-same, -diff), auc_johns_only=auc(-js, -jd),
        threshold=thr, false_match_rate=float(np.mean(diff <= thr)), false_non_match_rate=float(np.mean(same > thr)),
        false_match_rate_johns=float(np.mean(jd <= thr)), false_non_match_rate_johns=float(np.mean(js > thr)),
        fmr_fnmr_at={f"{t:.2f}": [round(float(np.mean(diff <= t)), 4), round(float(np.mean(same > t)), 4)] for t in (0.45, 0.5, 0.55, 0.6)},
        same_distance_median=float(np.median(same)), different_distance_median=float(np.median(diff)),
    )
    # Track-level consistency: genuine vs identity-switched, held out by clip.
    names = sorted(tracks)
    rows = []
    for i, n in enumerate(names):
        rows.append((n, track_consistency(tracks[n]).score, 0))
        for m in names:
            if m != n:
                rows.append((n, track_consistency(switched(tracks[n], tracks[m])).score, 1))
    x = np.array([[r[1]] for r in rows])
    y = np.array([r[2] for r in rows])
    held = np.zeros(len(rows))
    for n in names:
        te = np.array([r[0] == n for r in rows])
        coef, bias = fit_lr(x[~te], y[~te])
        held[te] = llr_of(x[te], coef, bias)
    metrics.update(
        consistency_genuine_tracks=int((y == 0).sum()), consistency_switched_tracks=int((y == 1).sum()),
        consistency_auc_heldout=auc(held[y == 1], held[y == 0]), consistency_cllr_heldout=cllr(held[y == 1], held[y == 0]),
        consistency_false_alarm_llr_gt_0=float(np.mean(held[y == 0] > 0)),
        consistency_miss_llr_le_0=float(np.mean(held[y == 1] <= 0)),
        genuine_scores=[round(float(v), 4) for v in x[y == 0, 0]],
        seconds=round(time.perf_counter() - t0, 1),
    )
    print(json.dumps(metrics, indent=2))
    if args.write:
        coef, bias = fit_lr(x, y)
        # Claim check: one distance (track or photo vs the nearest reference) -> LLR(not the person : the person).
        dist = np.concatenate([same, diff])[:, None]
        lab = np.concatenate([np.zeros(len(same)), np.ones(len(diff))]).astype(int)
        ccoef, cbias = fit_lr(dist, lab)
        cal = dict(claim_coef=float(ccoef[0]), claim_bias=cbias, model="logistic regression on the 0.9-quantile distance to the track median embedding; llr = log10 LR(manipulated : as captured)",
                   coef=[float(c) for c in coef], bias=bias, match_threshold=thr,
                   data=dict(johns=sorted(set(jn)), clips=names), metrics_heldout=metrics)
        CALIBRATION.write_text(json.dumps(cal, indent=2) + "\n")
        print(f"wrote {CALIBRATION}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
