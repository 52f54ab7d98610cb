"""Face frames and tracks: the one place video pixels become faces.

Lip sync, identity consistency and the face-swap CNN all need the same thing:
which faces are on screen, where, for how long, and a geometrically
normalised crop of each. Doing it once, in one pass over the decoded video,
keeps every detector looking at the same faces and keeps verify time low.

Pipeline (``scan_faces``):

1. decode with PyAV in-process, every frame or at ``sample_fps``, at a
   working resolution (``work_max_side``) - talking-head faces are large,
   full 720p/1080p only costs time. Decoding runs ``prefetch_frames`` ahead
   on a second thread, so on two cores it overlaps the work below (the
   ``decode`` timing is then only the time spent waiting for frames);
2. detect faces every ``detect_every_s`` seconds (dlib HOG by default; OpenCV
   Haar as the faster, less exact alternative - numbers in docs/av_sync.md);
3. between detections, follow each face with the 5-point landmark model: the
   box is moved by the landmarks' displacement, so a face is located on every
   frame without paying for a detection on every frame;
4. associate detections with tracks by IoU (greedy, best pairs first);
5. for each observation, an aligned crop (similarity transform on the eye
   centres, fixed size and margin): a small grey one on every frame (mouth
   motion) and, at ``chip_every_s``, dlib's 150x150 RGB chip (embeddings).

Faces that are absent or too small are not errors: the scan says why in
``FaceScan.reason`` so a detector can return "not applicable" with it.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, Literal

import av
import numpy as np

from audio.decode import best_stream, cap_decoder, open_media, stream_frame_rate
from detectors.face_swap import models
from detectors.still_image import MAX_PIXELS

Backend = Literal["dlib_hog", "haar"]


class FaceScanError(RuntimeError):
    """The video could not be decoded for face analysis; the message says why."""


class NoVideoStreamError(FaceScanError):
    """The file has no video stream, so there are no faces to look at."""


class FrameTooLargeError(FaceScanError):
    """The video's frames exceed the decoders' pixel limit: none is decoded."""


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class FaceBox:
    """An axis-aligned face box in original-frame pixels."""

    left: float
    top: float
    right: float
    bottom: float
    score: float = 0.0

    @property
    def width(self) -> float:
        return max(0.0, self.right - self.left)

    @property
    def height(self) -> float:
        return max(0.0, self.bottom - self.top)

    @property
    def size(self) -> float:
        return min(self.width, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)

    def iou(self, other: FaceBox) -> float:
        ix = max(0.0, min(self.right, other.right) - max(self.left, other.left))
        iy = max(0.0, min(self.bottom, other.bottom) - max(self.top, other.top))
        inter = ix * iy
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0

    def shifted(self, dx: float, dy: float) -> FaceBox:
        return FaceBox(self.left + dx, self.top + dy, self.right + dx, self.bottom + dy, self.score)

    def carried(self, shift: np.ndarray, width: int, height: int) -> FaceBox:
        """Moved with the landmarks' mean displacement, its centre kept inside
        the picture: when the face leaves the frame, the landmark model
        answers for an empty box and the carried box can run away (seen
        growing without bound over a few hundred frames) until the next
        detection."""
        dx, dy = (float(v) if np.isfinite(v) else 0.0 for v in shift[:2])
        cx, cy = self.center
        dx = min(max(cx + dx, 0.0), float(width)) - cx
        dy = min(max(cy + dy, 0.0), float(height)) - cy
        return self.shifted(dx, dy)

    def scaled(self, s: float) -> FaceBox:
        return FaceBox(self.left * s, self.top * s, self.right * s, self.bottom * s, self.score)


@dataclass(frozen=True)
class Landmarks5:
    """dlib's 5 points (two corners of each eye, bottom of the nose), as a
    (5, 2) float array in original-frame pixels."""

    points: np.ndarray

    @property
    def eye_centers(self) -> tuple[np.ndarray, np.ndarray]:
        """(image-left eye, image-right eye) centres."""
        p = self.points  # plain arithmetic: called for every crop of every frame
        a = (p[0] + p[1]) * 0.5
        b = (p[2] + p[3]) * 0.5
        return (a, b) if a[0] <= b[0] else (b, a)

    @property
    def nose(self) -> np.ndarray:
        return self.points[4]

    @property
    def interocular(self) -> float:
        a, b = self.eye_centers
        return float(np.hypot(*(b - a)))


@dataclass(frozen=True)
class FaceObservation:
    """One face on one frame. ``detected`` is False when the box was carried
    from the previous frame by the landmarks rather than found by the detector."""

    frame_index: int
    time_s: float
    box: FaceBox
    landmarks: Landmarks5
    detected: bool
    crop: np.ndarray | None = None  # aligned grey crop, ScanOptions.crop_size square, uint8
    chip: np.ndarray | None = None  # dlib 150x150 RGB chip (embedding input), uint8
    color_crop: np.ndarray | None = None  # aligned RGB crop for the face-swap CNN (sampled frames only)
    keyframe: bool = False  # the frame was a codec keyframe


@dataclass
class FaceTrack:
    """The same face followed across consecutive frames."""

    track_id: int
    observations: list[FaceObservation] = field(default_factory=list)

    @property
    def start_s(self) -> float:
        return self.observations[0].time_s

    @property
    def end_s(self) -> float:
        return self.observations[-1].time_s

    @property
    def median_size(self) -> float:
        return float(np.median([o.box.size for o in self.observations]))

    def __len__(self) -> int:
        return len(self.observations)


DEFAULT_DECODE_THREADS = max(1, min(2, os.cpu_count() or 1))


@dataclass(frozen=True)
class ScanOptions:
    """How densely to look. Defaults suit lip sync (every frame) while
    detecting and embedding at a few frames per second."""

    sample_fps: float | None = None  # None: every decoded frame
    detect_every_s: float = 1.0  # landmarks carry the box in between
    backend: Backend = "dlib_hog"
    work_max_side: int = 640  # decode-and-analyse resolution (longest side)
    min_face_px: int = 48  # in original-frame pixels; smaller faces are unusable
    crop_size: int = 64
    crop_margin: float = 0.25
    chip_every_s: float | None = 0.5  # None: no embedding chips
    iou_threshold: float = 0.3
    max_seconds: float | None = None  # stop decoding after this much video
    min_track_frames: int = 3
    # FFmpeg's own decoder threads (frame + slice threading; they need no
    # GIL). On this 2-core machine, 2 took the shared scan of a 60 s 720p
    # clip from 6.1 to 4.5 s and the face-swap scan from 4.5 to 4.0 s
    # (medians of 3): one thread could not keep up with the frames the
    # landmark model asks for. Decoded pictures are identical either way.
    decode_threads: int = DEFAULT_DECODE_THREADS
    # Frames decoded ahead on a second Python thread (PyAV and OpenCV release
    # the GIL), so decoding overlaps landmarks and crops; 0 decodes in line.
    prefetch_frames: int = 8
    # >1: dlib's landmarks on every n-th followed frame (and on every
    # detection, chip and colour frame); the frames in between get landmarks
    # interpolated between the predictions either side - smooth, unlike
    # carrying the last ones forward, whose jumps read as mouth motion.
    landmark_every: int = 1
    # Colour crops for the face-swap CNN: on a ``color_crop_fps`` grid plus
    # keyframes (the least compressed pictures, where blending seams survive
    # best; at most one every 0.25 s). None: no colour crops.
    color_crop_fps: float | None = None
    color_keyframes: bool = True
    color_crop_size: int = 112
    color_crop_margin: float = 0.3
    # False: landmarks (and observations) only on detection, chip and colour
    # frames - all the face-swap CNN needs, at a fraction of the cost of
    # following the face through every frame as lip sync must.
    every_frame: bool = True
    # Frame-to-frame measures (lip-sync correlation, face motion jitter) are
    # calibrated on 25 and 30 fps clips. A faster video (50/60 fps phones,
    # 120/240 fps slow motion, or frames simply duplicated) is analysed at
    # every k-th frame, k = round(fps / 27.5), which brings it back to 24-30
    # fps. Without this, the same clip at 50 fps read 7.35 on the lip-sync
    # statistic's Fisher scale instead of 4.82 (LLR -1.07 instead of +0.45):
    # raising the frame rate pushed a verdict toward "as captured".
    max_analysis_fps: float | None = None


def analysis_step(fps: float, max_analysis_fps: float | None) -> int:
    """Every how many decoded frames a scan analyses one (see ScanOptions.max_analysis_fps)."""
    if max_analysis_fps is None or fps <= max_analysis_fps:
        return 1
    return max(1, int(round(fps / 27.5)))


@dataclass
class FaceScan:
    """What one pass over a video found."""

    path: str
    options: ScanOptions
    fps: float
    width: int
    height: int
    frames: int  # frames analysed
    frame_times: np.ndarray  # time of each analysed frame, seconds from the stream start
    tracks: list[FaceTrack]
    detector_runs: int = 0
    faces_too_small: int = 0  # detections rejected by min_face_px
    short_tracks: int = 0  # tracks dropped for fewer than min_track_frames frames
    timings: dict[str, float] = field(default_factory=dict)
    color_frame_times: np.ndarray = field(default_factory=lambda: np.zeros(0))  # frames sampled for colour crops
    stopped_at_s: float | None = None  # the time guard (options.max_seconds) ended the scan here

    @property
    def reason(self) -> str | None:
        """None when at least one usable face track exists; otherwise why not."""
        if self.frames == 0:
            return "no video frames could be decoded"
        if self.tracks:
            return None
        if self.short_tracks:
            why = (f"faces were seen only briefly ({self.short_tracks} track(s) shorter than "
                   f"{self.options.min_track_frames} frames)")
        elif self.faces_too_small:
            why = (f"faces were found but all smaller than {self.options.min_face_px} px "
                   f"({self.faces_too_small} detections): too small to analyse")
        else:
            why = f"no face found in {self.detector_runs} detection passes over {self.frames} frames"
        return why + time_guard_note(self.stopped_at_s)

    def main_track(self) -> FaceTrack | None:
        """The longest track (ties: the larger face) - the talking head."""
        if not self.tracks:
            return None
        return max(self.tracks, key=lambda t: (len(t), t.median_size))

    def prominent_tracks(self, share: float = 0.5) -> list[FaceTrack]:
        """The main track and every track whose face is at least ``share`` of
        its size: the people a viewer would say the clip shows (a call's
        gallery, an interview), not faces in the background."""
        main = self.main_track()
        if main is None:
            return []
        return [t for t in self.tracks if t is main or t.median_size >= share * main.median_size]


# --------------------------------------------------------------- frames


_LUMA_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}


@dataclass
class VideoFrame:
    """One decoded frame at the working resolution. Grey comes first and
    cheaply (the luma plane, resized): detection, landmarks and mouth motion
    need nothing else. RGB is converted only when asked (embedding chips),
    which on 720p video halves the decode-and-convert time."""

    index: int  # position in the analysed sequence
    time_s: float
    _gray: np.ndarray | None  # working resolution, uint8; None: made from _frame on first use
    scale: float  # working pixels per original pixel
    key: bool = False  # a codec keyframe
    _frame: object = field(default=None, repr=False)
    _rgb: np.ndarray | None = field(default=None, repr=False)
    _size: tuple[int, int] = (0, 0)  # working (width, height) as stored, before ``rotation``
    rotation: int = 0  # degrees counter-clockwise that make the stored picture upright

    @property
    def gray(self) -> np.ndarray:
        """Made on first use: a scan that skips frames (the face-swap scan)
        never pays for resizing the ones it skips. Upright, as a player shows it."""
        if self._gray is None:
            self._gray = upright(_luma(self._frame, self._size), self.rotation)
        return self._gray

    @property
    def rgb(self) -> np.ndarray:
        if self._rgb is None:
            if self._frame is None:
                self._rgb = np.repeat(self.gray[:, :, None], 3, axis=2)
            else:
                w, h = self._size
                self._rgb = upright(self._frame.to_ndarray(format="rgb24", width=w, height=h), self.rotation)
        return self._rgb


def time_guard_note(stopped_at_s: float | None) -> str:
    """What every video finding must add when the scan's time guard cut the
    video short: a forger could otherwise put the manipulation after it and
    read a clean finding."""
    if stopped_at_s is None:
        return ""
    return (f"; only the first {stopped_at_s:g} s of the video were examined (time guard): "
            "anything later was not looked at")


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """The picture as a player shows it. Phones record the sensor's landscape
    pixels and store the portrait orientation as a display matrix (PyAV's
    ``frame.rotation``: degrees counter-clockwise); decoders hand over the
    stored pixels. dlib's detector finds no face lying on its side, so every
    face detector was blind on portrait phone video - and anyone could blind
    them by rotating the pixels and the matrix together. Multiples of 90
    degrees only (what cameras write); mirroring flags are not applied."""
    k = quarter_turns(rotation)
    return np.ascontiguousarray(np.rot90(image, k)) if k else np.ascontiguousarray(image)


def quarter_turns(rotation: float) -> int:
    """A display rotation in degrees counter-clockwise as 0-3 quarter turns
    (odd: the picture is shown on its side, width and height swap)."""
    return int(round(rotation / 90.0)) % 4


def frame_rotation(frame) -> int:
    """``frame.rotation`` (0 when the file has no display matrix, or PyAV cannot read it)."""
    try:
        return int(getattr(frame, "rotation", 0) or 0)
    except (TypeError, ValueError):
        return 0


def _luma(frame, size: tuple[int, int]) -> np.ndarray:
    import cv2

    if frame.format.name in _LUMA_FORMATS:
        plane = frame.planes[0]
        y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : frame.width]
        if (frame.width, frame.height) == size:
            return np.ascontiguousarray(y)
        return cv2.resize(y, size, interpolation=cv2.INTER_AREA)
    # Contiguous: dlib's bindings reject strided arrays (PyAV pads rows).
    return np.ascontiguousarray(frame.to_ndarray(format="gray", width=size[0], height=size[1]))


def set_decoder_threads(stream, threads: int) -> None:
    """FFmpeg's own decoder threads for a PyAV video stream: frame and slice
    threading when more than one (they need no GIL), slice only otherwise."""
    stream.thread_count = max(1, threads)
    stream.thread_type = "AUTO" if threads > 1 else "SLICE"


def frame_size_limit(stream, path: str | Path) -> None:
    """Refuse a stream whose declared frame size exceeds ``MAX_PIXELS``
    before any frame is decoded, and cap its decoder at that size (a frame
    that grows mid-stream, or a size the probe could not read, is refused by
    FFmpeg instead of allocated). A 6 MB MOV of 16000 x 16000 PNG frames took
    6.4 GB and 56 s in the face scan before."""
    ctx = stream.codec_context
    w, h = int(ctx.width or 0), int(ctx.height or 0)
    if w * h > MAX_PIXELS:
        raise FrameTooLargeError(f"{path}: the video's frames are {w} x {h} pixels ({w * h / 1e6:,.0f} megapixels), above the "
                                 f"{MAX_PIXELS / 1e6:.0f}-megapixel limit on a decoded picture: not decoded, as a "
                                 "possible decompression bomb (downscale the video to analyse it)")
    cap_decoder(stream)


def first_frame_failure(path: str | Path, stream, exc: Exception) -> FaceScanError:
    """The error for a video whose first frame does not decode. A frame over
    the pixel limit is refused by FFmpeg with EINVAL ("Invalid argument"),
    and a probe that met such a frame keeps no frame size, so that case is
    named: otherwise the user reads only FFmpeg's generic error."""
    ctx = stream.codec_context
    if isinstance(exc, av.error.ArgumentError) and not (ctx.width and ctx.height):
        return FrameTooLargeError(f"{path}: the first video frame could not be decoded ({exc}) and the stream's frame "
                                  "size could not be read: the pattern of a frame above the "
                                  f"{MAX_PIXELS / 1e6:.0f}-megapixel limit on a decoded picture, which is refused "
                                  "as a possible decompression bomb (downscale the video to analyse it)")
    return FaceScanError(f"{path}: video stream failed to decode ({exc})")


