"""The face_swap detector: findings, not-applicable reasons, artifacts."""

from pathlib import Path

import numpy as np
from PIL import Image

from detectors.base import DetectorContext, registered
from detectors.face_swap.detector import FaceSwapDetector, FaceSwapOptions
from tests.faces_swap.helpers import CLIP, astronaut, need, tiny_bundle
from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo

PROV = ProvenanceResult(state=ProvenanceState.absent)


def _ctx(path: Path, kind: MediaKind, art: Path | None, **opts: str) -> DetectorContext:
    streams = [StreamInfo(index=0, kind="video")] if kind == MediaKind.video else []
    media = MediaInfo(kind=kind, mime_type="video/mp4" if kind == MediaKind.video else "image/png", streams=streams)
    return DetectorContext(path=path, media=media, provenance=PROV, artifact_dir=art, options=dict(opts))


def test_applies_to_video_and_images_only() -> None:
    d = FaceSwapDetector()
    assert d.applies_to(MediaInfo(kind=MediaKind.image, mime_type="image/jpeg"))
    assert d.applies_to(MediaInfo(kind=MediaKind.video, mime_type="video/mp4", streams=[StreamInfo(index=0, kind="video")]))
    assert not d.applies_to(MediaInfo(kind=MediaKind.audio, mime_type="audio/wav"))
    assert not d.applies_to(MediaInfo(kind=MediaKind.video, mime_type="video/mp4", streams=[StreamInfo(index=0, kind="audio")]))


def test_no_face_is_not_applicable_with_a_reason(tmp_path: Path) -> None:
    p = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(p)
    w = tiny_bundle(tmp_path / "m.pt")
    f = FaceSwapDetector().analyze(_ctx(p, MediaKind.image, tmp_path / "art", weights=str(w)))
    assert not f.applicable and "no face" in f.reason and f.llr is None


def test_tiny_face_is_not_applicable(tmp_path: Path) -> None:
    img = astronaut()
    small = np.asarray(Image.fromarray(img).resize((128, 128)))
    canvas = np.zeros((400, 400, 3), np.uint8)
    canvas[100:228, 100:228] = small
    p = tmp_path / "small.png"
    Image.fromarray(canvas).save(p)
    f = FaceSwapDetector().analyze(_ctx(p, MediaKind.image, None, weights=str(tiny_bundle(tmp_path / "m.pt")), min_face_px="64"))
    assert not f.applicable and ("too small" in f.reason or "no face" in f.reason)


def test_bad_option_is_reported_not_raised(tmp_path: Path) -> None:
    f = FaceSwapDetector().analyze(_ctx(tmp_path / "x.png", MediaKind.image, None, sample_fps="fast"))
    assert not f.applicable and "sample_fps" in f.reason
    assert FaceSwapOptions.from_strings({"keyframes": "0"}).keyframes is False


def test_image_is_a_one_frame_video(tmp_path: Path) -> None:
    p = tmp_path / "0f3a9c"  # the evidence store names originals by hash, without a suffix
    Image.fromarray(astronaut()).save(p, format="PNG")
    f = FaceSwapDetector().analyze(_ctx(p, MediaKind.image, tmp_path / "art", weights=str(tiny_bundle(tmp_path / "m.pt"))))
    assert f.applicable and f.llr is not None and f.segments and f.segments[0].label.startswith("track")
    kinds = {a.kind for a in f.artifacts}
    assert kinds == {"heatmap", "contact_sheet"} and all(Path(a.path).is_file() for a in f.artifacts)


def test_video_timeline_and_registry(tmp_path: Path) -> None:
    clip = need(CLIP)
    w = tiny_bundle(tmp_path / "m.pt")
    with registered("face_swap_test", FaceSwapDetector):
        from detectors.base import get_detector

        det = get_detector("face_swap_test")
    f = det.analyze(_ctx(clip, MediaKind.video, tmp_path / "art", weights=str(w), max_seconds="3", heatmaps="2"))
    assert f.applicable and f.modality == "video" and f.weights_sha256 and len(f.weights_sha256) == 64
    assert "track" in f.reason and " s" in f.reason
    assert len(f.segments) >= 2 and all(s.end_s >= s.start_s for s in f.segments)
    assert sum(a.kind == "heatmap" for a in f.artifacts) == 2


def test_video_detectors_share_one_decode(tmp_path: Path, monkeypatch) -> None:
    """face_swap, av_sync and face_identity_consistency on one video: the
    frames are decoded once (the shared scan), not once per detector."""
    clip = need(CLIP)
    from detectors.face_swap import faces
    from verifier.config import Settings
    from verifier.pipeline import Verifier

    calls: list[str] = []
    real = faces.scan_faces

    def counting(path, options=faces.ScanOptions(), on_frame=None):
        calls.append(str(path))
        return real(path, options, on_frame)

    monkeypatch.setattr(faces, "scan_faces", counting)
    faces._cached.cache_clear()
    v = Verifier(Settings(data_dir=tmp_path / "d", record_to_ledger=False),
                 detector_names=["face_swap", "av_sync", "face_identity_consistency"])
    out = v.verify(clip)
    faces._cached.cache_clear()
    by_name = {f.detector: f for f in out.findings}
    assert set(by_name) == {"face_swap", "av_sync", "face_identity_consistency"}
    assert by_name["face_swap"].applicable and by_name["face_identity_consistency"].applicable
    assert len(calls) == 1
