"""Colour face crops for the face-swap CNN, from videos and still images.

``faces.scan_faces`` keeps grey crops (mouth motion) and dlib chips
(embeddings); the SBI network needs *colour* crops with a fixed geometry it
was trained on, and frames sampled sparsely (2-4 fps) plus the codec's
keyframes (the least compressed pictures, where blending seams survive
best). So this module runs its own light loop over the same building blocks
of ``faces`` (``FaceDetector``, ``predict_landmarks``, ``IoUTracker``,
``alignment_matrix``) and keeps one RGB crop per face per sampled frame.

A still image (JPEG/PNG) is a one-frame video.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from audio.decode import best_stream, open_media, stream_frame_rate
from detectors import still_image
from detectors.face_swap import faces as F

CROP_SIZE = 112
CROP_MARGIN = 0.3
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class CropError(RuntimeError):
    """Faces could not be extracted; the message says why and what to try."""


@dataclass(frozen=True)
class CropOptions:
    """How densely to sample. Defaults: 3 fps plus keyframes (at most one
    every 0.25 s), faces of at least 64 px - smaller faces carry too little
    texture for blending artefacts and are reported as not applicable."""

    sample_fps: float = 3.0
    keyframes: bool = True
    work_max_side: int = 640
    min_face_px: int = 64
    max_seconds: float | None = None
    iou_threshold: float = 0.3
    min_track_frames: int = 1
    upsample: int = 0  # HOG pyramid upsampling (1 finds faces half as large, ~4x slower)


@dataclass(frozen=True)
class Frame:
    """A sampled frame at working resolution (our own record, so that
    changes to ``faces.VideoFrame`` do not ripple into this module)."""

    index: int
    time_s: float
    rgb: np.ndarray
    scale: float  # working pixels per original pixel


def _single_thread() -> None:
    """OpenCV's thread pool would fight the other jobs on a shared machine."""
    import os

    import cv2

    cv2.setNumThreads(int(os.environ.get("VERIFIER_CV_THREADS", "1")))


@dataclass
class CropObs:
    frame_index: int
    time_s: float
    box: F.FaceBox  # original-frame pixels
    crop: np.ndarray  # CROP_SIZE square RGB uint8
    landmarks: np.ndarray  # (5, 2) in crop pixels
    keyframe: bool = False


@dataclass
class CropTrack:
    track_id: int
    obs: list[CropObs] = field(default_factory=list)

    @property
    def start_s(self) -> float:
        return self.obs[0].time_s

    @property
    def end_s(self) -> float:
        return self.obs[-1].time_s

    @property
    def median_size(self) -> float:
        return float(np.median([o.box.size for o in self.obs]))


@dataclass
class CropScan:
    path: str
    frames: int
    frame_times: np.ndarray
    width: int
    height: int
    tracks: list[CropTrack]
    detector_runs: int = 0
    faces_too_small: int = 0
    is_image: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    stopped_at_s: float | None = None  # the time guard (max_seconds) ended the scan here

    @property
    def reason(self) -> str | None:
        """None when a usable face exists, else why the detector cannot judge."""
        if self.frames == 0:
            return "no frames could be decoded"
        if self.tracks:
            return None
        if self.faces_too_small:
            why = (f"faces were found but all were smaller than the minimum face size "
                   f"({self.faces_too_small} detections): too small to judge blending artefacts")
        else:
            why = f"no face found in {self.frames} analysed frame(s)"
        return why + F.time_guard_note(self.stopped_at_s)