def iter_frames(
    path: str | Path, *, sample_fps: float | None = None, work_max_side: int = 640,
    max_seconds: float | None = None, threads: int = 1, stopped: list[float] | None = None,
) -> Iterator[VideoFrame]:
    """Decode the presented video stream with PyAV, yielding RGB frames at the
    working resolution, every frame or the first at or after each multiple of
    ``1/sample_fps`` seconds. Times are relative to the stream's first frame.
    When ``max_seconds`` ends the decode, the time is appended to ``stopped``."""
    try:
        container = open_media(path)
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise FaceScanError(f"{path}: not a readable media file ({exc})") from exc
    with container:
        stream = best_stream(container, "video")
        if stream is None:
            raise NoVideoStreamError(f"{path}: the file has no video stream")
        frame_size_limit(stream, path)
        set_decoder_threads(stream, threads)
        tb = float(stream.time_base) if stream.time_base else 0.0
        rate = stream_frame_rate(stream)
        t0: float | None = None
        next_t = 0.0
        out_index = 0
        size: tuple[int, int] | None = None
        try:
            for n, frame in enumerate(container.decode(stream)):
                t_abs = frame.pts * tb if frame.pts is not None and tb else n / rate
                if t0 is None:
                    t0 = t_abs
                t = t_abs - t0
                if max_seconds is not None and t > max_seconds:
                    if stopped is not None:
                        stopped.append(float(max_seconds))
                    break
                if sample_fps is not None:
                    if t + 1e-6 < next_t:
                        continue
                    next_t += 1.0 / sample_fps
                    while next_t <= t:
                        next_t += 1.0 / sample_fps
                if size is None:
                    w, h = frame.width, frame.height
                    s = min(1.0, work_max_side / max(w, h))
                    size = (max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2))
                    scale = size[0] / w
                yield VideoFrame(out_index, float(t), None, scale, bool(frame.key_frame), frame, _size=size,
                                 rotation=frame_rotation(frame))
                out_index += 1
        except (av.error.FFmpegError, ValueError) as exc:
            if out_index == 0:
                raise first_frame_failure(path, stream, exc) from exc
            # A damaged tail: keep what decoded; the frame count tells the caller.


