"""Identity drift and flicker inside one face track.

A captured face keeps its identity; a face swap can flicker back to the
source identity on hard frames (profile, occlusion, blur) or drift over a
shot. We measure, for each chip, its distance to the track's median
embedding (robust to a few bad chips), and report a high quantile of those
distances: one or two bad frames do not count, a stretch does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors.identity.embeddings import TrackEmbeddings

QUANTILE = 0.9


@dataclass(frozen=True)
class TrackConsistency:
    track_id: int
    chips: int
    score: float  # QUANTILE of distances to the track median embedding
    distances: np.ndarray
    times: np.ndarray

    def outlier_spans(self, threshold: float, chip_s: float) -> list[tuple[float, float, float]]:
        """(start, end, max distance) of consecutive chips beyond ``threshold``."""
        spans: list[tuple[float, float, float]] = []
        cur: list[int] = []
        for i, d in enumerate(self.distances):
            if d > threshold:
                cur.append(i)
            elif cur:
                spans.append(self._span(cur, chip_s))
                cur = []
        if cur:
            spans.append(self._span(cur, chip_s))
        return spans

    def _span(self, idx: list[int], chip_s: float) -> tuple[float, float, float]:
        return float(self.times[idx[0]]), float(self.times[idx[-1]] + chip_s), float(self.distances[idx].max())


def track_consistency(emb: TrackEmbeddings) -> TrackConsistency:
    if len(emb.vectors) == 0:
        return TrackConsistency(emb.track_id, 0, float("nan"), np.zeros(0), np.zeros(0))
    center = np.median(emb.vectors, axis=0)
    d = np.linalg.norm(emb.vectors - center, axis=1)
    return TrackConsistency(emb.track_id, len(d), float(np.quantile(d, QUANTILE)), d, emb.times)
