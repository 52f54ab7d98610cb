"""Acceptance evaluation on identities the network never saw.

    python -m detectors.face_swap.evaluate_heldout --corpus CORPUS --weights W.pt \
        --work /tmp/fs_heldout --out heldout.json

Real clips = the corpus's *test* split videos (identities held out from
training and calibration). Against them:

(a) their SBI pseudo-fakes: every scored crop of the clip self-blended
    (seeded), aggregated exactly like the detector (mean over frames);
(b) real manipulations made here (``manipulate``): each test clip's face
    replaced frame by frame by the face of two other held-out clips, with
    Poisson and with alpha blending.

Each condition - as made (H.264 CRF 18), re-encoded at CRF 23 and CRF 32,
downscaled to 480 lines (CRF 23) - is scored separately. With only a handful
of held-out clips, 3-second windows (the same aggregation per window) are
reported too: more trials, but not independent ones. False alarms: real
clips (and windows) with video LLR >= 1 (the finance profile's
likely_manipulated threshold); the calibration clips are reported apart
because the calibration was fitted on them.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from detectors import metrics
from detectors.face_swap import crops as C
from detectors.face_swap import sbi
from detectors.face_swap.corpus import read_corpus
from detectors.face_swap.evaluate import ItemScore, report
from detectors.face_swap.manipulate import ManipulationError, SwapSpec, make_swap, transcode
from detectors.face_swap.scoring import LoadedModel, aggregate, crop_logits, load_model, score_scan

CONDITIONS = {"as_made": None, "crf23": (23, None), "crf32": (32, None), "480p": (23, 480)}


def _clips(corpus_dir: Path, split: str) -> list[tuple[str, Path]]:
    c = read_corpus(corpus_dir)
    seen: dict[str, tuple[str, Path]] = {}
    for r in c.records:
        if r.split == split and r.kind == "video" and r.label == 0:
            seen.setdefault(r.source, (r.group, Path(r.source)))
    return sorted(seen.values(), key=lambda x: str(x[1]))


def make_fakes(test: list[tuple[str, Path]], work: Path, max_seconds: float, log) -> list[tuple[str, str, Path]]:
    """(method, group, path) of the swaps: each target gets the faces of the two next held-out clips."""
    out = []
    for i, (group, target) in enumerate(test):
        donors = [test[(i + k) % len(test)] for k in (1, 2) if len(test) > k]
        for dgroup, donor in donors:
            if dgroup == group:
                continue
            for method in ("poisson", "alpha"):
                p = work / "as_made" / "fake" / method / f"{target.stem}__from__{donor.stem}.mp4"
                if not p.is_file():
                    try:
                        make_swap(SwapSpec(target, donor, method, max_seconds), p)  # type: ignore[arg-type]
                    except ManipulationError as exc:
                        log(f"skip swap: {exc}")
                        continue
                log(f"swap {p.name} ({method})")
                out.append((method, group, p))
    return out


def condition_file(src: Path, cond: str, work: Path, rel: str) -> Path:
    if CONDITIONS[cond] is None:
        return src
    crf, height = CONDITIONS[cond]
    dst = work / cond / rel
    if not dst.is_file():
        transcode(src, dst, crf=crf, height=height)
    return dst


def sbi_item(scan: C.CropScan, lm: LoadedModel, seed: int) -> tuple[list[float], list[float]]:
    """Per-frame max logit of the clip's crops after self-blending each one."""
    rng = np.random.default_rng(seed)
    pairs = []
    for t in scan.tracks:
        fakes = [sbi.self_blend(o.crop, o.landmarks, rng)[0] for o in t.obs]
        z = crop_logits(lm.model, fakes)
        pairs += list(zip([o.time_s for o in t.obs], z.tolist()))
    ts, zs, _ = aggregate(pairs)
    return ts.round(3).tolist(), zs.round(4).tolist()


