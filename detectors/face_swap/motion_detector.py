"""The registered ``face_motion`` detector: does the inner face move with the
head around it? (``motion.py`` says why a pasted face does not.)

Reads the shared face scan (one decode with lip sync, identity and the
face-swap CNN) and scores each face track with at least ``MIN_PAIRS`` + 2
consecutive frames; the track with the most decoupled motion decides. The
LLR comes from a logistic regression on log(score) fitted by
``python -m detectors.face_swap.motion_eval --write`` on real clips and
swaps made from them, with the identities of the held-out test split kept
out of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from detectors.base import DetectorContext, not_applicable, register
from detectors.calibration_file import load_calibration_json
from detectors.face_swap.faces import SHARED_VIDEO_SCAN, audiovisual_scan_or_reason, time_guard_note
from detectors.face_swap.frame_grid import LOW_FPS_BELOW, frame_rate_varies
from detectors.face_swap.motion import MIN_PAIRS, RelativeMotion, relative_motion
from verifier.evidence import Finding, MediaInfo, MediaKind, Segment

CALIBRATION_PATH = Path(__file__).with_name("motion_calibration.json")
LLR_CLIP = 3.0


class MotionCalibrationError(RuntimeError):
    """motion_calibration.json is missing or malformed."""


@dataclass(frozen=True)
class MotionCalibration:
    coef: float
    bias: float
    real_p90: float  # 90th percentile of the score on the real clips it was measured on
    sha256: str
    validation: str
    low_fps: MotionCalibration | None = None  # the fit for video under LOW_FPS_BELOW frames per second

    def for_fps(self, fps: float) -> MotionCalibration:
        """The fit made at this frame rate's kind: half-rate webcams or 25/30 fps video."""
        return self.low_fps if self.low_fps is not None and fps < LOW_FPS_BELOW else self

    def llr(self, score: float) -> float:
        z = self.coef * np.log(max(score, 1e-3)) + self.bias
        return float(np.clip(z / np.log(10), -LLR_CLIP, LLR_CLIP))


@lru_cache(maxsize=2)
def load_calibration(path: Path = CALIBRATION_PATH) -> MotionCalibration:
    def build(d: dict, sha256: str, low: bool = False) -> MotionCalibration:
        m = d["metrics"]
        which = (f"half-rate copies ({', '.join(f'{v:g}' for v in m.get('fps', []))} fps) of the clips and swaps; "
                 if low else "")
        return MotionCalibration(
            coef=float(d["coef"]), bias=float(d["bias"]), real_p90=float(m["real_score_p90"]), sha256=sha256,
            validation=(f"{which}held-out identities ({m['test_real']} real clips, {m['test_swaps']} pasted-face swaps made here): "
                        f"AUC {m['test_auc']:.3f}; real clips with LLR >= 1: {m['test_real_llr_ge_1']}/{m['test_real']}; "
                        f"hand-made cue, see detectors/face_swap/FACE_MOTION.md"),
            low_fps=build(d["low_fps"], sha256, low=True) if not low and "low_fps" in d else None,
        )

    return load_calibration_json(path, build, MotionCalibrationError, "face-motion calibration",
                                 "python -m detectors.face_swap.motion_eval --write")


class FaceMotionDetector:
    name: ClassVar[str] = "face_motion"
    version: ClassVar[str] = "0.2.0"
    modality: ClassVar[str] = "video"
    examines: ClassVar[str] = "face"
    needs: ClassVar[str] = "a video stream (a still image has no motion)"

    @property
    def weights_sha256(self) -> str | None:
        return load_calibration().sha256

    def applies_to(self, media: MediaInfo) -> bool:
        return media.kind == MediaKind.video and media.has_video

    def analyze(self, ctx: DetectorContext) -> Finding:
        full_rate = load_calibration()
        scan = audiovisual_scan_or_reason(ctx.path)
        if isinstance(scan, str):
            return not_applicable(self, scan)
        cal = full_rate.for_fps(scan.fps)
        scored: list[tuple[int, RelativeMotion]] = []
        for t in scan.tracks:
            m = relative_motion(t, scan.frame_times, SHARED_VIDEO_SCAN.crop_margin)
            if m is not None:
                scored.append((t.track_id, m))
        if not scored:
            return not_applicable(self, f"no face track with {MIN_PAIRS + 2} consecutive frames to compare motion over")
        track_id, worst = max(scored, key=lambda x: x[1].score)
        llr = cal.llr(worst.score)
        segs = [Segment(start_s=round(a, 3), end_s=round(b, 3), score=round(v, 4), llr=round(cal.llr(v), 3),
                        label=f"track {track_id}: inner face jumps against the head")
                for a, b, v in worst.windows() if cal.llr(v) > 0]
        reason = (f"{len(scored)} face track(s); in track {track_id} the inner face's motion relative to the head "
                  f"jumps by {worst.score:.2f} px from frame to frame (median over {worst.pairs} frame triples; "
                  f"90 % of the filmed faces it was measured on: under {cal.real_p90:.2f})"
                  + ("; the frame rate varies: only frames one period apart are compared"
                     if frame_rate_varies(scan.frame_times) else "")
                  + ("" if cal is full_rate else
                     f"; the video runs at {scan.fps:.1f} fps, so it is judged by the calibration made on half-rate "
                     "copies (frames twice as far apart jump further, filmed or pasted)")
                  + time_guard_note(scan.stopped_at_s))
        return Finding(detector=self.name, version=self.version, modality="video", weights_sha256=cal.sha256,
                       applicable=True, reason=reason, raw_score=round(worst.score, 6), llr=llr, segments=segs,
                       validation=cal.validation)


@register("face_motion")
def _factory() -> FaceMotionDetector:
    return FaceMotionDetector()
