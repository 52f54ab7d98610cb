"""Mouth motion from a face track, one feature vector per video frame.

The 5-point landmarks carry no mouth points, so the mouth is taken from the
aligned face crop (``faces.aligned_crop``: eyes at fixed positions), where it
sits in a fixed region below the nose whatever the head pose. Rather than
hand-pick one measure of mouth opening, we keep the first principal
components of the mouth-region pixels over time (after removing slow changes
in lighting and pose with a 1 s high-pass). Opening, closing and lip rounding
are the dominant pixel changes there, so the first components track them; the
sync search then finds the linear combination that best explains the speech
envelope at each offset (the FaceSync approach of Slaney and Covell, 2000,
with a single audio feature).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Iterator

import numpy as np
from scipy.ndimage import uniform_filter1d

from detectors.face_swap.faces import FaceTrack
from detectors.face_swap.frame_grid import FrameGrid

# Mouth region in the aligned crop, as fractions of the crop side: rows below
# the nose to the chin, columns between the mouth corners with some slack.
ROI_ROWS = (0.56, 0.94)
ROI_COLS = (0.25, 0.75)


@dataclass(frozen=True)
class MouthSignal:
    features: np.ndarray  # (n_frames, q) principal-component scores, 0 where unobserved
    observed: np.ndarray  # bool per frame: the face was on screen
    # Band-passed lip opening in aligned-crop pixels (0 where unobserved), on
    # the same scale for every face: how much this mouth moves, for telling
    # whose turn it is (``turns.py``). None for the PCA-only features.
    opening: np.ndarray | None = None


@contextmanager
def single_thread_blas() -> Iterator[None]:
    """Small SVDs on a busy 2-core machine: OpenBLAS's spinning worker
    threads made a 250x768 SVD take 8 s instead of 0.07 s. One thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        with nullcontext():
            yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def mouth_roi(crop: np.ndarray) -> np.ndarray:
    h, w = crop.shape[:2]
    r0, r1 = int(ROI_ROWS[0] * h), int(ROI_ROWS[1] * h)
    c0, c1 = int(ROI_COLS[0] * w), int(ROI_COLS[1] * w)
    return crop[r0:r1, c0:c1]


# Articulation lives at syllable rates (about 2-7 Hz): slower changes are
# lighting and head turns, faster ones are landmark jitter and codec noise.
SIGNAL_BAND_HZ: tuple[float, float] | None = (1.0, 8.0)  # None: 1 s moving-average high-pass only


def highpass(x: np.ndarray, fps: float, axis: int = 0) -> np.ndarray:
    """Remove what changes slower than about 1 s (lighting, slow head turns),
    and, with ``SIGNAL_BAND_HZ`` set, what is outside that band."""
    if SIGNAL_BAND_HZ is not None:
        from scipy.signal import butter, sosfiltfilt

        lo, hi = SIGNAL_BAND_HZ
        hi = min(hi, 0.45 * fps)
        if x.shape[axis] > 30 and hi > lo:  # a band needs >= 2.3 fps; below, only the moving average
            sos = butter(2, [lo, hi], btype="band", fs=fps, output="sos")
            return sosfiltfilt(sos, x, axis=axis)
    return x - uniform_filter1d(x, max(3, int(round(fps))), axis=axis, mode="nearest")


def highpass_filled(x: np.ndarray, observed: np.ndarray, fps: float) -> np.ndarray:
    """``highpass`` of per-frame rows ``x`` after filling the unobserved
    frames with the nearest earlier observed one (the first observed before
    it), so the filters see no steps at the gaps."""
    n = observed.size
    idx = np.where(observed, np.arange(n), 0)
    np.maximum.accumulate(idx, out=idx)
    first = int(np.argmax(observed))
    idx[:first] = first
    return highpass(x[idx], fps)


# Lip bands in the aligned crop (fractions of its side) for the flow opening.
UPPER_LIP_ROWS = (0.56, 0.68)
LOWER_LIP_ROWS = (0.74, 0.90)


