"""128-D face embeddings with dlib's ResNet (face-recognition-models wheel).

dlib's model maps a 150x150 chip aligned by ``faces.dlib_chip`` to a unit-ish
vector where the same person lies within about 0.6 (Euclidean) - the number
dlib reports for LFW. We measure our own distributions in ``evaluate.py``
rather than trusting that figure.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.face_swap import models
from detectors.face_swap.ahead import ScanAhead
from detectors.face_swap.faces import (
    FaceBox,
    FaceDetector,
    FaceObservation,
    FaceScan,
    FaceTrack,
    dlib_chip,
    predict_landmarks,
)
from detectors.identity import embed_worker


@dataclass(frozen=True)
class TrackEmbeddings:
    track_id: int
    times: np.ndarray  # seconds
    vectors: np.ndarray  # (n, 128)


def embed_chip(chip: np.ndarray) -> np.ndarray:
    return embed_worker.embed_chips(models.embedding_model(), [chip])[0]


# dlib's ResNet costs ~0.15 s a chip here (dlib-bin is built without BLAS):
# 12 chips spread over the track keep the identity checks to ~2 s on a long
# video, and every clip the checks were calibrated on had 12 or fewer chips
# over most of its length anyway (8-34 s clips, one chip a second).
MAX_CHIPS = 12

# The consistency and claim checks embed the same main track; keep the last
# few results (keyed by object identity: FaceTrack is not hashable).
_recent: dict[int, tuple[FaceTrack, int, TrackEmbeddings]] = {}


def _sampled(track: FaceTrack, max_chips: int) -> list[FaceObservation]:
    obs = [o for o in track.observations if o.chip is not None]
    if len(obs) > max_chips:
        obs = [obs[int(i)] for i in np.linspace(0, len(obs) - 1, max_chips)]
    return obs


def _start_in_worker(scan: FaceScan, track: FaceTrack) -> Future | None:
    obs = _sampled(track, MAX_CHIPS)
    return embed_worker.WORKER.submit([o.chip for o in obs]) if obs else None


# Tracks whose chips the worker process is embedding (MAX_CHIPS of them).
AHEAD: ScanAhead[np.ndarray] = ScanAhead("face embeddings", _start_in_worker)
WORKER_TIMEOUT_S = 120.0  # 12 chips take ~1.5 s; far beyond that the worker is stuck
log = logging.getLogger(__name__)


def embed_ahead(path: str | Path) -> None:
    """Have the tracks of ``path``'s shared scan embedded in the worker
    process as soon as the scan exists (the identity detectors' ``prepare``)."""
    if not embed_worker.enabled():
        return
    try:
        embed_worker.WORKER.warm()
    except Exception as exc:  # no worker: embed_track computes in-process
        log.warning("embedding worker unavailable (%s); embedding in-process", exc)
        return
    AHEAD.ask(path)


def _from_worker(track: FaceTrack, max_chips: int, n: int) -> np.ndarray | None:
    if max_chips != MAX_CHIPS or not AHEAD.pending(track):
        return None
    vecs = AHEAD.collect(track, WORKER_TIMEOUT_S)
    if vecs is None:  # broken or stuck: start afresh next time
        embed_worker.WORKER.reset()
        return None
    return vecs if vecs.shape == (n, 128) else None


def embed_track(track: FaceTrack, max_chips: int = MAX_CHIPS) -> TrackEmbeddings:
    """Embeddings of the track's chips, evenly thinned to at most ``max_chips``
    (from the worker process when they were asked for ahead)."""
    hit = _recent.get(id(track))
    if hit is not None and hit[0] is track and hit[1] == max_chips:
        return hit[2]
    obs = _sampled(track, max_chips)
    vecs = _from_worker(track, max_chips, len(obs))
    if vecs is None:
        vecs = np.array([embed_chip(o.chip) for o in obs]) if obs else np.zeros((0, 128))
    out = TrackEmbeddings(track.track_id, np.array([o.time_s for o in obs]), vecs)
    if len(_recent) >= 8:
        _recent.pop(next(iter(_recent)))
    _recent[id(track)] = (track, max_chips, out)
    return out


# Stills are searched for faces at most this large (longest side). HOG's cost
# grows with the pixels searched, four times over when it upsamples: a
# 12000 x 12000 photo (a 420 KB PNG) took 98 s and 7 GB to enrol, searched at
# full size and then upsampled. Landmarks and the 150 px chip are still taken
# at full resolution (``embed_face``), so a face keeps all its detail. Every
# photo of the measured sets (dlib's johns, the GFPGAN and CodeFormer faces:
# at most 1204 px) is at most this size and is searched exactly as before.
# In a larger image a face needs about 40 working pixels to be found (HOG's
# 80 px window, upsampled once), i.e. 40 * side / 2048 original pixels: ~80 px
# on a 4000 px phone photo.
DETECT_MAX_SIDE = 2048


def find_faces(rgb: np.ndarray) -> list[FaceBox]:
    """Faces in a still, as boxes in its pixels: HOG at native scale (at most
    ``DETECT_MAX_SIDE``), then upsampled once for small faces."""
    import cv2

    h, w = rgb.shape[:2]
    s = min(1.0, DETECT_MAX_SIDE / max(h, w, 1))
    work = rgb if s == 1.0 else cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    boxes = FaceDetector("dlib_hog", upsample=0).detect(work) or FaceDetector("dlib_hog", upsample=1).detect(work)
    return boxes if s == 1.0 else [b.scaled(1.0 / s) for b in boxes]


def _around(rgb: np.ndarray, box: FaceBox) -> tuple[np.ndarray, FaceBox]:
    """The part of a large image around ``box`` (its size again on every
    side, more than the chip's padding takes), and the box in that part:
    dlib's chip extraction builds an image pyramid of whatever it is given.
    The offsets are even, so its 2:1 pyramid samples the same pixels."""
    m = box.size + 2.0
    h, w = rgb.shape[:2]
    x0 = max(0, int(box.left - m)) // 2 * 2
    y0 = max(0, int(box.top - m)) // 2 * 2
    x1 = min(w, int(box.right + m) + 1)
    y1 = min(h, int(box.bottom + m) + 1)
    return np.ascontiguousarray(rgb[y0:y1, x0:x1]), box.shifted(-x0, -y0)


def embed_face(rgb: np.ndarray, box: FaceBox) -> np.ndarray:
    """Embedding of the face in ``box``; in an image larger than
    ``DETECT_MAX_SIDE``, from the region around the face only."""
    if max(rgb.shape[:2]) > DETECT_MAX_SIDE:
        rgb, box = _around(rgb, box)
    return embed_chip(dlib_chip(rgb, box, predict_landmarks(rgb, box)))


def embed_image(rgb: np.ndarray) -> np.ndarray:
    """Embedding of the largest face in a still image. Tight crops (such as
    dlib's 'johns') where no face is detected are treated as one face filling
    the image."""
    boxes = find_faces(rgb)
    if not boxes:
        h, w = rgb.shape[:2]
        boxes = [FaceBox(0.1 * w, 0.1 * h, 0.9 * w, 0.9 * h)]
    return embed_face(rgb, max(boxes, key=lambda b: b.size))