class _ProducerFailed:
    """Carries the producer thread's exception to the consumer."""

    def __init__(self, exc: BaseException):
        self.exc = exc


_END = object()


def prefetched(make: Callable[[], Iterator[VideoFrame]], depth: int,
               prepare: Callable[[VideoFrame], object] | None = None) -> Iterator[VideoFrame]:
    """Run the frame iterator ``make()`` on its own thread, ``depth`` frames
    ahead, calling ``prepare`` (e.g. the luma resize) there too.

    Why: decoding is half of a scan's time and runs without the GIL, so on a
    machine with a second core it can overlap the landmark model and crops
    instead of alternating with them. The iterator is created, consumed and
    closed on the producer thread, so the container never crosses threads.
    Errors are re-raised in the consumer; stopping early (``break``,
    ``close()``) stops the producer within one frame.
    """
    if depth <= 0:
        yield from make()
        return
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            it = make()
            try:
                for frame in it:
                    if prepare is not None:
                        prepare(frame)
                    if not put(frame):
                        return
            finally:
                close = getattr(it, "close", None)
                if close is not None:
                    close()
            put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_ProducerFailed(exc))

    worker = threading.Thread(target=produce, name="frame-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _ProducerFailed):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join()


def video_geometry(path: str | Path) -> tuple[float, int, int]:
    """(frame rate, width, height) of the first video stream."""
    try:
        with open_media(path) as c:
            s = best_stream(c, "video")
            if s is None:
                raise NoVideoStreamError(f"{path}: the file has no video stream")
            frame_size_limit(s, path)
            return stream_frame_rate(s), int(s.codec_context.width), int(s.codec_context.height)
    except (av.error.FFmpegError, OSError) as exc:
        raise FaceScanError(f"{path}: not a readable media file ({exc})") from exc


# ------------------------------------------------------------- detection


class FaceDetector:
    """Finds frontal faces in an RGB image. dlib HOG: better recall and boxes
    the landmark model was trained on; Haar: faster, more false positives."""

    def __init__(self, backend: Backend = "dlib_hog", upsample: int = 0):
        self.backend = backend
        self.upsample = upsample
        if backend == "dlib_hog":
            self._hog = models.hog_detector()
        elif backend == "haar":
            self._haar = models.haar_cascade()
        else:
            raise ValueError(f"unknown face detector backend {backend!r}; use 'dlib_hog' or 'haar'")

    def detect(self, image: np.ndarray, min_size: int = 20) -> list[FaceBox]:
        """Faces in an RGB or grey uint8 image."""
        if self.backend == "dlib_hog":
            rects, scores, _ = self._hog.run(image, self.upsample, 0.0)
            return [FaceBox(r.left(), r.top(), r.right(), r.bottom(), float(s)) for r, s in zip(rects, scores)]
        import cv2

        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        found = self._haar.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size))
        return [FaceBox(float(x), float(y), float(x + w), float(y + h), 1.0) for x, y, w, h in found]


