"""Speed of the face-swap detector on a 60 s 1280x720 30 fps one-face clip.

    python benchmarks/video.py [--weights W.pt] [--source CLIP] [--seconds 60]

Makes the clip by looping a shared talking-head video, scaled to 720 lines
and centred on a 1280x720 canvas, encoded with libx264 (CRF 23) into a
temporary file. Then, on one thread: raw PyAV decode of every frame (the
floor any video detector pays), and the detector end to end (``analyze``
with artifacts), with its breakdown decode / detect / landmarks / crops /
CNN / artifacts. Also the CNN's crops per second on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_SOURCE = Path("/work/shared/media/video/sadtalker/examples/ref_video/WDA_KatieHill_000.mp4")


def make_clip(source: Path, dst: Path, seconds: float = 60.0, size: tuple[int, int] = (1280, 720), fps: int = 30) -> Path:
    import cv2

    from detectors.face_swap.manipulate import read_frames, write_h264

    frames, _ = read_frames(source)
    h, w = frames[0].shape[:2]
    k = size[1] / h
    nw = int(round(w * k / 2)) * 2
    x0 = (size[0] - nw) // 2
    canvas = np.zeros((size[1], size[0], 3), np.uint8)

    def gen():
        n = int(seconds * fps)
        for i in range(n):
            # ping-pong loop so the motion has no jump
            period = 2 * len(frames) - 2
            j = i % period
            j = j if j < len(frames) else period - j
            c = canvas.copy()
            c[:, x0:x0 + nw] = cv2.resize(frames[j], (nw, size[1]), interpolation=cv2.INTER_LINEAR)
            yield c

    return write_h264(gen(), dst, fps, crf=23)


def raw_decode(path: Path) -> tuple[float, int]:
    import av

    t = time.perf_counter()
    n = 0
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "SLICE"
        for _ in c.decode(s):
            n += 1
    return time.perf_counter() - t, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--clip", type=Path, help="Use this clip instead of making one.")
    ap.add_argument("--sample-fps", type=float, default=3.0)
    args = ap.parse_args()
    os.environ.setdefault("VERIFIER_CV_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from detectors.face_swap import crops as C
    from detectors.face_swap.detector import FaceSwapDetector, write_artifacts
    from detectors.face_swap.scoring import DEFAULT_WEIGHTS, crop_logits, load_model, score_scan

    weights = args.weights or DEFAULT_WEIGHTS
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip
        if clip is None:
            if not args.source.is_file():
                raise SystemExit(f"{args.source} not found: pass --source or --clip")
            t = time.perf_counter()
            clip = make_clip(args.source, Path(tmp) / "bench_720p.mp4", args.seconds)
            print(f"made {clip} in {time.perf_counter() - t:.1f} s", flush=True)
        dec_s, n_frames = raw_decode(clip)
        lm = load_model(str(weights))
        opts = C.CropOptions(sample_fps=args.sample_fps)
        t0 = time.perf_counter()
        scan = C.scan_crops(clip, opts)
        vs = score_scan(scan, lm)
        t1 = time.perf_counter()
        write_artifacts(vs, lm, Path(tmp) / "art", 3)
        t2 = time.perf_counter()
        crops = [o.crop for t in scan.tracks for o in t.obs]
        batch = np.stack((crops * 4)[:128]) if crops else np.zeros((128, 112, 112, 3), np.uint8)
        crop_logits(lm.model, list(batch[:8]))
        t3 = time.perf_counter()
        crop_logits(lm.model, list(batch))
        cps = len(batch) / (time.perf_counter() - t3)
        total = t2 - t0
        out = {
            "clip": {"frames": n_frames, "seconds": args.seconds, "size": "1280x720", "fps": 30},
            "raw_pyav_decode_s": round(dec_s, 2),
            "detector_total_s": round(total, 2),
            "ratio_to_raw_decode": round(total / dec_s, 2),
            "breakdown_s": {**{k: round(v, 2) for k, v in vs.timings.items()}, "artifacts": round(t2 - t1, 2)},
            "sampled_frames": scan.frames, "crops": len(crops), "tracks": len(scan.tracks),
            "cnn_crops_per_s_one_thread": round(cps, 1),
            "video_llr": vs.llr,
            "target_s": 30.0,
        }
        print(json.dumps(out, indent=2))
    _ = FaceSwapDetector  # imported so a broken detector module fails the benchmark


if __name__ == "__main__":
    main()
