"""The face claim is judged on the faces that speak (``detectors/identity/speaking.py``)."""

from __future__ import annotations

import pytest

from detectors.identity.claim import FaceCandidate, choose_face
from detectors.identity.speaking import MIN_SPEAKING_LIPS, SPEAKING_LIPS, SPEAKING_SHARE, FaceSpeech, SpeakerUnknown
from tests.av_sync.synth import SHARED

PHOTO = FaceCandidate("track 1", 1, 0.25)  # the claimed person's photograph: a close match
IMPOSTOR = FaceCandidate("track 0", 0, 0.85)  # the person talking: not the claimed person


def test_a_closer_face_that_does_not_speak_is_not_counted():
    chosen, who = choose_face([IMPOSTOR, PHOTO], FaceSpeech({0: 0.6, 1: 0.03}))
    assert chosen is IMPOSTOR and "track 1 is closer" in who and "not counted" in who and "0.03 px" in who


def test_the_best_match_decides_among_the_faces_that_speak():
    # The claimed person talks in their turn: lips move like the other speaker's, or clearly on their own.
    assert choose_face([IMPOSTOR, PHOTO], FaceSpeech({0: 0.6, 1: SPEAKING_SHARE * 0.6}))[0] is PHOTO
    assert choose_face([IMPOSTOR, PHOTO], FaceSpeech({0: 1.6, 1: SPEAKING_LIPS}))[0] is PHOTO
    assert choose_face([PHOTO], FaceSpeech({1: 0.5})) == (PHOTO, "the main face")


def test_with_speech_and_no_face_speaking_the_claim_is_not_judged():
    """Round 2: an impostor too small to count, hidden or off screen left the photo as the only face judged,
    and it matched; at 8 fps the best match decided again."""
    for lips in ({1: 0.0}, {1: MIN_SPEAKING_LIPS * 0.9}, {0: MIN_SPEAKING_LIPS * 0.9, 1: 0.01}):
        faces = [f for f in (IMPOSTOR, PHOTO) if f.track_id in lips]
        why = choose_face(faces, FaceSpeech(lips))  # a picture alone is not its own yardstick
        assert isinstance(why, str) and "no face shown moves its lips" in why and "not judged" in why
    why = choose_face([IMPOSTOR, PHOTO], SpeakerUnknown("the video runs at 8 fps"))
    assert isinstance(why, str) and "8 fps" in why


def test_without_speech_the_best_match_decides():
    chosen, who = choose_face([IMPOSTOR, PHOTO], "no sound")
    assert chosen is PHOTO and "no sound" in who
    assert choose_face([PHOTO], None) == (PHOTO, "the main face")


def test_a_face_hidden_for_a_few_frames_does_not_read_as_speaking():
    """Round 2: a still photo that blinked off for two 3-frame gaps read 0.27 px of lip motion (each gap a
    step in the cumulative opening) and counted as speaking. Frames near a jump of the crop are left out."""
    import numpy as np

    from detectors.face_swap.faces import FaceBox, FaceObservation, FaceTrack, Landmarks5
    from detectors.identity.speaking import UNSTEADY_MARGIN_S, unsteady

    face = np.full((64, 64), 120, np.uint8)
    face[::2] = 124  # a little texture: consecutive crops of a still face differ by under a grey level
    blank = np.zeros((64, 64), np.uint8)
    box = FaceBox(0, 0, 64, 64)
    marks = np.zeros((5, 2))
    track = FaceTrack(0, [FaceObservation(i, i / 25, box, Landmarks5(marks), True, crop=blank if 60 <= i < 63 else face)
                          for i in range(200)])

    class Scan:
        frames = 200

    class Frames:
        fps, grid = 25.0, None

    out = unsteady(track, Scan(), Frames(), 200)
    margin = int(round(UNSTEADY_MARGIN_S * 25))
    assert out[60 - margin:63 + margin].all() and out[:margin].all() and out[-margin:].all()
    assert not out[100:150].any()


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


def test_lip_motion_is_read_over_the_best_stretch_of_speech_and_not_from_a_glimpse():
    import numpy as np

    from detectors.identity.speaking import most_over_speech

    quiet = np.full(250, 0.02)  # 10 s at 25 fps: listening
    quiet[100:150] = 0.5  # a 2 s turn of its own
    assert most_over_speech(quiet, 25.0) == pytest.approx(0.5, abs=0.01)
    assert most_over_speech(np.full(30, 0.5), 25.0) == 0.0  # seen steadily for 1.2 s of speech: no reading
