"""Enrolment round trip on shared face photos (skipped when absent)."""

from __future__ import annotations

import pytest

from detectors.identity.enroll import EnrolmentError, ReferenceStore, UnknownPersonError, claim_distance
from tests.av_sync.synth import SHARED

GFP = SHARED / "media/image/gfpgan/inputs/cropped_faces"


def test_enrol_and_compare(tmp_path):
    if not (GFP / "Julia_Roberts_crop.png").is_file():
        pytest.skip("shared face photos not present")
    store = ReferenceStore(tmp_path / "refs")
    ref = store.enroll("Julia Roberts", [GFP / "Julia_Roberts_crop.png"])
    assert ref.embeddings.shape == (1, 128)
    again = store.load("Julia Roberts")
    assert again.photo_sha256 == ref.photo_sha256
    other = store.enroll("Adele", [GFP / "Adele_crop.png"])
    assert claim_distance(other.embeddings, again) > 0.5  # a different person is not the claimed one
    assert claim_distance(ref.embeddings, again) < 0.01
    with pytest.raises(UnknownPersonError):
        store.load("Nobody")
    with pytest.raises(EnrolmentError, match="invalid person name"):
        store.load("../etc/passwd")


def test_claim_detector_on_video(tmp_path):
    if not (GFP / "Julia_Roberts_crop.png").is_file():
        pytest.skip("shared face photos not present")
    import numpy as np

    import detectors.identity.claim  # noqa: F401
    from detectors.base import DetectorContext, get_detector
    from tests.av_sync.synth import load_photo, write_talking_video
    from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo

    store = ReferenceStore(tmp_path / "refs")
    store.enroll("Julia Roberts", [GFP / "Julia_Roberts_crop.png"])
    store.enroll("Adele", [GFP / "Adele_crop.png"])
    p = write_talking_video(tmp_path / "jr.mp4", load_photo(256), (0, 0), 0.0, np.zeros(75), None)
    media = MediaInfo(kind=MediaKind.video, mime_type="video/mp4", streams=[StreamInfo(index=0, kind="video")])
    det = get_detector("face_identity_claim")

    def run(options):
        return det.analyze(DetectorContext(path=p, media=media, provenance=ProvenanceResult(state=ProvenanceState.absent),
                                           options=options))

    assert not run({}).applicable
    same = run({"claimed_person": "Julia Roberts", "reference_dir": str(tmp_path / "refs")})
    other = run({"claimed_person": "Adele", "reference_dir": str(tmp_path / "refs")})
    assert same.applicable and other.applicable
    assert same.llr < 0 < other.llr
    assert "does not match" in other.reason and "matches" in same.reason
    missing = run({"claimed_person": "Nobody", "reference_dir": str(tmp_path / "refs")})
    assert not missing.applicable and "no reference enrolled" in missing.reason


def test_a_bad_name_is_refused_before_any_photo_is_read(tmp_path):
    with pytest.raises(EnrolmentError, match="invalid person name"):
        ReferenceStore(tmp_path / "refs").enroll("", [tmp_path / "missing.jpg"])
