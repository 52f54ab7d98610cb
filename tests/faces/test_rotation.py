"""Portrait phone video: the pixels are stored on their side and a display
matrix says how to turn them. Every face detector must see the picture as a
player shows it; before this, a rotated clip read as "no face found", which
also let anyone blind the face detectors by rotating pixels and matrix
together."""

from __future__ import annotations

import av
import numpy as np
import pytest

from detectors.face_swap.crops import CropOptions, scan_crops
from detectors.face_swap.faces import FaceDetector, ScanOptions, scan_faces, upright
from tests.faces_swap.helpers import astronaut


def portrait() -> np.ndarray:
    return np.ascontiguousarray(astronaut()[:360, 60:330])  # 270 x 360, the face in the upper half


def write_phone_video(path, picture: np.ndarray, rotation: int, frames: int = 12, fps: int = 10):
    """What a phone writes: the picture turned by -rotation, and the matrix that turns it back."""
    stored = np.ascontiguousarray(np.rot90(picture, -(rotation // 90)))
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.height, vs.width = stored.shape[:2]
        vs.pix_fmt = "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "18"}
        vs.set_display_rotation(rotation)
        for _ in range(frames):
            for packet in vs.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return path, stored


def test_upright_undoes_the_stored_turn():
    pic = np.arange(24, dtype=np.uint8).reshape(4, 6)
    for rotation in (90, -90, 180, 270, 0):
        assert np.array_equal(upright(np.rot90(pic, -(rotation // 90)), rotation), pic)


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_faces_are_found_in_rotated_phone_video(tmp_path, rotation):
    path, stored = write_phone_video(tmp_path / f"phone{rotation}.mp4", portrait(), rotation)
    with av.open(str(path)) as c:
        assert next(c.decode(video=0)).rotation % 360 == rotation % 360  # FFmpeg reads 180 back as -180
    # The control: the stored pixels alone hold no face dlib can find.
    assert FaceDetector("dlib_hog").detect(stored, min_size=40) == []

    scan = scan_faces(path, ScanOptions(detect_every_s=0.5))
    assert scan.reason is None and len(scan.tracks) == 1
    assert (scan.width, scan.height) == (270, 360)  # the picture as shown, not as stored
    crops = scan_crops(path, CropOptions(sample_fps=5.0), as_image=False)
    assert len(crops.tracks) == 1
