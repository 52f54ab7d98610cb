"""The face claim is judged on the faces that speak (``detectors/identity/speaking.py``)."""

from __future__ import annotations

import pytest

from detectors.identity.claim import FaceCandidate, choose_face
from detectors.identity.speaking import MIN_SPEAKING_LIPS, SPEAKING_LIPS, SPEAKING_SHARE, FaceSpeech
from tests.av_sync.synth import SHARED

PHOTO = FaceCandidate("track 1", 1, 0.25)  # the claimed person's photograph: a close match
IMPOSTOR = FaceCandidate("track 0", 0, 0.85)  # the person talking: not the claimed person


def test_a_still_face_s_match_is_not_counted_when_another_face_speaks():
    chosen, who = choose_face([IMPOSTOR, PHOTO], FaceSpeech({0: 0.6, 1: 0.03}))
    assert chosen is IMPOSTOR
    assert "track 1 is closer" in who and "5 %" in who and "not counted" in who and "0.03 px" in who


def test_the_best_match_decides_when_it_speaks_or_nobody_can_be_told_speaking():
    # The claimed person talks in their turn: lips move like the other speaker's, or clearly on their own.
    assert choose_face([IMPOSTOR, PHOTO], FaceSpeech({0: 0.6, 1: SPEAKING_SHARE * 0.6}))[0] is PHOTO
    assert choose_face([IMPOSTOR, PHOTO], FaceSpeech({0: 1.6, 1: SPEAKING_LIPS}))[0] is PHOTO
    # No face's lips move like speech (two pictures, or nobody on screen talks): the best match.
    assert choose_face([IMPOSTOR, PHOTO], FaceSpeech({0: MIN_SPEAKING_LIPS * 0.9, 1: 0.0}))[0] is PHOTO
    chosen, who = choose_face([IMPOSTOR, PHOTO], "no sound")
    assert chosen is PHOTO and "no sound" in who
    assert choose_face([IMPOSTOR], FaceSpeech({0: 0.6}))[1] == "the main face"


CLIPS = SHARED / "media/video/liveportrait/assets/examples/driving"


def test_a_photo_of_the_claimed_person_beside_a_talking_impostor_does_not_match(tmp_path):
    """Red team, session 24: a still of the CFO pasted beside the impostor's talking face turned
    "does not match" (LLR +4) into "matches". Built as ``photo_eval`` builds its attacks."""
    if not (CLIPS / "d10.mp4").is_file() or not (CLIPS / "d11.mp4").is_file():
        pytest.skip("shared talking-head clips not present")
    import numpy as np

    from detectors.av_sync.gallery_eval import write_mp4
    from detectors.base import DetectorContext
    from detectors.identity.claim import FaceIdentityClaimDetector
    from detectors.identity.photo_eval import attack_frames, reference_of, still_at
    from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo

    impostor, claimed = CLIPS / "d10.mp4", CLIPS / "d11.mp4"
    frames, sound = attack_frames(impostor, still_at(claimed, 5.0), "frozen", np.random.default_rng(0))
    path = write_mp4(tmp_path / "call.mp4", frames, sound)
    media = MediaInfo(kind=MediaKind.video, mime_type="video/mp4",
                      streams=[StreamInfo(index=0, kind="video"), StreamInfo(index=1, kind="audio")])
    ctx = DetectorContext(path=path, media=media, provenance=ProvenanceResult(state=ProvenanceState.absent))
    det = FaceIdentityClaimDetector()
    cfo = det.judge(ctx, reference_of(still_at(claimed, 1.0), "CFO"))
    assert not isinstance(cfo, str) and len(cfo.faces) == 2
    photo = min(cfo.faces, key=lambda f: f.distance)
    assert photo.distance < 0.4 < cfo.chosen.distance  # the photo matches; the speaker is judged, and does not
    assert "not counted" in cfo.who
    # The impostor claimed as themselves still matches: the speaking face is theirs.
    own = det.judge(ctx, reference_of(still_at(impostor, 1.0), "Impostor"))
    assert not isinstance(own, str) and own.chosen.distance < 0.4 and "not counted" not in own.who