def crop_landmarks(landmarks: F.Landmarks5, size: int = CROP_SIZE, margin: float = CROP_MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """(2x3 alignment matrix, landmarks mapped into crop pixels)."""
    m = F.alignment_matrix(landmarks, size, margin)
    pts = landmarks.points @ m[:, :2].T + m[:, 2]
    return m, pts


def align(rgb: np.ndarray, landmarks: F.Landmarks5, size: int = CROP_SIZE, margin: float = CROP_MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """The face warped to the canonical pose, and its landmarks in the crop."""
    return F.aligned_crop(rgb, landmarks, size, margin, reflect=True), crop_landmarks(landmarks, size, margin)[1]


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def load_image_rgb(path: str | Path) -> np.ndarray:
    try:
        return still_image.load_image_rgb(path)
    except still_image.ImageReadError as exc:
        raise CropError(str(exc)) from exc


def iter_sampled_frames(path: str | Path, options: CropOptions, timings: dict[str, float] | None = None,
                        stopped: list[float] | None = None) -> Iterator[tuple[Frame, bool]]:
    """(frame, is_keyframe) on a ``sample_fps`` grid plus keyframes, decoded
    in one pass with PyAV. Frames between samples are decoded (H.264 needs
    them) but never converted to RGB, which is where most time would go."""
    timings = timings if timings is not None else {}
    try:
        container = open_media(path)
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise F.FaceScanError(f"{path}: not a readable media file ({exc})") from exc
    with container:
        stream = best_stream(container, "video")
        if stream is None:
            raise F.NoVideoStreamError(f"{path}: the file has no video stream")
        F.frame_size_limit(stream, path)
        stream.thread_type = "SLICE"
        tb = float(stream.time_base) if stream.time_base else 0.0
        rate = stream_frame_rate(stream)
        clock = F.SampleClock(options.sample_fps, options.keyframes)
        t0: float | None = None
        out_index = 0
        size: tuple[int, int] | None = None
        scale = 1.0
        t_start = time.perf_counter()
        try:
            for n, frame in enumerate(container.decode(stream)):
                t_abs = frame.pts * tb if frame.pts is not None and tb else n / rate
                t0 = t_abs if t0 is None else t0
                t = t_abs - t0
                if options.max_seconds is not None and t > options.max_seconds:
                    if stopped is not None:
                        stopped.append(float(options.max_seconds))
                    break
                if not clock.wants(t, bool(frame.key_frame)):
                    continue
                if size is None:
                    w, h = frame.width, frame.height
                    s = min(1.0, options.work_max_side / max(w, h))
                    size = (max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2))
                    scale = size[0] / w
                rgb = F.upright(frame.to_ndarray(format="rgb24", width=size[0], height=size[1]), F.frame_rotation(frame))
                timings["decode"] = timings.get("decode", 0.0) + time.perf_counter() - t_start
                yield Frame(out_index, float(t), rgb, scale), bool(frame.key_frame)
                t_start = time.perf_counter()
                out_index += 1
        except (av.error.FFmpegError, ValueError) as exc:
            if out_index == 0:
                raise F.first_frame_failure(path, stream, exc) from exc
        timings["decode"] = timings.get("decode", 0.0) + time.perf_counter() - t_start


def _detect(detector: F.FaceDetector, rgb: np.ndarray, min_work: float) -> tuple[list[F.FaceBox], int]:
    boxes = detector.detect(rgb, min_size=max(12, int(min_work * 0.8)))
    kept = [b for b in boxes if b.size >= min_work]
    return kept, len(boxes) - len(kept)


def scan_crops(path: str | Path, options: CropOptions = CropOptions(), as_image: bool | None = None) -> CropScan:
    """Detect faces on every sampled frame (sampling is already sparse, so
    no landmark-carried boxes are needed), associate them into tracks by IoU
    and keep an aligned colour crop per face and frame. ``as_image`` says
    whether ``path`` is a still image (default: judged by the suffix; the
    evidence store names files by hash, so the detector passes the probe's
    verdict)."""
    _single_thread()
    still = is_image(path) if as_image is None else as_image
    upsample = options.upsample
    if still and upsample == 0:
        try:
            upsample = 1 if max(still_image.image_size(path)) <= 800 else 0  # small photos: find faces down to ~40 px
        except still_image.ImageReadError:
            pass  # load_image_rgb below says why
    detector = F.FaceDetector("dlib_hog", upsample=upsample)
    tracker = F.IoUTracker(options.iou_threshold, max_missed=2)
    timings = {"decode": 0.0, "detect": 0.0, "landmarks": 0.0, "crops": 0.0}
    times: list[float] = []
    runs = too_small = 0
    width = height = 0
    per_track: dict[int, CropTrack] = {}
    stopped: list[float] = []

    if still:
        t1 = time.perf_counter()
        rgb0 = load_image_rgb(path)
        height, width = rgb0.shape[:2]
        s = min(1.0, options.work_max_side / max(width, height)) if max(width, height) > 2 * options.work_max_side else 1.0
        import cv2

        rgb = rgb0 if s == 1.0 else cv2.resize(rgb0, (int(width * s), int(height * s)), interpolation=cv2.INTER_AREA)
        timings["decode"] += time.perf_counter() - t1
        frames: Iterator[tuple[Frame, bool]] = iter([(Frame(0, 0.0, rgb, s), True)])
    else:
        fps, width, height = F.video_geometry(path)
        frames = iter_sampled_frames(path, options, timings, stopped)

    for frame, key in frames:
        if not times and (frame.rgb.shape[1] > frame.rgb.shape[0]) != (width > height):
            width, height = height, width  # displayed on its side (see faces.upright)
        times.append(frame.time_s)
        t1 = time.perf_counter()
        kept, small = _detect(detector, frame.rgb, options.min_face_px * frame.scale)
        too_small += small
        runs += 1
        pairs = tracker.associate(kept)
        timings["detect"] += time.perf_counter() - t1
        for active, box in pairs:
            if box not in kept:  # a track coasting through a missed detection: no crop
                continue
            active.box = box
            t2 = time.perf_counter()
            lm = F.predict_landmarks(frame.rgb, box)
            t3 = time.perf_counter()
            crop, pts = align(frame.rgb, lm)
            timings["landmarks"] += t3 - t2
            timings["crops"] += time.perf_counter() - t3
            tr = per_track.setdefault(active.track.track_id, CropTrack(active.track.track_id))
            tr.obs.append(CropObs(frame.index, frame.time_s, box.scaled(1.0 / frame.scale), crop, pts, key))
    tracks = [t for t in sorted(per_track.values(), key=lambda t: t.track_id) if len(t.obs) >= options.min_track_frames]
    return CropScan(str(path), len(times), np.asarray(times), int(width), int(height), tracks, runs, too_small,
                    still, timings, stopped[0] if stopped else None)


def from_face_scan(scan: F.FaceScan, min_face_px: int = 64) -> CropScan:
    """The face-swap view of the shared video scan (``faces.SHARED_VIDEO_SCAN``):
    its colour crops, per track, from faces of at least ``min_face_px``. This
    is how the face-swap CNN, the lip-sync and the identity checks share one
    decode and one set of face tracks."""
    if scan.options.color_crop_fps is None:
        raise ValueError("this face scan was made without colour crops (ScanOptions.color_crop_fps)")
    tracks: list[CropTrack] = []
    too_small = scan.faces_too_small
    size, margin = scan.options.color_crop_size, scan.options.color_crop_margin
    for t in scan.tracks:
        ct = CropTrack(t.track_id)
        for o in t.observations:
            if o.color_crop is None:
                continue
            if o.box.size < min_face_px:
                too_small += 1
                continue
            _, pts = crop_landmarks(o.landmarks, size, margin)
            ct.obs.append(CropObs(o.frame_index, o.time_s, o.box, o.color_crop, pts, o.keyframe))
        if ct.obs:
            tracks.append(ct)
    return CropScan(scan.path, len(scan.color_frame_times), scan.color_frame_times, scan.width, scan.height, tracks,
                    scan.detector_runs, too_small, False, dict(scan.timings), scan.stopped_at_s)


def crops_from_image_array(rgb: np.ndarray, options: CropOptions = CropOptions(), pad: float = 0.0) -> list[tuple[np.ndarray, np.ndarray, F.FaceBox]]:
    """Aligned crops of every face in an in-memory RGB image. ``pad`` adds a
    reflected border (fraction of the side) so that tight face crops - where
    HOG needs some context - are still found."""
    import cv2

    _single_thread()
    img = rgb
    if pad > 0:
        p = int(round(pad * max(rgb.shape[:2])))
        img = cv2.copyMakeBorder(rgb, p, p, p, p, cv2.BORDER_REFLECT)
    detector = F.FaceDetector("dlib_hog", upsample=options.upsample)
    out = []
    for box in detector.detect(img):
        if box.size < options.min_face_px:
            continue
        lm = F.predict_landmarks(img, box)
        crop, pts = align(img, lm)
        out.append((crop, pts, box))
    return out