def predict_landmarks(rgb: np.ndarray, box: FaceBox) -> Landmarks5:
    """5-point landmarks for the face in ``box`` (both in the image's pixels);
    RGB or grey."""
    import dlib

    rect = dlib.rectangle(int(round(box.left)), int(round(box.top)), int(round(box.right)), int(round(box.bottom)))
    shape = models.landmark_predictor()(rgb, rect)
    pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)], dtype=np.float64)
    return Landmarks5(pts)


# ------------------------------------------------------------- alignment


def alignment_matrix(landmarks: Landmarks5, size: int, margin: float) -> np.ndarray:
    """2x3 similarity transform putting the eye centres at fixed places of a
    ``size`` square: eyes at 30%/70% of the inner face width and 35% of its
    height; ``margin`` adds that fraction of the inner face on every side."""
    inner = size / (1.0 + 2.0 * margin)
    off = margin * inner
    dl = complex(off + 0.30 * inner, off + 0.35 * inner)
    dr = complex(off + 0.70 * inner, off + 0.35 * inner)
    src_l, src_r = landmarks.eye_centers
    sl = complex(float(src_l[0]), float(src_l[1]))
    sv = complex(float(src_r[0]), float(src_r[1])) - sl
    if abs(sv) < 1e-6:
        sv = complex(1e-6, 0.0)
    # Scale and rotation as one complex factor (dst = z * src + t); Python
    # scalars because this runs for every frame and numpy's per-call
    # overhead on 2-vectors cost more than the warp itself.
    z = (dr - dl) / sv
    t = dl - z * sl
    return np.array([[z.real, -z.imag, t.real], [z.imag, z.real, t.imag]])


