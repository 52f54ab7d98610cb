"""Variable frame rate: which files get a regular grid, and what it reads."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.face_swap.frame_grid import display_grid, frame_rate_varies, nominal_period


def test_constant_rate_files_are_left_alone():
    # 25 fps, and NTSC 29.97 fps stored in a 1/90000 time base (steps of 3003 ticks)
    for times in (np.arange(200) / 25, np.round(np.arange(300) * 1001 / 30000 * 90000) / 90000):
        assert not frame_rate_varies(times) and display_grid(times) is None
    assert display_grid(np.array([0.0])) is None and nominal_period(np.array([0.0])) is None


def test_dropped_frames_get_a_grid_at_the_nominal_rate():
    kept = np.array([i for i in range(100) if i % 3 != 2])  # a third of 25 fps dropped
    grid = display_grid(kept / 25)
    assert grid is not None and frame_rate_varies(kept / 25)
    assert grid.fps == pytest.approx(25.0) and grid.frames == 100  # 0 .. 3.96 s (the last kept frame) every 40 ms
    np.testing.assert_allclose(np.diff(grid.times), 0.04)


def test_grid_reads_values_between_the_frames_either_side():
    times = np.array([0.0, 0.04, 0.12, 0.16])  # the frame at 0.08 s is missing
    grid = display_grid(times)
    assert grid is not None
    values = np.array([[0.0], [1.0], [3.0], [4.0]])  # a steady ramp, one unit per period
    out, seen = grid.interpolate(values, np.ones(4, bool))
    np.testing.assert_allclose(out[:, 0], [0, 1, 2, 3, 4])
    assert seen.all()
    _, seen = grid.interpolate(values, np.array([True, True, False, True]))
    assert seen.tolist() == [True, True, False, False, True]  # the gap's end was not observed


def test_a_fast_camera_gets_a_grid_at_the_calibrated_rates():
    kept = np.array([i for i in range(240) if i % 5 != 4])  # 60 fps with a fifth dropped
    grid = display_grid(kept / 60)
    assert grid is not None and grid.fps == pytest.approx(30.0)


def test_vfr_eval_writes_copies_whose_frame_rate_varies(tmp_path):
    """The evaluation's dropped-frame copies are what they claim: kept frames
    at their own times, so the detectors see a varying frame rate."""
    import av

    from detectors.face_swap.vfr_eval import write_dropped
    from tests.av_sync.synth import write_talking_video

    grey = np.full((64, 64, 3), 128, np.uint8)
    src = write_talking_video(tmp_path / "src.mp4", grey, (32, 40), 0, np.zeros(50), np.zeros(32000, np.float32))
    dst = write_dropped(src, tmp_path / "dropped.mp4", 0.35)
    with av.open(str(dst)) as c:
        times = np.array([float(f.pts * f.time_base) for f in c.decode(video=0)])
        assert c.streams.audio
    assert 20 < times.size < 45 and frame_rate_varies(times)
    assert nominal_period(times) == pytest.approx(0.04, abs=1e-3)
