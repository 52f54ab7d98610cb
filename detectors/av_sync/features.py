"""From a sync search to the numbers the calibration sees.

Only substitution is weighed as evidence: how far the best correlation over
the offsets stands above chance (speech from elsewhere matches the mouth at
no offset). The best offset is reported, not weighed: the real clips we
could measure sit anywhere from -12 to +11 frames as published, so without
in-sync ground truth no likelihood ratio for "the audio was shifted" can be
estimated honestly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors.av_sync.sync import SyncResult, fisher_z

FEATURE_NAMES = ("peak_z",)


@dataclass(frozen=True)
class SyncFeatures:
    """``peak_z``: the best multiple correlation over the offsets on Fisher's
    scale, atanh(R) * sqrt(N - 3) for N frames used. Speech from elsewhere
    leaves R at its chance level, which falls as 1/sqrt(N); on this scale
    chance no longer depends on the clip's length (the maximum over 31
    offsets and 3 mouth features adds a constant the calibration absorbs),
    while a real coupling grows with N, as evidence should."""

    peak_z: float

    def vector(self) -> np.ndarray:
        return np.array([self.peak_z], dtype=np.float64)


def peak_z(result: SyncResult) -> float:
    """Over the calibrated offset range only (``result.curve``)."""
    return fisher_z(result.curve.peak, result.frames_used)


def sync_features(result: SyncResult) -> SyncFeatures:
    return SyncFeatures(peak_z(result))