def aligned_crop(image: np.ndarray, landmarks: Landmarks5, size: int = 112, margin: float = 0.25,
                 reflect: bool = False) -> np.ndarray:
    """The face warped to a canonical pose (same image type as the input).
    Outside the frame: edge pixels repeated, or mirrored with ``reflect`` (the
    face-swap CNN's crops, which it was trained on that way)."""
    import cv2

    m = alignment_matrix(landmarks, size, margin)
    border = cv2.BORDER_REFLECT if reflect else cv2.BORDER_REPLICATE
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=border)


def dlib_chip(rgb: np.ndarray, box: FaceBox, landmarks: Landmarks5, size: int = 150, padding: float = 0.25) -> np.ndarray:
    """dlib's own 150x150 alignment, the input its 128-D ResNet was trained on."""
    import dlib

    rect = dlib.rectangle(int(round(box.left)), int(round(box.top)), int(round(box.right)), int(round(box.bottom)))
    shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in landmarks.points])
    return np.asarray(dlib.get_face_chip(rgb, shape, size=size, padding=padding))


# -------------------------------------------------------------- tracking


@dataclass
class _Active:
    track: FaceTrack
    box: FaceBox  # working pixels
    missed: int = 0
    last_chip_t: float = -1e9
    # The last dlib prediction (frame index, working-pixel points), and the
    # frames waiting for the next one to interpolate their landmarks.
    last_pred: tuple[int, np.ndarray] | None = None
    pending: list[tuple[VideoFrame, bool]] = field(default_factory=list)


