"""The shipped calibration: logistic regression weights that turn sync
features into a log10 likelihood ratio, loaded from ``calibration.json``
(written by ``evaluate.py --write``; its SHA-256 is the detector's weights hash)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from detectors.av_sync.features import FEATURE_NAMES, SyncFeatures
from detectors.calibration_file import load_calibration_json
from detectors.face_swap.frame_grid import LOW_FPS_BELOW

CALIBRATION_PATH = Path(__file__).with_name("calibration.json")
LLR_CLIP = 4.0  # never claim more than 10^4 from a hand-made feature model


class CalibrationError(RuntimeError):
    """calibration.json is missing or malformed; rerun ``python -m detectors.av_sync.evaluate --write``."""


@dataclass(frozen=True)
class SyncCalibration:
    coef: np.ndarray
    bias: float
    tolerance_frames: int
    original_offset_range: tuple[int, int]  # offsets measured on the real clips as published
    max_offset: int
    no_match_peak_z: float  # below: speech matches the mouth at no offset (5th percentile of the originals)
    sha256: str
    validation: str
    # Features are held inside the range the calibration saw: a long clip's
    # peak_z grows past anything in the 6-30 s calibration clips, and a
    # logistic line extrapolated there would claim more than the data shows.
    feature_min: np.ndarray
    feature_max: np.ndarray
    # No ratio stronger than the calibration data's size supports (evaluate.llr_bounds).
    llr_min: float
    llr_max: float
    low_fps: SyncCalibration | None = None  # the fit for video under LOW_FPS_BELOW frames per second

    def for_fps(self, fps: float) -> SyncCalibration:
        """The fit made at this frame rate's kind: half-rate webcams or 25/30 fps video."""
        return self.low_fps if self.low_fps is not None and fps < LOW_FPS_BELOW else self

    def llr(self, f: SyncFeatures) -> float:
        x = np.clip(f.vector(), self.feature_min, self.feature_max)
        v = float((x @ self.coef + self.bias) / np.log(10))
        return float(np.clip(v, max(-LLR_CLIP, self.llr_min), min(LLR_CLIP, self.llr_max)))


@lru_cache(maxsize=4)
def load_calibration(path: Path = CALIBRATION_PATH) -> SyncCalibration:
    def build(d: dict, sha256: str, low: bool = False) -> SyncCalibration:
        if tuple(d["features"]) != FEATURE_NAMES:
            raise CalibrationError(f"{path}: features {d['features']} do not match the code's {FEATURE_NAMES}")
        m = d.get("metrics_heldout", {})
        which = (f"half-rate copies ({', '.join(f'{v:g}' for v in d.get('fps', []))} fps) of the shared talking-head clips"
                 if low else "shared talking-head clips")
        validation = (
            f"{which} with speech ({m.get('clips')} clips; {m.get('originals')} originals vs "
            f"{m.get('swapped')} with substituted speech), held out by clip: AUC {m.get('auc_swapped_vs_original_llr_heldout', float('nan')):.3f}, "
            f"Cllr {m.get('cllr_heldout', float('nan')):.3f}; see detectors/av_sync/MODEL_CARD.md"
        )
        low_fps = build(d["low_fps"], sha256, low=True) if not low and "low_fps" in d else None
        return SyncCalibration(
            coef=np.asarray(d["coef"], dtype=np.float64), bias=float(d["bias"]),
            tolerance_frames=int(d["tolerance_frames"]),
            original_offset_range=(int(d["original_offset_range"][0]), int(d["original_offset_range"][1])),
            max_offset=int(d["max_offset"]), no_match_peak_z=float(d["no_match_peak_z"]),
            sha256=sha256, validation=validation,
            feature_min=np.asarray(d["feature_range"][0], dtype=np.float64),
            feature_max=np.asarray(d["feature_range"][1], dtype=np.float64),
            llr_min=float(d["llr_bounds"][0]), llr_max=float(d["llr_bounds"][1]), low_fps=low_fps,
        )

    return load_calibration_json(path, build, CalibrationError, "lip-sync calibration",
                                 "python -m detectors.av_sync.evaluate --write")
