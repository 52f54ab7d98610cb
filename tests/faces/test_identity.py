"""Identity consistency: score math on synthetic embeddings, and the
registered detector on an encoded clip of a real photo (skipped without the
shared media)."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.identity.consistency import TrackEmbeddings, track_consistency
from tests.av_sync.synth import FACE_PHOTO, load_photo, write_talking_video


def _track(n: int, switch: slice | None = None, seed: int = 0) -> TrackEmbeddings:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=128), rng.normal(size=128)
    a, b = 0.9 * a / np.linalg.norm(a), 0.9 * b / np.linalg.norm(b)
    v = a + rng.normal(0, 0.02, (n, 128))
    if switch is not None:
        v[switch] = b + rng.normal(0, 0.02, (len(range(*switch.indices(n))), 128))
    return TrackEmbeddings(0, np.arange(n) * 0.5, v)


def test_stable_identity_scores_low_and_switch_scores_high():
    stable = track_consistency(_track(20))
    switched = track_consistency(_track(20, slice(7, 13)))
    assert stable.score < 0.35
    assert switched.score > 0.9
    spans = switched.outlier_spans(0.6, 0.5)
    assert spans == [(3.5, 6.5, pytest.approx(switched.distances[7:13].max()))]


def test_one_bad_chip_does_not_decide():
    one = track_consistency(_track(20, slice(5, 6)))
    assert one.score < 0.35  # the 0.9 quantile ignores a single outlier


def test_detector_on_real_face_clip(tmp_path):
    if not FACE_PHOTO.is_file():
        pytest.skip(f"shared face photo not present at {FACE_PHOTO}")
    import detectors.identity.detector  # noqa: F401
    from detectors.base import DetectorContext, get_detector
    from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo

    p = write_talking_video(tmp_path / "still.mp4", load_photo(256), (0, 0), 0.0, np.zeros(150), None)
    media = MediaInfo(kind=MediaKind.video, mime_type="video/mp4", streams=[StreamInfo(index=0, kind="video")])
    det = get_detector("face_identity_consistency")
    assert det.applies_to(media) and len(det.weights_sha256) == 64
    f = det.analyze(DetectorContext(path=p, media=media, provenance=ProvenanceResult(state=ProvenanceState.absent)))
    assert f.applicable, f.reason
    assert f.raw_score < 0.2 and f.llr < 0  # one still face: the same identity throughout
    assert f.segments == []
    # ... which a pasted face swap shows as well: steadiness may not clear a file
    from verifier.fusion import PROFILES, fuse

    verdict = fuse(ProvenanceResult(state=ProvenanceState.absent), MediaInfo(kind=MediaKind.video, mime_type="video/mp4"),
                   [f], PROFILES["finance"])
    assert verdict.label.value == "inconclusive" and "face_identity_consistency:match_not_counted" in verdict.reasons