class IoUTracker:
    """Greedy IoU association of detections with live tracks; a track that
    misses ``max_missed`` detection passes in a row is closed."""

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 1):
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self.active: list[_Active] = []
        self.closed: list[FaceTrack] = []
        self._next_id = 0

    def associate(self, detections: list[FaceBox]) -> list[tuple[_Active, FaceBox]]:
        """Match detections to tracks, start tracks for the rest, age the
        unmatched tracks. Returns (track, box) for every live face."""
        pairs = sorted(
            ((a.box.iou(d), i, j) for i, a in enumerate(self.active) for j, d in enumerate(detections)),
            reverse=True,
        )
        used_t: set[int] = set()
        used_d: set[int] = set()
        out: list[tuple[_Active, FaceBox]] = []
        for iou, i, j in pairs:
            if iou < self.iou_threshold or i in used_t or j in used_d:
                continue
            used_t.add(i)
            used_d.add(j)
            self.active[i].missed = 0
            self.active[i].box = detections[j]
            out.append((self.active[i], detections[j]))
        survivors: list[_Active] = []
        for i, a in enumerate(self.active):
            if i in used_t:
                survivors.append(a)
            else:
                a.missed += 1
                if a.missed > self.max_missed:
                    self.closed.append(a.track)
                else:
                    survivors.append(a)
                    out.append((a, a.box))
        for j, d in enumerate(detections):
            if j not in used_d:
                a = _Active(FaceTrack(self._next_id), d)
                self._next_id += 1
                survivors.append(a)
                out.append((a, d))
        self.active = survivors
        return out

    def finish(self) -> list[FaceTrack]:
        tracks = self.closed + [a.track for a in self.active]
        self.active, self.closed = [], []
        return sorted(tracks, key=lambda t: t.track_id)


# ------------------------------------------------------------------ scan


def _chip_due(a: _Active, frame: VideoFrame, options: ScanOptions) -> bool:
    """An embedding chip is due for this track (one every ``chip_every_s``)."""
    return options.chip_every_s is not None and frame.time_s - a.last_chip_t >= options.chip_every_s - 1e-6


def _set_single_thread() -> None:
    try:
        import cv2

        cv2.setNumThreads(int(os.environ.get("VERIFIER_CV_THREADS", "1")))
    except ImportError:  # pragma: no cover
        pass


