"""Reproduce every number in docs/av_sync.md.

  python -m benchmarks.av_sync_eval faces     # dlib HOG vs OpenCV Haar: recall and speed
  python -m benchmarks.av_sync_eval sync      # lip sync: offsets, substituted audio, calibration
  python -m benchmarks.av_sync_eval identity  # same/different identity, track consistency
  python -m benchmarks.av_sync_eval all

Reads the shared media folder in place (``VERIFIER_SHARED_DIR``, default
../shared); never copies it. Single-threaded: run under ``nice -n 10``.
"""

from __future__ import annotations

import argparse
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from detectors.av_sync.evaluate import MEDIA, clip_paths

# ------------------------------------------------------------------ faces


def _voc_boxes() -> list[tuple[Path, list[tuple[float, float, float, float]]]]:
    root = MEDIA / "image/dlib/examples/faces"
    out = []
    for xml in ("training.xml", "testing.xml"):
        if not (root / xml).is_file():
            continue
        for im in ET.parse(root / xml).getroot().iter("image"):
            boxes = [(float(b.get("left")), float(b.get("top")), float(b.get("left")) + float(b.get("width")),
                      float(b.get("top")) + float(b.get("height"))) for b in im.iter("box") if b.get("ignore") != "1"]
            out.append((root / im.get("file"), boxes))
    return out


def bench_faces() -> dict:
    import cv2

    from detectors.face_swap.faces import FaceBox, FaceDetector, iter_frames

    cv2.setNumThreads(1)
    configs = {"dlib_hog_up0": ("dlib_hog", 0), "dlib_hog_up1": ("dlib_hog", 1), "haar": ("haar", 0)}
    voc = _voc_boxes()
    res: dict = {"voc_images": len(voc), "voc_faces": sum(len(b) for _, b in voc)}
    for name, (backend, up) in configs.items():
        det = FaceDetector(backend, upsample=up)
        hit = fp = 0
        t = 0.0
        for path, gt in voc:
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            t0 = time.perf_counter()
            found = det.detect(rgb, min_size=20)
            t += time.perf_counter() - t0
            gtb = [FaceBox(*g) for g in gt]
            matched = {i for i, g in enumerate(gtb) if any(f.iou(g) >= 0.3 for f in found)}
            hit += len(matched)
            fp += sum(1 for f in found if not any(f.iou(g) >= 0.3 for g in gtb))
        res[f"{name}_voc_recall"] = round(hit / max(1, res["voc_faces"]), 3)
        res[f"{name}_voc_false_pos"] = fp
        res[f"{name}_voc_ms_per_image"] = round(1000 * t / max(1, len(voc)), 1)
    # Clips: every shared clip at 2 fps, working resolution 640; each frame shows one face.
    for name, (backend, up) in configs.items():
        if up:
            continue
        det = FaceDetector(backend, upsample=up)
        frames = with_face = extra = 0
        t = 0.0
        for p in clip_paths():
            for f in iter_frames(p, sample_fps=2.0, work_max_side=640):
                t0 = time.perf_counter()
                found = det.detect(f.gray, min_size=40)  # what scan_faces uses
                t += time.perf_counter() - t0
                frames += 1
                with_face += bool(found)
                extra += max(0, len(found) - 1)
        res[f"{name}_clip_frames"] = frames
        res[f"{name}_clip_recall"] = round(with_face / max(1, frames), 3)
        res[f"{name}_clip_extra_boxes"] = extra
        res[f"{name}_clip_ms_per_frame"] = round(1000 * t / max(1, frames), 1)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["faces", "sync", "identity", "all"])
    args = ap.parse_args(argv)
    if not MEDIA.is_dir():
        print(f"shared media not found at {MEDIA}")
        return 2
    if args.what in ("faces", "all"):
        print(json.dumps({"faces": bench_faces()}, indent=2))
    if args.what in ("sync", "all"):
        from detectors.av_sync.evaluate import main as sync_main

        sync_main([])
    if args.what in ("identity", "all"):
        from detectors.identity.evaluate import main as id_main

        id_main([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
