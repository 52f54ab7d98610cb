"""The face-motion cue: an inner face that moves apart from the head around
it scores high, a face that moves with its head scores low."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from detectors.face_swap.faces import FaceBox, FaceObservation, FaceTrack, Landmarks5
from detectors.face_swap.motion import MIN_PAIRS, region_masks, relative_motion
from verifier.shared_dir import shared_dir

SIZE, MARGIN = 64, 0.25


def _texture(seed: int, size: int = 96) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur((rng.random((size, size)) * 255).astype(np.float32), (0, 0), 1.5)


def _track(inner_dx: list[float], head_dx: list[float]) -> FaceTrack:
    """Crops of a textured head whose inner face is shifted by ``inner_dx``
    on top of the whole crop's ``head_dx`` shift, frame by frame."""
    import cv2

    head, face = _texture(1), _texture(2)
    inner, _ = region_masks(SIZE, MARGIN)
    soft = cv2.GaussianBlur(inner.astype(np.float32), (0, 0), 2.0)
    obs = []
    for i, (fdx, hdx) in enumerate(zip(inner_dx, head_dx)):
        shift = lambda img, dx: cv2.warpAffine(img, np.float32([[1, 0, dx], [0, 1, 0]]), (SIZE, SIZE),  # noqa: E731
                                               borderMode=cv2.BORDER_REFLECT)
        h, f = shift(head, hdx), shift(face, hdx + fdx)
        crop = np.clip(soft * f + (1 - soft) * h, 0, 255).astype(np.uint8)
        obs.append(FaceObservation(i, i / 25, FaceBox(0, 0, 64, 64), Landmarks5(np.zeros((5, 2))), True, crop=crop))
    return FaceTrack(0, obs)


def test_pasted_face_jitter_scores_above_a_face_moving_with_its_head():
    n = 60
    sway = [3 * np.sin(i / 6) for i in range(n)]  # the head moves; a filmed face moves with it
    jitter = [1.5 * (-1) ** i for i in range(n)]  # a pasted face aligned frame by frame
    times = np.arange(n) / 25
    filmed = relative_motion(_track([0.0] * n, sway), times, MARGIN)
    pasted = relative_motion(_track(jitter, sway), times, MARGIN)
    assert filmed is not None and pasted is not None and filmed.pairs == n - 2
    assert filmed.score < 0.3 < 1.0 < pasted.score
    smooth = relative_motion(_track([0.05 * i for i in range(n)], sway), times, MARGIN)  # slow drift: smooth, not jitter
    assert smooth is not None and smooth.score < 0.3


def test_dropped_frames_are_not_read_as_jumps():
    """A filmed face whose expression drifts steadily against the head
    (0.8 px a frame), with every 4th frame dropped and the rest at their own
    times (variable frame rate): only frames one period apart are compared,
    so it scores like the same face with every frame. Before, the pairs
    across a gap held two frames of drift and two triples in three read as a
    0.8 px jump."""
    n = 120
    sway = [3 * np.sin(i / 6) for i in range(n)]
    drift = [0.8 * i for i in range(n)]
    times = np.arange(n) / 25
    full = relative_motion(_track(drift, sway), times, MARGIN)
    kept = [i for i in range(n) if i % 4 != 3]
    t = _track(drift, sway)
    t.observations[:] = [replace(t.observations[i], frame_index=j) for j, i in enumerate(kept)]
    gappy = relative_motion(t, times[kept], MARGIN)
    assert full is not None and gappy is not None
    assert gappy.pairs < len(kept) / 2  # only the triples one period apart
    assert full.score < 0.3 and gappy.score < 0.3


def test_needs_consecutive_frames():
    n = MIN_PAIRS
    t = _track([0.0] * n, [0.0] * n)
    t.observations[:] = t.observations[::2]  # every other frame only: no consecutive pairs
    assert relative_motion(t, np.arange(n) / 25, MARGIN) is None


@pytest.mark.slow
def test_detector_on_a_real_clip_and_a_swap_made_from_it(tmp_path):
    """Through the registered detector: the shared real clip and a swap of
    another clip's face onto it (first 4 s)."""

    from detectors.base import get_detector
    from detectors.face_swap.manipulate import SwapSpec, make_swap
    from tests.av_sync.test_detector import ctx

    media = shared_dir() / "media" / "video"
    target = media / "sadtalker/examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4"
    donor = media / "sadtalker/examples/ref_video/WDA_KatieHill_000.mp4"
    if not (target.is_file() and donor.is_file()):
        pytest.skip("shared talking-head clips not available")
    swap = make_swap(SwapSpec(target, donor, "poisson", 4.0), tmp_path / "swap.mp4")
    real = make_swap(SwapSpec(target, target, "poisson", 4.0), tmp_path / "self.mp4")  # same chain, own face
    det = get_detector("face_motion")
    f_swap, f_real = det.analyze(ctx(swap, tmp_path)), det.analyze(ctx(real, tmp_path))
    assert f_swap.applicable and f_real.applicable
    assert f_swap.raw_score > f_real.raw_score and f_swap.llr > f_real.llr


def test_webcam_rate_video_has_its_own_motion_calibration():
    """Frames twice as far apart jump further, filmed or pasted: genuine half-rate
    copies leaned toward "pasted" under the 25/30 fps fit (motion_eval)."""
    from detectors.face_swap.motion_detector import load_calibration

    cal = load_calibration()
    low = cal.for_fps(12.5)
    assert low is not cal and cal.for_fps(15.0) is low and cal.for_fps(25.0) is cal and cal.for_fps(29.97) is cal
    assert "half-rate copies" in low.validation and "half-rate" not in cal.validation
    assert low.real_p90 > cal.real_p90  # filmed faces jitter more between frames 2 periods apart


@pytest.mark.slow
def test_a_real_clip_at_half_rate_is_judged_by_the_half_rate_fit(tmp_path):

    from detectors.base import get_detector
    from detectors.face_swap.motion_detector import load_calibration
    from detectors.face_swap.rewrite import write_half_rate
    from tests.av_sync.test_detector import ctx

    media = shared_dir() / "media" / "video"
    clip = media / "sadtalker/examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4"
    if not clip.is_file():
        pytest.skip("shared talking-head clip not available")
    half = write_half_rate(clip, tmp_path / "webcam.mp4")
    f = get_detector("face_motion").analyze(ctx(half, tmp_path))
    assert f.applicable, f.reason
    assert "runs at 12.5 fps" in f.reason and "half-rate copies" in f.validation
    assert f.llr == pytest.approx(load_calibration().for_fps(12.5).llr(f.raw_score), abs=1e-6)
    assert f.llr < 1.0  # the genuine clip is not flagged under the finance profile