def scan_faces(path: str | Path, options: ScanOptions = ScanOptions(),
               on_frame: Callable[[VideoFrame], None] | None = None) -> FaceScan:
    """One pass over the video: faces detected, followed and cropped.
    ``on_frame`` sees every analysed frame (e.g. to compute a global motion
    signal) without a second decode."""
    _set_single_thread()
    detector = FaceDetector(options.backend)
    tracker = IoUTracker(options.iou_threshold)
    fps, width, height = video_geometry(path)
    step = analysis_step(fps, options.max_analysis_fps)
    sample_fps = options.sample_fps
    if step > 1:
        fps = fps / step
        sample_fps = fps if sample_fps is None else min(sample_fps, fps)
    times: list[float] = []
    timings = {"decode": 0.0, "detect": 0.0, "landmarks": 0.0, "crops": 0.0}
    next_detect = 0.0
    runs = too_small = 0
    scale = 1.0
    t_dec = time.perf_counter()
    live: list[_Active] = []
    color = SampleClock(options.color_crop_fps, options.color_keyframes) if options.color_crop_fps else None
    stopped: list[float] = []
    frames = prefetched(
        lambda: iter_frames(path, sample_fps=sample_fps, work_max_side=options.work_max_side,
                            max_seconds=options.max_seconds, threads=options.decode_threads, stopped=stopped),
        options.prefetch_frames,
        # Every-frame scans need every luma plane: resize it on the decode thread too.
        prepare=(lambda f: f.gray) if options.every_frame else None,
    )
    for frame in frames:
        timings["decode"] += time.perf_counter() - t_dec
        scale = frame.scale
        if not times and quarter_turns(frame.rotation) % 2:
            width, height = height, width  # displayed on its side: report the picture as shown
        times.append(frame.time_s)
        if on_frame is not None:
            on_frame(frame)
        want_color = color is not None and color.wants(frame.time_s, frame.key)
        detecting = frame.time_s + 1e-6 >= next_detect
        if not (options.every_frame or detecting or want_color or any(_chip_due(a, frame, options) for a in live)):
            t_dec = time.perf_counter()
            continue
        t_gray = time.perf_counter()
        grey = frame.gray
        timings["decode"] += time.perf_counter() - t_gray  # the luma resize belongs to decoding
        if detecting:
            t1 = time.perf_counter()
            min_work = options.min_face_px * scale
            boxes = detector.detect(grey, min_size=max(12, int(min_work * 0.8)))
            kept = [b for b in boxes if b.size >= min_work]
            too_small += len(boxes) - len(kept)
            runs += 1
            pairs = tracker.associate(kept)
            left = [a for a in live if all(a is not b for b, _ in pairs)]
            live = [a for a, _ in pairs]
            for a, b in pairs:
                a.box = b
                a._detected = b in kept  # type: ignore[attr-defined]
            next_detect = frame.time_s + options.detect_every_s
            timings["detect"] += time.perf_counter() - t1
            for a in left:  # no longer followed: its waiting frames keep its last landmarks
                _settle_pending(a, None, options, scale, timings)
        else:
            for a in live:
                a._detected = False  # type: ignore[attr-defined]
        for a in live:
            detected = bool(getattr(a, "_detected", False))
            chip_now = _chip_due(a, frame, options)
            if not (detected or want_color or chip_now or a.last_pred is None
                    or frame.index - a.last_pred[0] >= options.landmark_every):
                a.pending.append((frame, detected))
                continue
            t1 = time.perf_counter()
            lm_work = predict_landmarks(grey, a.box)
            # Carry the box with the landmarks so the next frame starts where the face is now.
            if a.last_pred is not None and not detected:
                a.box = a.box.carried((lm_work.points - a.last_pred[1]).mean(axis=0), grey.shape[1], grey.shape[0])
            timings["landmarks"] += time.perf_counter() - t1
            _settle_pending(a, (frame.index, lm_work.points), options, scale, timings)
            a.last_pred = (frame.index, lm_work.points)
            _observe(a, frame, lm_work, detected, chip_now, want_color, options, scale, timings)
        t_dec = time.perf_counter()
    for a in live:
        _settle_pending(a, None, options, scale, timings)
    all_tracks = tracker.finish()
    tracks = [t for t in all_tracks if len(t) >= options.min_track_frames]
    return FaceScan(
        path=str(path), options=options, fps=fps, width=width, height=height, frames=len(times),
        frame_times=np.asarray(times, dtype=np.float64), tracks=tracks, detector_runs=runs,
        faces_too_small=too_small, short_tracks=len(all_tracks) - len(tracks), timings=timings,
        color_frame_times=np.asarray(color.times if color else [], dtype=np.float64),
        stopped_at_s=stopped[0] if stopped else None,
    )


def _observe(a: _Active, frame: VideoFrame, lm_work: Landmarks5, detected: bool, chip_now: bool, want_color: bool,
             options: ScanOptions, scale: float, timings: dict[str, float]) -> None:
    """Crop the face at ``lm_work`` (working pixels) and add the observation."""
    t0 = time.perf_counter()
    crop = aligned_crop(frame.gray, lm_work, options.crop_size, options.crop_margin)
    chip = None
    if chip_now:
        chip = dlib_chip(frame.rgb, a.box, lm_work)  # RGB converted only here
        a.last_chip_t = frame.time_s
    color_crop = (aligned_crop(frame.rgb, lm_work, options.color_crop_size, options.color_crop_margin, reflect=True)
                  if want_color else None)
    timings["crops"] += time.perf_counter() - t0
    a.track.observations.append(FaceObservation(
        frame_index=frame.index, time_s=frame.time_s, box=a.box.scaled(1.0 / scale),
        landmarks=Landmarks5(lm_work.points / scale), detected=detected,
        crop=crop, chip=chip, color_crop=color_crop, keyframe=frame.key,
    ))


