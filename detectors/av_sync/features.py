"""From a sync search to the numbers the calibration sees.

Only substitution is weighed as evidence: the peak of the offset curve and
its height above the curve's median (speech from elsewhere matches the mouth
at no offset). The best offset is reported, not weighed: the real clips we
could measure sit anywhere from -12 to +11 frames as published, so without
in-sync ground truth no likelihood ratio for "the audio was shifted" can be
estimated honestly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors.av_sync.sync import SyncResult

FEATURE_NAMES = ("confidence", "peak")


@dataclass(frozen=True)
class SyncFeatures:
    confidence: float
    peak: float

    def vector(self) -> np.ndarray:
        return np.array([self.confidence, self.peak], dtype=np.float64)


def sync_features(result: SyncResult) -> SyncFeatures:
    return SyncFeatures(result.confidence, result.curve.peak)
