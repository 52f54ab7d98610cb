"""Does the inner face move with the head around it?

A face pasted frame by frame from another video (or blended in per frame
by a swap tool) is aligned to each target frame on its own: the pasted
inner face carries its source's motion and the per-frame alignment jitter,
while the jaw line, hair and background around it carry the target's. In a
face that was filmed, the inner face and its surroundings move together.

Measured on the shared scan's per-frame grey crops (aligned on the
landmarks, so the crop follows the inner face): dense optical flow between
consecutive frames, mean flow inside an ellipse over the inner face minus
mean flow in a ring outside the face outline - the inner face's motion
relative to the head. A filmed face's relative motion is smooth (expression,
a head turn's parallax); a pasted one jumps from frame to frame. The score
is the median frame-to-frame change of the relative motion (three
consecutive frames), in crop pixels per frame. No learning: a hand-made cue,
calibrated in ``motion_eval.py``.

What it does not see: a generated face that follows the target's own pose
and expression with smooth per-frame alignment (modern face-swap tools with
temporal smoothing) moves with the head, and scores like a real face.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from detectors.face_swap.faces import FaceTrack
from detectors.face_swap.frame_grid import nominal_period, one_period_steps

# The face ellipse in the aligned crop, in units of the inner face square
# (eyes at 30/70 % of its width and 35 % of its height): centre and radii.
ELLIPSE_CENTRE = (0.5, 0.55)
ELLIPSE_RADII = (0.42, 0.58)
INNER_MAX_R = 0.75  # inner face: well inside the outline
OUTER_R = (1.2, 1.5)  # jaw line, hair, neck and background around it
MIN_PAIRS = 20  # consecutive frame triples needed for a score


@dataclass(frozen=True)
class RelativeMotion:
    score: float  # median frame-to-frame change of (inner flow - outer flow), crop px / frame
    pairs: int  # consecutive frame triples measured
    times: np.ndarray  # time of each triple's last frame, seconds
    per_pair: np.ndarray  # the change, per triple

    def windows(self, width_s: float = 1.0) -> list[tuple[float, float, float]]:
        """(start, end, median) per ``width_s`` window that holds pairs."""
        if not len(self.times):
            return []
        out = []
        edges = np.arange(float(self.times[0]), float(self.times[-1]) + width_s, width_s)
        for a in edges:
            sel = (self.times >= a) & (self.times < a + width_s)
            if sel.sum() >= 3:
                out.append((float(a), float(a + width_s), float(np.median(self.per_pair[sel]))))
        return out


@lru_cache(maxsize=4)
def region_masks(size: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (inner, outer) masks for a ``size`` crop with ``margin``."""
    inner = size / (1.0 + 2.0 * margin)
    off = margin * inner
    cx, cy = off + ELLIPSE_CENTRE[0] * inner, off + ELLIPSE_CENTRE[1] * inner
    rx, ry = ELLIPSE_RADII[0] * inner, ELLIPSE_RADII[1] * inner
    yy, xx = np.mgrid[0:size, 0:size]
    r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    return r < INNER_MAX_R, (r > OUTER_R[0]) & (r < OUTER_R[1])


def relative_motion(track: FaceTrack, times: np.ndarray, margin: float) -> RelativeMotion | None:
    """Jitter of the inner face's motion relative to the head along
    ``track`` (None: fewer than ``MIN_PAIRS`` triples of frames one period
    apart).
    ``times`` maps frame index to seconds; ``margin`` is the crop margin the
    scan used."""
    import cv2

    obs = [o for o in track.observations if o.crop is not None]
    rel: dict[int, np.ndarray] = {}  # later frame index -> relative flow vector
    masks: tuple[np.ndarray, np.ndarray] | None = None
    # Variable frame rate: a pair across a dropped frame holds two periods of
    # motion and reads as a jump; only pairs one nominal period apart count.
    period = nominal_period(times)
    one_period = one_period_steps(times, period) if period is not None else np.zeros(len(times), bool)
    for a, b in zip(obs, obs[1:]):
        if b.frame_index != a.frame_index + 1 or a.crop.shape != b.crop.shape:
            continue
        if b.frame_index >= one_period.size or not one_period[b.frame_index]:
            continue
        # Half resolution: a quarter of the cost, and on the 70 clips and
        # swaps of motion_eval the same AUCs as the full 64 px crops.
        pa, pb = cv2.pyrDown(a.crop), cv2.pyrDown(b.crop)
        if masks is None:
            masks = region_masks(pa.shape[0], margin)
        flow = cv2.calcOpticalFlowFarneback(pa, pb, None, 0.5, 1, 7, 3, 5, 1.1, 0)
        inner, outer = masks
        rel[b.frame_index] = 2.0 * (flow[inner].mean(axis=0) - flow[outer].mean(axis=0))  # in full-crop pixels
    jumps, ts = [], []
    for i, v in rel.items():
        if i - 1 in rel:
            jumps.append(float(np.linalg.norm(v - rel[i - 1])))
            ts.append(float(times[i]) if i < len(times) else float("nan"))
    if len(jumps) < MIN_PAIRS:
        return None
    per = np.asarray(jumps)
    return RelativeMotion(float(np.median(per)), len(per), np.asarray(ts), per)