def _settle_pending(a: _Active, upto: tuple[int, np.ndarray] | None, options: ScanOptions, scale: float,
                    timings: dict[str, float]) -> None:
    """Observe the frames waiting since the last prediction, with landmarks
    interpolated towards ``upto`` (frame index, points) or, when the track is
    no longer followed (None), held at the last prediction."""
    if not a.pending:
        return
    assert a.last_pred is not None
    i0, p0 = a.last_pred
    for f, detected in a.pending:
        pts = p0 if upto is None else p0 + (upto[1] - p0) * ((f.index - i0) / max(1, upto[0] - i0))
        _observe(a, f, Landmarks5(pts), detected, False, False, options, scale, timings)
    a.pending.clear()


class SampleClock:
    """Which frames to sample: one at or after each step of a ``fps`` grid,
    plus codec keyframes (the least compressed pictures, where blending seams
    survive best), at most one every 0.25 s. Remembers the times it chose."""

    def __init__(self, fps: float, keyframes: bool = True):
        self.step = 1.0 / fps
        self.keyframes = keyframes
        self.next_t = 0.0
        self.last_key_t = -1e9
        self.times: list[float] = []

    def wants(self, t: float, key: bool) -> bool:
        on_grid = t + 1e-6 >= self.next_t
        key = self.keyframes and key and t - self.last_key_t >= 0.25
        if on_grid:
            while self.next_t <= t + 1e-6:
                self.next_t += self.step
        if key:
            self.last_key_t = t
        if on_grid or key:
            self.times.append(t)
        return on_grid or key


@lru_cache(maxsize=2)
def _cached(path: str, mtime_ns: int, size: int, options: ScanOptions) -> FaceScan:
    return scan_faces(path, options)


ScanListener = Callable[[str, FaceScan], None]
_scan_listeners: list[ScanListener] = []


def on_cached_scan(listener: ScanListener) -> None:
    """Call ``listener(path, scan)`` whenever ``scan_faces_cached`` returns a
    scan (first computation and cache hits alike): lets a later stage start
    work on the scan - e.g. face embeddings in a second process - before the
    detector that needs it runs."""
    if listener not in _scan_listeners:
        _scan_listeners.append(listener)


def scan_faces_cached(path: str | Path, options: ScanOptions = ScanOptions()) -> FaceScan:
    """``scan_faces`` memoised on (path, mtime, size, options): the lip-sync
    and identity detectors run one after the other on the same stored file
    and share one decode."""
    st = os.stat(path)
    scan = _cached(str(path), st.st_mtime_ns, st.st_size, options)
    for listener in _scan_listeners:
        listener(str(path), scan)
    return scan


def audiovisual_scan_or_reason(path: str | Path) -> "FaceScan | str":
    """The shared scan, or the reason a detector cannot use it (decode
    failure, no face, faces too small), worded for the user."""
    try:
        scan = scan_faces_cached(path, AUDIOVISUAL_SCAN)
    except FaceScanError as exc:
        return f"video could not be analysed: {exc}"
    return scan.reason or scan


# The one scan every video detector shares - lip sync needs every frame,
# identity a chip a second, the face-swap CNN colour crops at 3 fps plus
# keyframes - so one decode serves all three (same options -> one cache entry).
# Landmarks on every 3rd frame, interpolated in between: a third of the
# landmark cost, and smoother mouth crops than per-frame dlib jitter. On the 6
# lip-sync clips with speech, every 2nd and every 3rd frame recover every
# in-range shift within +-1 frame (29/29, 30/30) with substitution AUC 0.92 /
# 0.93; every 4th drops to 94 % / 0.90 (all chosen on those same clips).
SHARED_VIDEO_SCAN = ScanOptions(chip_every_s=1.0, max_seconds=600.0, color_crop_fps=3.0,  # time guard: first 10 min
                                landmark_every=3, max_analysis_fps=30.5)
AUDIOVISUAL_SCAN = SHARED_VIDEO_SCAN
# The face-swap CNN alone: the same colour crops, without following the face
# through every frame (about a third of the shared scan's cost on 720p).
FACE_SWAP_SCAN = ScanOptions(chip_every_s=None, max_seconds=600.0, color_crop_fps=3.0, every_frame=False,
                             min_track_frames=1)
# Detectors that read SHARED_VIDEO_SCAN: with any of them in a run, face_swap
# reads that scan too, so the video is decoded once.
SHARED_SCAN_DETECTORS = frozenset({"av_sync", "face_identity_consistency", "face_identity_claim", "face_motion"})
