"""Self-blended images: the blend stays inside a face-shaped mask."""

import numpy as np

from detectors.face_swap import sbi
from detectors.face_swap.crops import CROP_MARGIN, CROP_SIZE

# canonical 5 landmarks in a 112 crop (eye corners, nose), as the aligner places them
INNER = CROP_SIZE / (1 + 2 * CROP_MARGIN)
OFF = CROP_MARGIN * INNER
LM = np.array([[OFF + 0.22 * INNER, OFF + 0.35 * INNER], [OFF + 0.38 * INNER, OFF + 0.35 * INNER],
               [OFF + 0.62 * INNER, OFF + 0.35 * INNER], [OFF + 0.78 * INNER, OFF + 0.35 * INNER],
               [OFF + 0.50 * INNER, OFF + 0.62 * INNER]])


def _img(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(40, 200, CROP_SIZE)[None, :, None] * np.ones((CROP_SIZE, 1, 3))
    return (base + rng.normal(0, 8, base.shape)).clip(0, 255).astype(np.uint8)


def test_mask_covers_the_face_not_the_corners() -> None:
    m = sbi.face_mask(LM, CROP_SIZE)
    nose = LM[4].astype(int)
    assert m[nose[1], nose[0]] > 0.9
    assert m[0, 0] < 0.01 and m[-1, -1] < 0.01 and m[0, -1] < 0.01
    rng = np.random.default_rng(1)
    for _ in range(20):
        mr = sbi.face_mask(LM, CROP_SIZE, rng)
        assert 0 <= mr.min() and mr.max() <= 1 and mr[nose[1], nose[0]] > 0.5


def test_self_blend_alters_the_image_and_returns_the_mask_used() -> None:
    img = _img()
    rng = np.random.default_rng(3)
    changed = 0
    for _ in range(10):
        out, mask = sbi.self_blend(img, LM, rng)
        assert out.shape == img.shape and out.dtype == np.uint8
        assert mask.shape == img.shape[:2] and 0 <= mask.min() and mask.max() <= 1
        changed += int(np.abs(out.astype(int) - img.astype(int)).max() > 0)
    assert changed >= 8


def test_self_blend_is_deterministic_in_the_seed() -> None:
    a, _ = sbi.self_blend(_img(), LM, np.random.default_rng(5))
    b, _ = sbi.self_blend(_img(), LM, np.random.default_rng(5))
    assert np.array_equal(a, b)


def test_face_points_follow_rotation() -> None:
    pts = sbi.face_points(LM)
    chin = pts[-1]
    assert chin[1] > LM[4, 1]  # chin below the nose in an upright face
    flipped = LM.copy()
    flipped[:, 1] = CROP_SIZE - flipped[:, 1]
    assert sbi.face_points(flipped)[-1][1] < flipped[4, 1]  # upside-down face: chin above


def _textured(seed: int) -> np.ndarray:
    """A face-sized image of coarse random texture (4 px blocks): unlike the
    smooth target, it survives colour matching, blur and Poisson blending."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (CROP_SIZE // 4, CROP_SIZE // 4, 3)).astype(np.uint8)
    return np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)


def test_cross_blend_pastes_the_donor_inside_the_face_only() -> None:
    tgt, donor = _img(), _textured(9)
    nose = LM[4].astype(int)
    inner = (slice(nose[1] - 6, nose[1] + 6), slice(nose[0] - 6, nose[0] + 6))
    rng = np.random.default_rng(4)
    for _ in range(12):  # alpha and Poisson paths, with and without colour matching
        out, mask = sbi.cross_blend(tgt, LM, donor, LM, rng)
        assert out.shape == tgt.shape and out.dtype == np.uint8 and mask.shape == tgt.shape[:2]
        # the donor's texture is in the inner face
        assert np.abs(out[inner].astype(float) - tgt[inner].astype(float)).mean() > 3
        # the corners, outside any face mask, are the target's
        assert np.array_equal(out[:6, :6], tgt[:6, :6]) and np.array_equal(out[-6:, -6:], tgt[-6:, -6:])


def test_cross_blend_is_deterministic_in_the_seed() -> None:
    a, _ = sbi.cross_blend(_img(), LM, _textured(1), LM, np.random.default_rng(2))
    b, _ = sbi.cross_blend(_img(), LM, _textured(1), LM, np.random.default_rng(2))
    assert np.array_equal(a, b)


def test_donors_are_always_another_identity() -> None:
    from detectors.face_swap.train import DonorPicker

    rng = np.random.default_rng(0)
    lms = np.stack([LM + rng.normal(0, 2, LM.shape) for _ in range(30)])
    groups = ["a"] * 20 + ["b"] * 7 + ["c"] * 3
    pick = DonorPicker(lms, groups)
    assert pick.usable() and not DonorPicker(lms[:5], ["a"] * 5).usable()
    for i in range(30):
        for _ in range(5):
            assert groups[pick(i, rng)] != groups[i]
