"""Self-blended images (SBI, Shiohara & Yamasaki, CVPR 2022), from 5 landmarks.

An SBI is a real face blended with a slightly altered copy of itself inside
a face-shaped mask. It has the generic traces of a face swap - a blending
boundary, a colour / sharpness mismatch, a small misalignment of the inner
face - and nothing identity- or generator-specific, so a network trained to
separate real faces from SBIs learns the seam, not a particular deepfake
method. Re-implemented here from the paper's description.

The paper builds the mask from 81 landmarks; we only have dlib's 5 (eye
corners, nose base, CC0-trained). The inner face is reconstructed from
their geometry: eye line, eye-to-nose axis and interocular distance place
brows, mouth and chin, and the mask is the convex hull of an ellipse
through those points, then randomly deformed, eroded/dilated and blurred.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class SbiConfig:
    """Ranges of the random alterations (defaults close to the paper's)."""

    hue_shift: float = 0.04  # fraction of the hue circle
    sat_scale: tuple[float, float] = (0.8, 1.2)
    val_scale: tuple[float, float] = (0.85, 1.15)
    contrast: tuple[float, float] = (0.85, 1.15)
    max_shift: float = 0.03  # of the crop side
    scale: tuple[float, float] = (0.95, 1.05)
    max_rotate_deg: float = 2.0
    blend_ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
    elastic_alpha: float = 3.0  # px of mask boundary deformation
    mask_scale: tuple[float, float] = (0.85, 1.15)


def face_points(landmarks: np.ndarray) -> np.ndarray:
    """Inner-face outline points estimated from dlib's 5 landmarks.

    ``landmarks``: (5, 2) - corners of one eye, corners of the other, nose
    base. Returns (N, 2) points around brows, cheeks, mouth and chin."""
    lm = np.asarray(landmarks, np.float64)
    a, b = lm[0:2].mean(axis=0), lm[2:4].mean(axis=0)
    left, right = (a, b) if a[0] <= b[0] else (b, a)
    nose = lm[4]
    mid = (left + right) / 2
    ex = right - left
    iod = max(np.hypot(*ex), 1e-3)
    ux = ex / iod  # along the eye line
    uy = np.array([-ux[1], ux[0]])  # down the face
    if np.dot(nose - mid, uy) < 0:
        uy = -uy
    down = max(float(np.dot(nose - mid, uy)), 0.4 * iod)  # eye line to nose base
    pts = [
        mid - 0.75 * down * uy - 0.85 * iod * ux,  # brow ends
        mid - 0.95 * down * uy,  # above the brows
        mid - 0.75 * down * uy + 0.85 * iod * ux,
        mid + 0.1 * down * uy - 1.0 * iod * ux,  # temples / cheekbones
        mid + 0.1 * down * uy + 1.0 * iod * ux,
        mid + 1.2 * down * uy - 0.9 * iod * ux,  # cheeks
        mid + 1.2 * down * uy + 0.9 * iod * ux,
        mid + 1.9 * down * uy - 0.55 * iod * ux,  # jaw
        mid + 1.9 * down * uy + 0.55 * iod * ux,
        mid + 2.25 * down * uy,  # chin
    ]
    return np.asarray(pts)


def face_mask(landmarks: np.ndarray, size: int | tuple[int, int], rng: np.random.Generator | None = None,
              cfg: SbiConfig = SbiConfig(), feather: float = 0.12) -> np.ndarray:
    """Soft face mask in [0, 1], float32, ``size`` square or (height, width).
    With ``rng`` the shape is randomised (SBI training); without it the mask
    is the plain hull feathered by ``feather`` x the interocular distance
    (manipulation synthesis, explanations)."""
    h, w = (size, size) if isinstance(size, int) else size
    pts = face_points(landmarks)
    size = min(h, w)
    if rng is not None:
        c = pts.mean(axis=0)
        s = rng.uniform(*cfg.mask_scale, size=2)
        pts = c + (pts - c) * s + rng.normal(0, 0.02 * size, pts.shape)
    # convex hull of an ellipse fitted to the points: a smooth face outline
    ell = cv2.fitEllipse(pts.astype(np.float32))
    poly = cv2.ellipse2Poly((int(round(ell[0][0])), int(round(ell[0][1]))),
                            (max(1, int(round(ell[1][0] / 2))), max(1, int(round(ell[1][1] / 2)))),
                            int(round(ell[2])), 0, 360, 10)
    hull = cv2.convexHull(np.concatenate([poly, pts.astype(np.int32)]).astype(np.int32))
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0)
    if rng is None:
        a, b = np.asarray(landmarks)[0:2].mean(axis=0), np.asarray(landmarks)[2:4].mean(axis=0)
        return cv2.GaussianBlur(mask, (0, 0), max(0.5, feather * float(np.hypot(*(b - a)))))
    mask = _elastic(mask, rng, cfg.elastic_alpha)
    k = int(rng.integers(0, 3)) * 2 + 1
    if rng.random() < 0.5:
        mask = cv2.erode(mask, np.ones((k, k), np.uint8))
    else:
        mask = cv2.dilate(mask, np.ones((k, k), np.uint8))
    sigma = rng.uniform(0.5, size / 25)
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    if mask.max() > 0:
        mask = mask / mask.max()
    return mask.clip(0, 1)


