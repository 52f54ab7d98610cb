"""Comparing a questioned voice with an enrolled reference.

The score is a cosine similarity between L2-normed GE2E embeddings (higher =
more alike). How the reference recordings are combined (``centroid``,
``max`` or ``mean`` over references) is chosen by measurement in
``evaluate.py`` and recorded in calibration.json, so the detector scores
exactly as the calibration was measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from detectors.speaker.encoder import Partials, l2

Combine = Literal["centroid", "max", "mean"]
COMBINE_METHODS: tuple[Combine, ...] = ("centroid", "max", "mean")


def similarity(test: np.ndarray, refs: np.ndarray, combine: Combine) -> float:
    """Cosine similarity of one test embedding to a set of reference embeddings."""
    refs = np.atleast_2d(refs)
    if combine == "centroid":
        return float(l2(refs.mean(axis=0)) @ test)
    sims = refs @ test
    return float(sims.max() if combine == "max" else sims.mean())


def similarities(tests: np.ndarray, refs: np.ndarray, combine: Combine) -> np.ndarray:
    """Vectorised ``similarity`` for many test embeddings (rows)."""
    refs = np.atleast_2d(refs)
    if combine == "centroid":
        return tests @ l2(refs.mean(axis=0))
    sims = tests @ refs.T
    return sims.max(axis=1) if combine == "max" else sims.mean(axis=1)


@dataclass(frozen=True)
class Window:
    start_s: float  # in the concatenated-speech timeline
    end_s: float
    embedding: np.ndarray
    members: np.ndarray  # indices of its partials


def windows(partials: Partials, window_s: float = 4.0, hop_s: float = 2.0, partial_s: float = 1.6) -> list[Window]:
    """Group the 1.6 s partials into windows of about ``window_s`` seconds of
    speech; each window's embedding is the normed mean of its partials. Used
    to point at stretches of a long recording that do not match."""
    if len(partials.vectors) == 0:
        return []
    end = float(partials.starts_s[-1] + partial_s)
    out = []
    t = 0.0
    while True:
        sel = (partials.starts_s >= t) & (partials.starts_s + partial_s <= t + window_s + 1e-6)
        if sel.any():
            out.append(Window(t, min(t + window_s, end), l2(partials.vectors[sel].mean(axis=0)), np.flatnonzero(sel)))
        if t + window_s >= end:
            break
        t += hop_s
    return out