def run(corpus_dir: Path, weights: Path, work: Path, max_seconds: float, sample_fps: float, log,
        conditions: tuple[str, ...] = tuple(CONDITIONS)) -> dict:
    lm = load_model(str(weights))
    test = _clips(corpus_dir, "test")
    calib = _clips(corpus_dir, "calibration")
    if len(test) < 2:
        raise SystemExit("need at least two held-out (test) clips in the corpus")
    fakes = make_fakes(test, work, max_seconds, log)
    opts = C.CropOptions(sample_fps=sample_fps, max_seconds=max_seconds)
    results: dict = {"weights_sha256": lm.sha256, "test_clips": [str(p) for _, p in test],
                     "calibration_clips": [str(p) for _, p in calib], "swaps": [str(p) for *_, p in fakes],
                     "options": asdict(opts), "conditions": {}}
    for cond in conditions:
        t0 = time.perf_counter()
        reals, sbis, swaps, cal_reals = [], [], [], []
        for k, (group, p) in enumerate(test):
            f = condition_file(p, cond, work, f"real/{p.stem}.mp4")
            vs = score_scan(C.scan_crops(f, opts), lm)
            reals.append(_item(vs, 0, "none", group))
            ts, zs = sbi_item(vs.scan, lm, seed=1000 + k)
            sbis.append(ItemScore(str(f), 1, "sbi", group, bool(zs), "", float(np.mean(zs)) if zs else None,
                                  float(lm.calibration.llr10(np.mean(zs))) if zs else None, ts, zs))
        for method, group, p in fakes:
            f = condition_file(p, cond, work, f"fake/{method}/{p.name}")
            swaps.append(_item(score_scan(C.scan_crops(f, opts), lm), 1, method, group))
        for group, p in calib:
            f = condition_file(p, cond, work, f"calib/{p.stem}.mp4")
            cal_reals.append(_item(score_scan(C.scan_crops(f, opts), lm), 0, "none", group))
        res = {
            "a_sbi": report(reals + sbis, lm),
            "b_swaps": report(reals + swaps, lm),
            "real_llrs": {Path(s.path).name: s.llr for s in reals},
            "swap_llrs": {f"{s.manipulation}/{Path(s.path).name}": s.llr for s in swaps},
            "calibration_clips_false_alarm": {
                "video_llrs": {Path(s.path).name: s.llr for s in cal_reals},
                "fraction_llr_ge_1": float(np.mean([s.llr >= 1.0 for s in cal_reals if s.applicable])) if cal_reals else None,
            },
            "seconds": round(time.perf_counter() - t0, 1),
        }
        results["conditions"][cond] = res
        b, a = res["b_swaps"], res["a_sbi"]
        log(f"{cond}: swaps video AUC {b['video'].get('auc', float('nan')):.3f} window AUC "
            f"{b['window_3s'].get('auc', float('nan')):.3f}; SBI video AUC {a['video'].get('auc', float('nan')):.3f}; "
            f"FA(video) {b['false_alarm_rate_llr_ge_1']['video']}")
    results["images"] = image_false_alarms(corpus_dir, lm)
    return results


def _item(vs, label: int, manip: str, group: str) -> ItemScore:
    if not vs.applicable:
        return ItemScore(vs.path, label, manip, group, False, vs.scan.reason or "")
    return ItemScore(vs.path, label, manip, group, True, "", vs.raw, vs.llr,
                     vs.frame_times.round(3).tolist(), vs.frame_logits.round(4).tolist())


def image_false_alarms(corpus_dir: Path, lm: LoadedModel) -> dict:
    """Held-out still images (test split, incl. eval-only CodeFormer photos):
    per-crop LLRs of the real faces and of their SBIs."""
    c = read_corpus(corpus_dir)
    recs = [r for r in c.split("test") if r.kind == "image" and r.label == 0]
    if not recs:
        return {}
    imgs = [c.load_crop(r) for r in recs]
    rng = np.random.default_rng(7)
    fakes = [sbi.self_blend(im, np.asarray(r.landmarks), rng)[0] for im, r in zip(imgs, recs)]
    zr, zf = crop_logits(lm.model, imgs), crop_logits(lm.model, fakes)
    llr_r = lm.calibration.llr10(zr)
    y = np.r_[np.zeros(len(zr)), np.ones(len(zf))]
    return {"n_real_crops": len(recs), "fraction_llr_ge_1": float(np.mean(llr_r >= 1.0)),
            "real_vs_sbi": metrics.summary(np.r_[zr, zf], y, lm.calibration.llr10(np.r_[zr, zf]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--weights", type=Path, default=Path(__file__).with_name("face_swap_sbi.pt"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/face_swap_heldout"))
    ap.add_argument("--out", type=Path, default=Path("face_swap_heldout.json"))
    ap.add_argument("--max-seconds", type=float, default=10.0)
    ap.add_argument("--sample-fps", type=float, default=3.0)
    ap.add_argument("--conditions", default=",".join(CONDITIONS), help="Comma-separated subset of " + ", ".join(CONDITIONS))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    res = run(args.corpus, args.weights, args.work, args.max_seconds, args.sample_fps, lambda m: print(m, flush=True),
              tuple(c for c in args.conditions.split(",") if c))
    args.out.write_text(json.dumps(res, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
