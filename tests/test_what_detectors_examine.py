"""What the detectors examine, and what the record says they did not.

Files with several video or audio streams: every detector judges the stream
a player presents (FFmpeg's best stream, default-flagged first), not
whichever the writer put first, and the record says that others went
unexamined. Before, a 64x64 decoy track placed first hid a clip's real video
from every face detector. Long videos: the scans' time guard is stated in
every video finding, so a manipulation placed after it cannot pass as
examined and clean. (Rotated phone video: tests/faces/test_rotation.py.)"""

from __future__ import annotations

import json

import av
import numpy as np

from audio.decode import decode_audio
from detectors.base import DetectorContext
from detectors.face_swap.detector import FaceSwapDetector
from detectors.face_swap.faces import ScanOptions, scan_faces
from tests.audio.helpers import mux_audio
from tests.conftest import assert_no_traceback, run_cli
from tests.faces.test_rotation import portrait, write_phone_video
from tests.faces_swap.helpers import tiny_bundle
from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo


def write_with_decoy_video(path, picture: np.ndarray, frames: int = 12, fps: int = 10):
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        decoy = out.add_stream("libx264", rate=fps)
        decoy.width = decoy.height = 64
        real = out.add_stream("libx264", rate=fps)
        real.height, real.width = picture.shape[:2]
        for s in (decoy, real):
            s.pix_fmt = "yuv420p"
            s.options = {"preset": "ultrafast"}
        decoy.disposition = av.stream.Disposition(0)
        real.disposition = av.stream.Disposition.default
        for _ in range(frames):
            noise = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
            for s, img in ((decoy, noise), (real, picture)):
                for packet in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                    out.mux(packet)
        for s in (decoy, real):
            for packet in s.encode():
                out.mux(packet)
    return path


def write_with_two_audio_tracks(path, seconds: float = 1.0, rate: int = 16000):
    """Track 0 silent, track 1 (default) a 440 Hz tone."""
    t = np.arange(int(seconds * rate)) / rate
    with av.open(str(path), "w", format="matroska") as out:
        tracks = [out.add_stream("pcm_f32le", rate=rate) for _ in range(2)]
        tracks[0].disposition = av.stream.Disposition(0)
        tracks[1].disposition = av.stream.Disposition.default
        for s in tracks:
            s.layout = "mono"
        for s, x in zip(tracks, (np.zeros_like(t), 0.5 * np.sin(2 * np.pi * 440 * t))):
            mux_audio(out, s, x[None, :], "mono", rate)
    return path


def test_faces_are_read_from_the_presented_video_stream(tmp_path, data_dir):
    p = write_with_decoy_video(tmp_path / "decoy.mp4", portrait())
    scan = scan_faces(p, ScanOptions(detect_every_s=0.5))
    assert scan.reason is None and len(scan.tracks) == 1 and (scan.width, scan.height) == (270, 360)

    r = run_cli("verify", "--json", "--no-ledger", "--detectors", "face_swap", str(p), data_dir=data_dir, timeout=180)
    assert_no_traceback(r)
    doc = json.loads(r.stdout)
    assert [(s["index"], s["presented"]) for s in doc["media"]["streams"]] == [(0, False), (1, True)]
    assert "unexamined_video_streams" in doc["verdict"]["reasons"]
    (finding,) = doc["findings"]
    assert finding["applicable"] is True, finding["reason"]


def test_audio_is_decoded_from_the_presented_track(tmp_path):
    p = write_with_two_audio_tracks(tmp_path / "two.mka")
    dec = decode_audio(p)
    assert dec.stream_index == 1 and float(np.abs(dec.samples).max()) > 0.3
    assert decode_audio(p, stream_index=0).samples.max() == 0.0  # asking for a track by index still works


def test_the_time_guard_is_stated_in_the_finding(tmp_path):
    path, _ = write_phone_video(tmp_path / "long.mp4", portrait(), 0, frames=15, fps=10)  # 1.5 s
    cut = scan_faces(path, ScanOptions(detect_every_s=0.5, max_seconds=0.6))
    assert cut.stopped_at_s == 0.6 and cut.frame_times.max() <= 0.6
    assert scan_faces(path, ScanOptions(detect_every_s=0.5)).stopped_at_s is None

    media = MediaInfo(kind=MediaKind.video, mime_type="video/mp4", streams=[StreamInfo(index=0, kind="video")])
    ctx = DetectorContext(path=path, media=media, provenance=ProvenanceResult(state=ProvenanceState.absent),
                          options={"max_seconds": "0.6", "weights": str(tiny_bundle(tmp_path / "m.pt")), "heatmaps": "0"})
    f = FaceSwapDetector().analyze(ctx)
    assert f.applicable and "only the first 0.6 s of the video were examined (time guard)" in f.reason
    ctx = DetectorContext(path=path, media=media, provenance=ctx.provenance, options={**ctx.options, "max_seconds": "5"})
    assert "time guard" not in FaceSwapDetector().analyze(ctx).reason


def test_a_photo_with_extra_picture_streams_is_not_flagged_as_unexamined():
    """A HEIC photo holds its thumbnail and tiles as further picture streams."""
    two = [StreamInfo(index=0, kind="video", presented=True), StreamInfo(index=1, kind="video")]
    assert MediaInfo(kind=MediaKind.image, mime_type="image/heic", streams=two).unexamined_streams("video") == 0
    assert MediaInfo(kind=MediaKind.video, mime_type="video/mp4", streams=two).unexamined_streams("video") == 1
