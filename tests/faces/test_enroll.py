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


def _gallery(big: str, small: str, small_px: int):
    """Two people side by side, ``big`` at 256 px and ``small`` at ``small_px``."""
    import cv2
    import numpy as np

    def face(name, px):
        rgb = cv2.cvtColor(cv2.imread(str(GFP / f"{name}_crop.png")), cv2.COLOR_BGR2RGB)
        return cv2.resize(rgb, (px, px), interpolation=cv2.INTER_AREA)

    canvas = np.full((256, 256 + 256, 3), 200, np.uint8)
    canvas[:, :256] = face(big, 256)
    top = (256 - small_px) // 2
    canvas[top:top + small_px, 256 + (256 - small_px) // 2:256 + (256 - small_px) // 2 + small_px] = face(small, small_px)
    return canvas


@pytest.mark.parametrize("kind", ["image", "video"])
def test_claimed_person_beside_a_larger_face_is_found(tmp_path, kind):
    """A call recording's gallery: the claimed person is the smaller of two
    faces. Every prominent face is compared and the best match decides;
    before, only the largest face was, and a genuine gallery read "does not
    match" (LLR +4)."""
    if not (GFP / "Julia_Roberts_crop.png").is_file():
        pytest.skip("shared face photos not present")
    import cv2
    import numpy as np

    import detectors.identity.claim  # noqa: F401
    from detectors.base import DetectorContext, get_detector
    from tests.av_sync.synth import write_talking_video
    from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo

    store = ReferenceStore(tmp_path / "refs")
    for name in ("Julia Roberts", "Paris Hilton"):
        store.enroll(name, [GFP / f"{name.replace(' ', '_')}_crop.png"])

    def run(canvas, person):
        if kind == "image":
            p = tmp_path / "gallery.png"
            cv2.imwrite(str(p), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
            media = MediaInfo(kind=MediaKind.image, mime_type="image/png", streams=[StreamInfo(index=0, kind="video")])
        else:
            p = write_talking_video(tmp_path / "gallery.mp4", canvas, (0, 0), 0.0, np.zeros(75), None)
            media = MediaInfo(kind=MediaKind.video, mime_type="video/mp4", streams=[StreamInfo(index=0, kind="video")])
        return get_detector("face_identity_claim").analyze(DetectorContext(
            path=p, media=media, provenance=ProvenanceResult(state=ProvenanceState.absent),
            options={"claimed_person": person, "reference_dir": str(tmp_path / "refs")}))

    shown = _gallery("Adele", "Julia_Roberts", 200)
    julia, paris = run(shown, "Julia Roberts"), run(shown, "Paris Hilton")
    assert julia.applicable and julia.llr < 0 and "best match of the 2 faces" in julia.reason, julia.reason
    assert paris.applicable and paris.llr > 0 and "does not match" in paris.reason
    # A face under half the size of the main one is background: it cannot lend a match.
    from detectors.identity.embeddings import find_faces

    small = _gallery("Adele", "Julia_Roberts", 96)
    assert len(find_faces(small)) == 2  # the small face is seen (box 72 px against 149 px) ...
    background = run(small, "Julia Roberts")
    assert background.applicable and background.llr > 0, background.reason  # ... and left out
