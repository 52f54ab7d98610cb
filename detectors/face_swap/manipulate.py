"""Real face-swap manipulations made here, for held-out evaluation only.

The network never sees these videos or their identities: they test whether
what it learned transfers to an actual swap - another person's face, taken
frame by frame from another real video, aligned on the 5 landmarks and
pasted with Poisson blending (``cv2.seamlessClone``) or with colour-matched
alpha blending. A network trained on self-blends alone has never seen this
mechanism; one trained with ``cross_blend`` (``sbi.cross_blend``) has seen
it on still crops of other people, so its figures here are in-domain for
the manipulation, out-of-domain only for the identities and the clips. This is the classic "faceswap" pipeline without the
generative model, so it carries the blending traces of real swaps (seam,
colour and sharpness mismatch, landmark jitter) but none of a GAN's.

Also: PyAV helpers to write H.264 (libx264, CRF) and to re-encode / downscale
for the robustness conditions.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Literal

import av
import cv2
import numpy as np

from audio.decode import open_media, stream_frame_rate
from detectors.face_swap import faces as F
from detectors.face_swap.sbi import colour_transfer, face_mask

Method = Literal["poisson", "alpha"]


class ManipulationError(RuntimeError):
    """A swap could not be made (no face in the source or target)."""


@dataclass(frozen=True)
class SwapSpec:
    target: Path
    source: Path
    method: Method
    max_seconds: float | None = 10.0
    crf: int = 18  # near-transparent: the swap as a forger would export it


def read_frames(path: Path, max_seconds: float | None = None, max_side: int | None = None) -> tuple[list[np.ndarray], float]:
    with open_media(path) as c:
        s = c.streams.video[0]
        fps = stream_frame_rate(s)
        out = []
        for fr in c.decode(s):
            if max_seconds is not None and len(out) >= max_seconds * fps:
                break
            img = fr.to_ndarray(format="rgb24")
            if max_side and max(img.shape[:2]) > max_side:
                k = max_side / max(img.shape[:2])
                img = cv2.resize(img, (int(img.shape[1] * k) // 2 * 2, int(img.shape[0] * k) // 2 * 2), interpolation=cv2.INTER_AREA)
            out.append(img)
    return out, fps


def write_h264(frames: Iterable[np.ndarray], path: Path, fps: float, crf: int = 23) -> Path:
    """Encode RGB frames with libx264 at a constant rate factor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = iter(frames)
    first = next(frames)
    h, w = first.shape[:2]
    with av.open(str(path), "w") as c:
        st = c.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        st.width, st.height = w // 2 * 2, h // 2 * 2
        st.pix_fmt = "yuv420p"
        st.options = {"crf": str(crf), "preset": "veryfast"}
        st.codec_context.thread_count = 1
        for img in [first, *frames]:
            fr = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[: st.height, : st.width]), format="rgb24")
            for pkt in st.encode(fr):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
    return path


def transcode(src: Path, dst: Path, crf: int = 23, height: int | None = None) -> Path:
    """Re-encode (optionally downscaled to ``height`` lines) - the robustness conditions."""
    frames, fps = read_frames(src)
    if height is not None:
        h, w = frames[0].shape[:2]
        if h > height:
            nw = int(round(w * height / h / 2)) * 2
            frames = [cv2.resize(f, (nw, height), interpolation=cv2.INTER_AREA) for f in frames]
    return write_h264(frames, dst, fps, crf)


class _Follower:
    """Landmarks on every frame. HOG runs every ``detect_every`` frames (it
    dominates the cost); in between, the box follows the landmarks, as in
    ``faces.scan_faces``."""

    def __init__(self, detect_every: int = 5) -> None:
        self.det = F.FaceDetector("dlib_hog")
        self.box: F.FaceBox | None = None
        self.prev: F.Landmarks5 | None = None
        self.every = detect_every
        self.n = 0

    def __call__(self, rgb: np.ndarray) -> F.Landmarks5 | None:
        if self.n % self.every == 0 or self.box is None:
            boxes = self.det.detect(rgb)
            if boxes:
                ref = self.box
                self.box = max(boxes, key=lambda b: (b.iou(ref) if ref else 0.0, b.size))
        self.n += 1
        if self.box is None:
            return None
        lm = F.predict_landmarks(rgb, self.box)
        if self.prev is not None:
            self.box = self.box.carried((lm.points - self.prev.points).mean(axis=0), rgb.shape[1], rgb.shape[0])
        self.prev = lm
        return lm


def swap_frame(tgt: np.ndarray, tgt_lm: F.Landmarks5, src: np.ndarray, src_lm: F.Landmarks5, method: Method) -> np.ndarray:
    m, _ = cv2.estimateAffinePartial2D(src_lm.points.astype(np.float32), tgt_lm.points.astype(np.float32))
    if m is None:
        return tgt
    h, w = tgt.shape[:2]
    warped = cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if method == "poisson":
        hard = (face_mask(tgt_lm.points, (h, w), feather=0.0) > 0.5).astype(np.uint8) * 255
        ys, xs = np.nonzero(hard)
        if len(xs) < 20:
            return tgt
        hard[:2], hard[-2:], hard[:, :2], hard[:, -2:] = 0, 0, 0, 0
        centre = (int((xs.min() + xs.max()) / 2), int((ys.min() + ys.max()) / 2))
        out = cv2.seamlessClone(cv2.cvtColor(warped, cv2.COLOR_RGB2BGR), cv2.cvtColor(tgt, cv2.COLOR_RGB2BGR),
                                hard, centre, cv2.NORMAL_CLONE)
        return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    soft = face_mask(tgt_lm.points, (h, w), feather=0.15)
    warped = colour_transfer(warped, tgt, soft)
    return (soft[..., None] * warped + (1 - soft[..., None]) * tgt).round().clip(0, 255).astype(np.uint8)


def make_swap(spec: SwapSpec, out: Path) -> Path:
    """Write the target video with the source video's face pasted on every frame."""
    tgt_frames, fps = read_frames(spec.target, spec.max_seconds, max_side=1280)
    src_frames, _ = read_frames(spec.source, spec.max_seconds, max_side=1280)
    if not tgt_frames or not src_frames:
        raise ManipulationError(f"no frames in {spec.target} or {spec.source}")
    follow_t, follow_s = _Follower(), _Follower()
    out_frames = []
    swapped = 0
    for i, tgt in enumerate(tgt_frames):
        src = src_frames[i % len(src_frames)]
        lt, ls = follow_t(tgt), follow_s(src)
        if lt is None or ls is None:
            out_frames.append(tgt)
            continue
        out_frames.append(swap_frame(tgt, lt, src, ls, spec.method))
        swapped += 1
    if swapped < len(tgt_frames) // 2:
        raise ManipulationError(f"faces found on only {swapped}/{len(tgt_frames)} frames of {spec.target.name} "
                                f"<- {spec.source.name}")
    return write_h264(out_frames, out, fps, spec.crf)
