"""Face frames and tracks: geometry, tracking, and a scan of an encoded video."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from detectors.face_swap.faces import (
    FaceBox,
    FaceScanError,
    IoUTracker,
    Landmarks5,
    NoVideoStreamError,
    ScanOptions,
    aligned_crop,
    alignment_matrix,
    iter_frames,
    prefetched,
    scan_faces,
)
from tests.av_sync.synth import FACE_PHOTO, load_photo, speech_audio, syllables, write_talking_video


def test_iou():
    a = FaceBox(0, 0, 10, 10)
    assert a.iou(a) == 1.0
    assert a.iou(FaceBox(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert a.iou(FaceBox(20, 20, 30, 30)) == 0.0


def test_tracker_keeps_identities_and_closes_lost_tracks():
    tr = IoUTracker(iou_threshold=0.3, max_missed=1)
    for step in range(5):
        dets = [FaceBox(10 + 2 * step, 10, 60 + 2 * step, 60), FaceBox(200 - 2 * step, 10, 250 - 2 * step, 60)]
        for a, b in tr.associate(dets):
            a.track.observations.append(b)  # stand-in for a FaceObservation
    ids_before = sorted(a.track.track_id for a in tr.active)
    assert ids_before == [0, 1]
    # The right-hand face leaves: one missed pass is tolerated, the second closes it.
    for a, b in tr.associate([FaceBox(20, 10, 70, 60)]):
        a.track.observations.append(b)
    assert len(tr.active) == 2
    for a, b in tr.associate([FaceBox(22, 10, 72, 60)]):
        a.track.observations.append(b)
    assert [a.track.track_id for a in tr.active] == [0]
    tracks = tr.finish()
    assert [len(t.observations) for t in tracks] == [7, 6]


def test_alignment_puts_eyes_at_template_positions():
    # A tilted face: eyes at (100, 120) and (160, 90).
    pts = np.array([[95, 122], [105, 118], [165, 88], [155, 92], [135, 140]], dtype=float)
    lm = Landmarks5(pts)
    m = alignment_matrix(lm, size=112, margin=0.25)
    left, right = lm.eye_centers
    inner = 112 / 1.5
    np.testing.assert_allclose(m @ np.append(left, 1), [0.25 * inner + 0.3 * inner, 0.25 * inner + 0.35 * inner], atol=1e-6)
    np.testing.assert_allclose(m @ np.append(right, 1), [0.25 * inner + 0.7 * inner, 0.25 * inner + 0.35 * inner], atol=1e-6)
    crop = aligned_crop(np.zeros((300, 300, 3), np.uint8), lm, 112, 0.25)
    assert crop.shape == (112, 112, 3)


def test_no_video_stream(tmp_path):
    import av

    p = tmp_path / "a.wav"
    with av.open(str(p), "w") as out:
        s = out.add_stream("pcm_s16le", rate=8000)
        s.layout = "mono"
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        fr.sample_rate = 8000
        for pk in s.encode(fr):
            out.mux(pk)
        for pk in s.encode():
            out.mux(pk)
    with pytest.raises(NoVideoStreamError, match="no video stream"):
        list(iter_frames(p))


def test_sampling_rate(tmp_path):
    grey = np.full((64, 64, 3), 90, np.uint8)
    p = write_talking_video(tmp_path / "g.mp4", grey, (32, 32), 0.0, np.zeros(50), None)
    every = list(iter_frames(p))
    two_fps = list(iter_frames(p, sample_fps=2.0))
    assert len(every) == 50
    assert [round(f.time_s, 2) for f in two_fps] == [0.0, 0.52, 1.0, 1.52]  # first frame at or after each 0.5 s


def test_scan_without_face_gives_reason(tmp_path):
    grey = np.full((96, 96, 3), 128, np.uint8)
    p = write_talking_video(tmp_path / "g.mp4", grey, (48, 48), 0.0, np.zeros(30), None)
    scan = scan_faces(p, ScanOptions())
    assert scan.tracks == [] and scan.frames == 30
    assert scan.reason.startswith("no face found")


@pytest.fixture(scope="module")
def photo():
    if not FACE_PHOTO.is_file():
        pytest.skip(f"shared face photo not present at {FACE_PHOTO}")
    return load_photo(256)


def test_scan_tracks_one_face_with_crops_and_chips(photo, tmp_path):
    opening = syllables(50, seed=1)
    p = write_talking_video(tmp_path / "f.mp4", photo, (128, 190), 40.0, opening, speech_audio(opening, 25, 0, 1))
    scan = scan_faces(p, ScanOptions(detect_every_s=0.5, chip_every_s=0.5, crop_size=64))
    assert scan.reason is None and len(scan.tracks) == 1
    t = scan.main_track()
    assert len(t) == 50 and t.start_s == 0.0
    assert sum(o.detected for o in t.observations) == 4  # detections at 0, 0.5, 1.0, 1.5 s
    assert all(o.crop.shape == (64, 64) for o in t.observations)
    chips = [o.chip for o in t.observations if o.chip is not None]
    assert len(chips) == 4 and chips[0].shape == (150, 150, 3)
    assert 80 < t.median_size < 256


def test_small_faces_are_reported(photo, tmp_path):
    import cv2

    small = np.full((256, 256, 3), 200, np.uint8)
    small[100:164, 100:164] = cv2.resize(photo, (64, 64))
    p = write_talking_video(tmp_path / "s.mp4", small, (0, 0), 0.0, np.zeros(10), None)
    scan = scan_faces(p, ScanOptions(min_face_px=120))
    assert scan.tracks == []
    assert "too small" in (scan.reason or "") or "no face found" in (scan.reason or "")


def test_colour_crops_on_a_grid_plus_keyframes(photo, tmp_path):
    """The shared scan keeps colour crops for the face-swap CNN at
    ``color_crop_fps`` (plus spaced keyframes) and nowhere else."""
    from detectors.face_swap.crops import CROP_SIZE, from_face_scan

    opening = syllables(50, seed=2)
    p = write_talking_video(tmp_path / "c.mp4", photo, (128, 190), 40.0, opening, None)
    scan = scan_faces(p, ScanOptions(color_crop_fps=5.0, color_keyframes=False))
    t = scan.main_track()
    coloured = [o for o in t.observations if o.color_crop is not None]
    assert [round(o.time_s, 2) for o in coloured] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8]
    assert list(np.round(scan.color_frame_times, 2)) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8]
    assert coloured[0].color_crop.shape == (CROP_SIZE, CROP_SIZE, 3)
    cs = from_face_scan(scan, min_face_px=64)
    assert cs.frames == 10 and len(cs.tracks) == 1 and len(cs.tracks[0].obs) == 10
    # Landmarks in crop pixels: the eyes land on the template whatever the frame.
    left_eye = cs.tracks[0].obs[0].landmarks[2:4].mean(axis=0)
    assert 0.25 * CROP_SIZE < left_eye[0] < 0.45 * CROP_SIZE
    # Faces below the face-swap minimum are counted as too small, not scored.
    none = from_face_scan(scan, min_face_px=10_000)
    assert none.tracks == [] and "too small" in (none.reason or "")
    with pytest.raises(ValueError):
        from_face_scan(scan_faces(p, ScanOptions(max_seconds=0.5)))


def test_light_scan_follows_faces_only_where_crops_are_taken(photo, tmp_path):
    """``every_frame=False`` (the face-swap CNN alone): observations only on
    detection and colour-crop frames, with the same crops as the full scan."""
    opening = syllables(50, seed=3)
    p = write_talking_video(tmp_path / "l.mp4", photo, (128, 190), 40.0, opening, None)
    full = scan_faces(p, ScanOptions(color_crop_fps=5.0, color_keyframes=False, chip_every_s=None))
    light = scan_faces(p, ScanOptions(color_crop_fps=5.0, color_keyframes=False, chip_every_s=None,
                                      every_frame=False, min_track_frames=1))
    assert len(full.main_track()) == 50
    lt = light.main_track()
    assert [round(o.time_s, 2) for o in lt.observations] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8]
    a = [o.color_crop.astype(int) for o in full.main_track().observations if o.color_crop is not None]
    b = [o.color_crop.astype(int) for o in lt.observations]
    assert len(a) == len(b) and max(float(np.abs(x - y).mean()) for x, y in zip(a, b)) < 8.0


def test_decoding_ahead_gives_the_same_scan(photo, tmp_path):
    """Frames decoded on a second thread (the default) must not change what
    the scan finds: same frames, same landmarks, same crops."""
    opening = syllables(40, seed=5)
    p = write_talking_video(tmp_path / "p.mp4", photo, (128, 190), 40.0, opening, None)
    opts = ScanOptions(color_crop_fps=5.0, chip_every_s=0.5)
    ahead = scan_faces(p, opts)
    inline = scan_faces(p, replace(opts, prefetch_frames=0))
    assert ahead.frames == inline.frames == 40
    a, b = ahead.main_track().observations, inline.main_track().observations
    assert len(a) == len(b) == 40
    assert all(np.array_equal(x.landmarks.points, y.landmarks.points) and np.array_equal(x.crop, y.crop)
               for x, y in zip(a, b))


def test_prefetch_stops_the_decoder_and_passes_errors_on():
    produced: list[int] = []
    stopped = threading.Event()

    def frames():
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            stopped.set()

    got = []
    for i in prefetched(frames, depth=4):
        got.append(i)
        if i == 5:
            break
    assert got == list(range(6))
    assert stopped.is_set() and len(produced) <= 6 + 4 + 2  # the producer stopped, not decoded to the end

    def broken():
        yield 1
        raise FaceScanError("video stream failed to decode")

    with pytest.raises(FaceScanError, match="failed to decode"):
        list(prefetched(broken, depth=2))


def test_landmarks_every_second_frame_are_interpolated_between_predictions(photo, tmp_path):
    """The shared scan predicts landmarks on every 2nd frame: each frame in
    between gets the midpoint of its neighbours (no carried-forward jumps),
    and every frame still has an observation with a mouth crop."""
    p = write_talking_video(tmp_path / "k.mp4", photo, (128, 190), 40.0, syllables(30, seed=7), None)
    scan = scan_faces(p, ScanOptions(chip_every_s=None, landmark_every=2))
    obs = scan.main_track().observations
    assert [o.frame_index for o in obs] == list(range(30)) and all(o.crop is not None for o in obs)
    assert scan.fps == 25.0  # detections (which always predict) at frames 0 and 25
    for i in range(1, 24, 2):
        np.testing.assert_allclose(obs[i].landmarks.points, (obs[i - 1].landmarks.points + obs[i + 1].landmarks.points) / 2)


def test_a_carried_box_stays_in_the_picture():
    """Landmarks on an empty box can push it further each frame; the carried
    box's centre is held inside the picture so it cannot run away."""
    box = FaceBox(100, 100, 200, 200)
    for _ in range(1000):
        box = box.carried(np.array([1e6, -1e6]), 640, 360)
    assert box.center == (640.0, 0.0) and box.width == 100
    assert FaceBox(0, 0, 10, 10).carried(np.array([np.nan, 3.0]), 640, 360).center == (5.0, 8.0)