def flow_opening(track: FaceTrack, n_frames: int) -> np.ndarray:
    """Mouth opening, up to a constant: the cumulative vertical flow of the
    lower lip band minus the upper lip band (Farneback on consecutive aligned
    crops). Head motion moves both bands alike and cancels; opening the jaw
    moves them apart. Gaps in the track restart the sum."""
    import cv2

    out = np.zeros(n_frames)
    prev = None
    level = 0.0
    for o in track.observations:
        if o.crop is None or o.frame_index >= n_frames:
            continue
        h, w = o.crop.shape[:2]
        # Flow only over the lower face (with a margin for the flow window):
        # a quarter of the pixels of the whole crop, the same lip bands.
        r0 = max(0, int(UPPER_LIP_ROWS[0] * h) - FLOW_PAD)
        c0, c1 = int(ROI_COLS[0] * w), int(ROI_COLS[1] * w)
        region = o.crop[r0:, max(0, c0 - FLOW_PAD):min(w, c1 + FLOW_PAD)]
        if prev is not None and prev[0] == o.frame_index - 1:
            f = cv2.calcOpticalFlowFarneback(prev[1], region, None, 0.5, 2, 9, 3, 5, 1.1, 0)
            cc0 = c0 - max(0, c0 - FLOW_PAD)
            cols = slice(cc0, cc0 + (c1 - c0))
            lo = f[int(LOWER_LIP_ROWS[0] * h) - r0:int(LOWER_LIP_ROWS[1] * h) - r0, cols, 1].mean()
            up = f[int(UPPER_LIP_ROWS[0] * h) - r0:int(UPPER_LIP_ROWS[1] * h) - r0, cols, 1].mean()
            level += float(lo - up)
        out[o.frame_index] = level
        prev = (o.frame_index, region)
    return out


FLOW_PAD = 6  # pixels of context around the lip bands for the flow window


MOUTH_FEATURES = "flow+pca"  # "pca", "flow" or "flow+pca"


def mouth_signal(track: FaceTrack, n_frames: int, fps: float, components: int = 2, smooth: int = 1,
                 grid: FrameGrid | None = None) -> MouthSignal:
    """Mouth features along ``track``: the flow opening and/or PCA scores of
    the band-passed mouth-region pixels. ``n_frames``: analysed frames.
    With a ``grid`` (variable frame rate), the per-frame opening and pixels
    are read at its regular times before filtering, and the features are
    per grid time; ``fps`` is then the grid's rate."""
    pca = _pca_signal(track, n_frames, fps, components, smooth, grid)
    if MOUTH_FEATURES == "pca":
        return pca
    opening = flow_opening(track, n_frames)
    if grid is not None:
        opening, _ = grid.interpolate(opening, np.ones(n_frames, dtype=bool))
    op = highpass(opening, fps)
    op[~pca.observed] = 0.0
    feats = op[:, None] if MOUTH_FEATURES == "flow" else np.hstack([op[:, None] / (op.std() + 1e-9), pca.features])
    return MouthSignal(feats, pca.observed, op)


def _pca_signal(track: FaceTrack, n_frames: int, fps: float, components: int, smooth: int,
                grid: FrameGrid | None = None) -> MouthSignal:
    """PCA scores of the high-passed mouth-region pixels along ``track``."""
    obs = [o for o in track.observations if o.crop is not None and o.frame_index < n_frames]
    observed = np.zeros(n_frames, dtype=bool)
    if not obs:
        n_out = n_frames if grid is None else grid.frames
        return MouthSignal(np.zeros((n_out, components)), np.zeros(n_out, dtype=bool))
    roi0 = mouth_roi(obs[0].crop)
    x = np.zeros((n_frames, roi0.size), dtype=np.float32)
    for o in obs:
        x[o.frame_index] = mouth_roi(o.crop).astype(np.float32).ravel()
        observed[o.frame_index] = True
    if grid is not None:
        x, observed = grid.interpolate(x, observed)
        n_frames = grid.frames
        if not observed.any():
            return MouthSignal(np.zeros((n_frames, components)), observed)
    x = highpass_filled(x, observed, fps)
    if smooth > 1:
        x = uniform_filter1d(x, smooth, axis=0, mode="nearest")
    x[~observed] = 0.0
    x -= x[observed].mean(axis=0)
    x[~observed] = 0.0
    feats = np.zeros((n_frames, components))
    feats[observed] = _leading_scores(x[observed], components)
    return MouthSignal(feats, observed)


def _leading_scores(x: np.ndarray, q: int) -> np.ndarray:
    """Scores on the ``q`` leading principal axes (U S of the SVD), largest
    first. A partial SVD (ARPACK) when the matrix is large: a minute of 720p
    video is a 1800 x 768 matrix whose full SVD costs ~0.8 s, the two leading
    triplets ~0.05 s."""
    out = np.zeros((x.shape[0], q))
    k = min(q, min(x.shape))
    with single_thread_blas():
        if min(x.shape) > 4 * k + 2:
            from scipy.sparse.linalg import svds

            u, s, _ = svds(x.astype(np.float64), k=k, random_state=0)
            order = np.argsort(s)[::-1]
            u, s = u[:, order], s[order]
        else:
            u, s, _ = np.linalg.svd(x, full_matrices=False)
    out[:, :k] = u[:, :k] * s[:k]
    return out
