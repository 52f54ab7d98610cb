"""From a sync search to the numbers the calibration sees, and the two
findings a user reads: an offset beyond tolerance, or speech matching the
mouth at no offset (substituted audio)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors.av_sync.sync import SyncResult

FEATURE_NAMES = ("confidence", "peak", "offset_excess", "agreement")


@dataclass(frozen=True)
class SyncFeatures:
    confidence: float
    peak: float
    offset_excess: float  # frames beyond the tolerance, capped
    agreement: float

    def vector(self) -> np.ndarray:
        return np.array([self.confidence, self.peak, self.offset_excess, self.agreement], dtype=np.float64)


def sync_features(result: SyncResult, tolerance_frames: int = 1, cap: int = 6) -> SyncFeatures:
    excess = float(min(cap, max(0, abs(result.offset_frames) - tolerance_frames)))
    return SyncFeatures(result.confidence, result.curve.peak, excess, result.agreement)
