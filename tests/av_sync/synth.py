"""Synthetic talking mouths for tests: a known mouth-opening sequence drawn
into crops or into a real face photo, and speech-like audio whose envelope is
that sequence delayed by a known number of frames."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from scipy.ndimage import uniform_filter1d

from verifier.shared_dir import shared_dir

REPO = Path(__file__).resolve().parents[2]
SHARED = shared_dir()
FACE_PHOTO = SHARED / "media/image/gfpgan/inputs/cropped_faces/Julia_Roberts_crop.png"
RATE = 16_000


def syllables(n: int, seed: int) -> np.ndarray:
    """A 0..1 mouth-opening sequence with syllable-like bursts (~4 Hz) and pauses."""
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    t = 0
    while t < n:
        t += int(rng.integers(2, 6))
        if rng.random() < 0.15:
            t += int(rng.integers(6, 14))  # a pause
        length = int(rng.integers(3, 8))
        x[t:t + length] = rng.uniform(0.5, 1.0) * np.sin(np.linspace(0, np.pi, length)) if t + length <= n else 0
        t += length
    return uniform_filter1d(x, 2)


def speech_audio(opening: np.ndarray, fps: float, delay_frames: int, seed: int) -> np.ndarray:
    """Noise in the speech band, amplitude-modulated by ``opening`` delayed by
    ``delay_frames`` (positive: the audio comes later than the mouth)."""
    rng = np.random.default_rng(seed)
    spf = RATE / fps
    n = int(round(len(opening) * spf))
    env = np.repeat(opening, int(np.ceil(spf)))[:n] if spf == int(spf) else np.interp(np.arange(n) / spf, np.arange(len(opening)), opening)
    d = int(round(abs(delay_frames) * spf))
    env = np.concatenate([np.zeros(d), env])[:n] if delay_frames > 0 else np.concatenate([env[d:], np.zeros(d)])
    from scipy.signal import butter, sosfilt

    carrier = sosfilt(butter(4, [300, 3000], btype="band", fs=RATE, output="sos"), rng.standard_normal(n))
    return (0.3 * env * carrier / np.abs(carrier).max() + 1e-4 * rng.standard_normal(n)).astype(np.float32)


def mouth_crop(opening: float, size: int = 64, rng: np.random.Generator | None = None) -> np.ndarray:
    """A grey aligned 'face' with a dark mouth whose height follows ``opening``."""
    yy, xx = np.mgrid[0:size, 0:size]
    img = np.full((size, size), 170.0)
    cy, cx = 0.72 * size, 0.5 * size
    h = 1.0 + 5.0 * opening
    img[((xx - cx) / 8.0) ** 2 + ((yy - cy) / h) ** 2 <= 1.0] = 40.0
    if rng is not None:
        img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_talking_video(path: Path, photo_rgb: np.ndarray, mouth_xy: tuple[float, float], mouth_w: float,
                        opening: np.ndarray, audio: np.ndarray | None, fps: int = 25,
                        keep: np.ndarray | None = None,
                        more_mouths: tuple[tuple[tuple[float, float], float, np.ndarray], ...] = ()) -> Path:
    """H.264 + AAC mp4: the photo with a dark mouth opening per frame.
    ``keep``: frames to write (the others are dropped, the kept ones keep
    their times): a variable-frame-rate file. ``more_mouths``: further
    (position, width, opening) mouths, for pictures of several faces."""
    h, w = photo_rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "18"}
        if audio is not None:
            as_ = out.add_stream("aac", rate=RATE)
            as_.layout = "mono"
        for i, o in enumerate(opening):
            if keep is not None and not keep[i]:
                continue
            img = photo_rgb.copy()
            for (mx, my), mw, op in ((mouth_xy, mouth_w, opening), *more_mouths):
                if mw > 0:
                    mh = 1.0 + 0.35 * mw * op[i]
                    mask = ((xx - mx) / (0.5 * mw)) ** 2 + ((yy - my) / mh) ** 2 <= 1.0
                    img[mask] = (40, 20, 20)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if keep is not None:
                frame.pts, frame.time_base = i, Fraction(1, fps)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        if audio is not None:
            frame = av.AudioFrame.from_ndarray(audio[None, :], format="flt", layout="mono")
            frame.sample_rate = RATE
            frame.time_base = Fraction(1, RATE)
            frame.pts = 0
            for p in as_.encode(frame):
                out.mux(p)
            for p in as_.encode():
                out.mux(p)
    return path


def load_photo(size: int = 256) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(FACE_PHOTO))
    return cv2.cvtColor(cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