def _elastic(mask: np.ndarray, rng: np.random.Generator, alpha: float) -> np.ndarray:
    """Smooth random displacement field: a wavy, not perfectly convex edge."""
    h, w = mask.shape
    g = rng.normal(0, 1, (2, 4, 4)).astype(np.float32)
    dx = cv2.resize(g[0], (w, h), interpolation=cv2.INTER_CUBIC) * alpha
    dy = cv2.resize(g[1], (w, h), interpolation=cv2.INTER_CUBIC) * alpha
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def colour_jitter(img: np.ndarray, rng: np.random.Generator, cfg: SbiConfig = SbiConfig()) -> np.ndarray:
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-cfg.hue_shift, cfg.hue_shift) * 256) % 256
    hsv[..., 1] *= rng.uniform(*cfg.sat_scale)
    hsv[..., 2] *= rng.uniform(*cfg.val_scale)
    out = cv2.cvtColor(hsv.clip(0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB_FULL).astype(np.float32)
    c = rng.uniform(*cfg.contrast)
    out = (out - out.mean()) * c + out.mean()
    return out.clip(0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) if ok else img


def frequency_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur, sharpen, JPEG or down-up resize: the sharpness mismatch of a
    generated face pasted into a differently processed frame."""
    r = rng.random()
    if r < 0.3:
        return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.4))
    if r < 0.55:
        blur = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 2.0)).astype(np.float32)
        amt = rng.uniform(0.3, 1.2)
        return (img + amt * (img.astype(np.float32) - blur)).clip(0, 255).astype(np.uint8)
    if r < 0.8:
        return jpeg(img, int(rng.integers(30, 85)))
    h, w = img.shape[:2]
    f = rng.uniform(0.4, 0.8)
    small = cv2.resize(img, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def small_affine(img: np.ndarray, rng: np.random.Generator, cfg: SbiConfig = SbiConfig()) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-cfg.max_rotate_deg, cfg.max_rotate_deg),
                                rng.uniform(*cfg.scale))
    m[:, 2] += rng.uniform(-cfg.max_shift, cfg.max_shift, 2) * np.array([w, h])
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def self_blend(img: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
               cfg: SbiConfig = SbiConfig()) -> tuple[np.ndarray, np.ndarray]:
    """(SBI image, blending mask actually used). Source and target are both
    ``img``; one of them (randomly) is altered in colour, frequency content
    and geometry, then the source is pasted into the target under the mask."""
    src, tgt = img, img
    altered = colour_jitter(img, rng, cfg) if rng.random() < 0.9 else img
    if rng.random() < 0.7:
        altered = frequency_jitter(altered, rng)
    altered = small_affine(altered, rng, cfg)
    if rng.random() < 0.5:
        src = altered
    else:
        tgt = altered
    mask = face_mask(landmarks, img.shape[0], rng, cfg) * float(rng.choice(cfg.blend_ratios))
    out = mask[..., None] * src.astype(np.float32) + (1 - mask[..., None]) * tgt.astype(np.float32)
    return out.round().clip(0, 255).astype(np.uint8), mask


def colour_transfer(src: np.ndarray, dst: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match the source's Lab mean/std inside the mask to the target's (what
    face-swap tools do before pasting, so the colour step is not a giveaway)."""
    m = mask > 0.5
    if m.sum() < 20:
        return src
    s = cv2.cvtColor(src, cv2.COLOR_RGB2LAB).astype(np.float32)
    d = cv2.cvtColor(dst, cv2.COLOR_RGB2LAB).astype(np.float32)
    for c in range(3):
        ms, ss = s[..., c][m].mean(), s[..., c][m].std() + 1e-3
        md, sd = d[..., c][m].mean(), d[..., c][m].std() + 1e-3
        s[..., c] = (s[..., c] - ms) * (sd / ss) + md
    return cv2.cvtColor(s.clip(0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def cross_blend(tgt: np.ndarray, tgt_lm: np.ndarray, src: np.ndarray, src_lm: np.ndarray,
                rng: np.random.Generator, cfg: SbiConfig = SbiConfig()) -> tuple[np.ndarray, np.ndarray]:
    """(blended image, mask): ``src``'s face (another person) on ``tgt``.

    The source is warped onto the target's landmarks (similarity transform,
    as a swap tool aligns), often colour-matched, sometimes blurred or
    re-compressed (a donor video of another quality), then pasted under a
    randomised face mask with alpha blending or, one time in three, Poisson
    blending (``cv2.seamlessClone``), which leaves no seam and no colour step
    - only the inner face's own texture, sharpness and geometry differ."""
    h, w = tgt.shape[:2]
    m, _ = cv2.estimateAffinePartial2D(np.asarray(src_lm, np.float32), np.asarray(tgt_lm, np.float32))
    warped = src if m is None else cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.5:
        warped = frequency_jitter(warped, rng)
    mask = face_mask(tgt_lm, (h, w), rng, cfg)
    if rng.random() < 1 / 3:
        hard = (mask > 0.5).astype(np.uint8) * 255
        hard[:2], hard[-2:], hard[:, :2], hard[:, -2:] = 0, 0, 0, 0
        ys, xs = np.nonzero(hard)
        if len(xs) >= 20:
            centre = (int((xs.min() + xs.max()) / 2), int((ys.min() + ys.max()) / 2))
            out = cv2.seamlessClone(np.ascontiguousarray(warped[..., ::-1]), np.ascontiguousarray(tgt[..., ::-1]),
                                    hard, centre, cv2.NORMAL_CLONE)
            return np.ascontiguousarray(out[..., ::-1]), hard.astype(np.float32) / 255
    if rng.random() < 0.8:
        warped = colour_transfer(warped, tgt, mask)
    mask = mask * float(rng.choice(cfg.blend_ratios))
    out = mask[..., None] * warped.astype(np.float32) + (1 - mask[..., None]) * tgt.astype(np.float32)
    return out.round().clip(0, 255).astype(np.uint8), mask


def global_augment(img: np.ndarray, rng: np.random.Generator, strong: bool = False) -> np.ndarray:
    """Applied to real and fake training crops alike (so global blur, JPEG,
    brightness or a flip can never be the cue): what a camera, an uploader
    and a video codec do to every face. ``strong`` adds whole-image colour,
    gamma, sharpening and skin-smoothing changes, so that the look of a
    particular clip (camera, grading, phone filter applied to the whole
    frame) is seen on both sides of the decision and cannot be learnt as
    "real"."""
    out = img
    if rng.random() < 0.5:
        out = out[:, ::-1].copy()
    if strong:
        if rng.random() < 0.5:
            out = colour_jitter(out, rng, SbiConfig(hue_shift=0.03, sat_scale=(0.7, 1.3), val_scale=(0.8, 1.2)))
        if rng.random() < 0.3:
            g = rng.uniform(0.7, 1.4)
            out = (255.0 * (out.astype(np.float32) / 255.0) ** g).clip(0, 255).astype(np.uint8)
        if rng.random() < 0.2:
            out = cv2.bilateralFilter(out, 5, rng.uniform(20, 60), 5)
        if rng.random() < 0.15:
            blur = cv2.GaussianBlur(out, (0, 0), 1.0).astype(np.float32)
            out = (out + rng.uniform(0.3, 1.0) * (out.astype(np.float32) - blur)).clip(0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        out = (out.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-15, 15)).clip(0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.0))
    if rng.random() < (0.3 if strong else 0.2):
        h, w = out.shape[:2]
        f = rng.uniform(0.35 if strong else 0.5, 0.9)
        out = cv2.resize(cv2.resize(out, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA), (w, h))
    if rng.random() < 0.5:
        out = jpeg(out, int(rng.integers(40, 96)))
    if rng.random() < 0.1:
        out = (out.astype(np.float32) + rng.normal(0, rng.uniform(1, 5), out.shape)).clip(0, 255).astype(np.uint8)
    return np.ascontiguousarray(out)
