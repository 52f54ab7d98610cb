"""The registered detector end to end on encoded mp4 files: a real face
photo (shared media; skipped when absent) with a drawn talking mouth."""

from __future__ import annotations

import numpy as np
import pytest

import detectors.av_sync.detector  # noqa: F401  (registers "av_sync")
from detectors.base import DetectorContext, get_detector
from tests.av_sync.synth import FACE_PHOTO, load_photo, speech_audio, syllables, write_talking_video
from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo

FPS = 25


def media(audio: bool = True) -> MediaInfo:
    streams = [StreamInfo(index=0, kind="video")] + ([StreamInfo(index=1, kind="audio")] if audio else [])
    return MediaInfo(kind=MediaKind.video, mime_type="video/mp4", streams=streams)


# The synthetic "speech" (band noise shaped by the mouth) is not speech to
# Silero, which is the point of Silero; the sync machinery is tested with the
# energy VAD, and the Silero gate on its own below.
SYNTH = {"voice_vad": "energy"}


def ctx(path, tmp_path, audio=True, options=SYNTH) -> DetectorContext:
    return DetectorContext(path=path, media=media(audio), provenance=ProvenanceResult(state=ProvenanceState.absent),
                           artifact_dir=tmp_path / "art", options=dict(options))


@pytest.fixture(scope="module")
def face():
    if not FACE_PHOTO.is_file():
        pytest.skip(f"shared face photo not present at {FACE_PHOTO}")
    from detectors.face_swap.faces import FaceDetector, predict_landmarks

    rgb = load_photo(256)
    box = FaceDetector().detect(rgb)[0]
    lm = predict_landmarks(rgb, box)
    mouth = lm.nose + np.array([0.0, 0.45 * lm.interocular])
    return rgb, (float(mouth[0]), float(mouth[1])), 0.8 * lm.interocular


def test_registered_and_applies_only_with_video_and_audio():
    det = get_detector("av_sync")
    assert det.name == "av_sync" and det.modality == "audiovisual"
    assert len(det.weights_sha256 or "") == 64
    assert det.applies_to(media(True)) and not det.applies_to(media(False))


@pytest.mark.parametrize("k", [0, 5])
def test_encoded_clip_offset(face, tmp_path, k):
    rgb, xy, w = face
    opening = syllables(6 * FPS, seed=11)
    path = write_talking_video(tmp_path / f"talk{k}.mp4", rgb, xy, w, opening, speech_audio(opening, FPS, k, seed=12))
    f = get_detector("av_sync").analyze(ctx(path, tmp_path))
    assert f.applicable, f.reason
    assert f"offset {k:+d} frames" in f.reason, f.reason
    assert f.reason.startswith("offset" if k else "in_sync"), f.reason
    assert f.artifacts and (tmp_path / "art" / "av_sync_curve.png").stat().st_size > 1000
    assert f.llr is not None and np.isfinite(f.llr)


def test_a_faster_frame_rate_does_not_move_the_evidence(face, tmp_path):
    """The same clip with every frame doubled (50 fps) is analysed at 25 fps:
    same offset in the same frames, same Fisher-scale statistic. Before, 50
    fps inflated the statistic by about sqrt(2) and pushed the LLR toward
    "as captured"."""
    from detectors.face_swap.faces import SHARED_VIDEO_SCAN, scan_faces

    rgb, xy, w = face
    opening = syllables(6 * FPS, seed=11)
    audio = speech_audio(opening, FPS, 3, seed=12)
    slow = write_talking_video(tmp_path / "talk25.mp4", rgb, xy, w, opening, audio, fps=FPS)
    fast = write_talking_video(tmp_path / "talk50.mp4", rgb, xy, w, np.repeat(opening, 2), audio, fps=2 * FPS)
    assert scan_faces(fast, SHARED_VIDEO_SCAN).fps == FPS
    f25, f50 = (get_detector("av_sync").analyze(ctx(p, tmp_path)) for p in (slow, fast))
    assert f25.applicable and f50.applicable
    assert "offset +3 frames" in f25.reason and "offset +3 frames" in f50.reason, (f25.reason, f50.reason)
    assert f50.raw_score == pytest.approx(f25.raw_score, rel=0.1) and f50.llr == pytest.approx(f25.llr, abs=0.2)


def test_a_variable_frame_rate_does_not_move_the_evidence(face, tmp_path):
    """The same clip with a quarter of its frames dropped and the others at
    their own times (a phone in poor light, a call recording) keeps its
    offset and most of its sync statistic: the mouth is read on a regular
    grid between the frames that exist. Before, frames either side of a gap
    counted as neighbours: here offset +2 instead of +3 and the statistic
    down by two thirds; a real clip so dropped lost 1.35 in LLR toward
    "substituted"."""
    rgb, xy, w = face
    opening = syllables(8 * FPS, seed=11)
    audio = speech_audio(opening, FPS, 3, seed=12)
    keep = np.random.default_rng(5).random(opening.size) > 0.25
    keep[0] = True
    steady = write_talking_video(tmp_path / "steady.mp4", rgb, xy, w, opening, audio, fps=FPS)
    varying = write_talking_video(tmp_path / "varying.mp4", rgb, xy, w, opening, audio, fps=FPS, keep=keep)
    fs, fv = (get_detector("av_sync").analyze(ctx(p, tmp_path)) for p in (steady, varying))
    assert fs.applicable and fv.applicable
    assert "offset +3 frames" in fs.reason and "offset +3 frames" in fv.reason, (fs.reason, fv.reason)
    assert "frame rate varies" in fv.reason and "frame rate varies" not in fs.reason
    # The drawn mouth correlates almost perfectly (r 0.998), where Fisher's
    # scale is steep: interpolation's small loss (r 0.975) still costs a third.
    assert fv.raw_score > 0.5 * fs.raw_score and fv.llr == pytest.approx(fs.llr, abs=0.3)


def test_a_webcam_at_half_rate_is_judged_by_the_fit_made_at_half_rate(face, tmp_path):
    """12.5-15 fps webcam video has half the frames the statistic was first
    calibrated on: genuine half-rate copies of the shared clips read LLR > 0
    (toward "substituted") in 4 of 5 under the 25/30 fps fit, 0 of 5 under
    the fit made on such copies (evaluate.py, held out by clip)."""
    from fractions import Fraction

    from detectors.av_sync.calibration import load_calibration
    from detectors.av_sync.features import SyncFeatures

    rgb, xy, w = face
    half = Fraction(FPS, 2)
    opening = syllables(int(6 * half), seed=11)
    path = write_talking_video(tmp_path / "webcam.mp4", rgb, xy, w, opening, speech_audio(opening, float(half), 0, seed=12),
                               fps=half)
    f = get_detector("av_sync").analyze(ctx(path, tmp_path))
    assert f.applicable, f.reason
    cal = load_calibration()
    low = cal.for_fps(12.5)
    assert low is not cal and cal.for_fps(25.0) is cal and cal.for_fps(15.0) is low
    assert "half-rate copies (12.5, 15 fps)" in f.validation and "runs at 12.5 fps" in f.reason
    assert f.llr == pytest.approx(low.llr(SyncFeatures(f.raw_score)))
    for z in (4.5, 5.0, 5.5):  # where the genuine half-rate clips read
        assert low.llr(SyncFeatures(z)) < cal.llr(SyncFeatures(z))


def test_a_slideshow_frame_rate_is_not_applicable_with_the_reason(face, tmp_path):
    """5 fps cannot show syllables (3-8 a second). Before, such a clip
    reached the mouth filter, whose band then had no room under Nyquist
    (the fuzzer's "0.00003 fps" MP4 found it: "detector failed: ValueError")."""
    rgb, xy, w = face
    opening = syllables(5 * 6, seed=11)
    path = write_talking_video(tmp_path / "slides.mp4", rgb, xy, w, opening, speech_audio(opening, 5.0, 0, seed=12), fps=5)
    f = get_detector("av_sync").analyze(ctx(path, tmp_path))
    assert not f.applicable
    assert "runs at 5 fps: too few frames per second" in f.reason, f.reason


def test_the_mouth_filter_survives_any_frame_rate():
    from detectors.av_sync.mouth import highpass

    x = np.random.default_rng(0).normal(size=(200, 3))
    for fps in (0.5, 2.0, 2.3, 12.5, 30.0):
        y = highpass(x, fps)
        assert y.shape == x.shape and np.isfinite(y).all()


def _gallery(face, tmp_path, name, left, right, audio):
    """A call recording's gallery: the face and its mirror image side by
    side the whole time, each with its own mouth."""
    rgb, (x, y), w = face
    width = rgb.shape[1]
    gallery = np.hstack([rgb, rgb[:, ::-1]])
    return write_talking_video(tmp_path / name, gallery, (x, y), w, left, audio,
                               more_mouths=(((2 * width - 1 - x, y), w, right),))


def _turn_taking(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two people speaking in turn: left, right, left, right, 3 s each."""
    talk = syllables(n, seed)
    left, right = np.zeros(n), np.zeros(n)
    turn = 3 * FPS
    for k, start in enumerate(range(0, n, turn)):
        (left if k % 2 == 0 else right)[start:start + turn] = talk[start:start + turn]
    return left, right


def test_two_talking_heads_are_judged_on_the_main_face_s_own_turns(face, tmp_path):
    """In a conversation each mouth follows only its own turns; read
    against the whole soundtrack, the main face looked out of sync whenever
    the other person spoke. The turns are read from the lips alone, so
    genuine turn-taking reads in sync and speech laid over the same picture
    leans toward substituted."""
    left, right = _turn_taking(12 * FPS, seed=11)
    genuine = _gallery(face, tmp_path, "talk.mp4", left, right, speech_audio(left + right, FPS, 0, seed=12))
    f = get_detector("av_sync").analyze(ctx(genuine, tmp_path))
    assert f.applicable, f.reason
    assert "2 faces share the screen" in f.reason and "its own turns" in f.reason, f.reason
    assert f.reason.startswith("in_sync") and "offset +0 frames" in f.reason, f.reason
    other_left, other_right = _turn_taking(12 * FPS, seed=21)
    dubbed = _gallery(face, tmp_path, "dubbed.mp4", left, right, speech_audio(other_left + other_right, FPS, 0, seed=12))
    g = get_detector("av_sync").analyze(ctx(dubbed, tmp_path))
    assert g.applicable, g.reason
    assert g.llr > 0 > f.llr, (f.llr, g.llr, g.reason)


def test_two_mouths_moving_together_are_not_read_as_one(face, tmp_path):
    """When both faces' lips move alike nobody holds the turn, so there is
    nothing the main face alone should follow: not applicable, and why."""
    opening = syllables(6 * FPS, seed=11)
    path = _gallery(face, tmp_path, "chorus.mp4", opening, opening, speech_audio(opening, FPS, 0, seed=12))
    f = get_detector("av_sync").analyze(ctx(path, tmp_path))
    assert not f.applicable and f.llr is None
    assert "2 faces share the screen" in f.reason and "no face holds the turn" in f.reason and ", 0.0 s;" in f.reason, f.reason


def test_no_face_is_not_applicable(tmp_path):
    grey = np.full((128, 128, 3), 128, np.uint8)
    opening = syllables(3 * FPS, seed=1)
    path = write_talking_video(tmp_path / "noface.mp4", grey, (64, 64), 0.0, opening * 0, speech_audio(opening, FPS, 0, 2))
    f = get_detector("av_sync").analyze(ctx(path, tmp_path))
    assert not f.applicable and "no face found" in f.reason


def test_silent_audio_is_not_applicable(face, tmp_path):
    rgb, xy, w = face
    opening = syllables(4 * FPS, seed=3)
    path = write_talking_video(tmp_path / "silent.mp4", rgb, xy, w, opening, np.zeros(4 * 16000, np.float32))
    f = get_detector("av_sync").analyze(ctx(path, tmp_path))
    assert not f.applicable and "speech shorter" in f.reason


def test_sound_without_speech_is_not_applicable(face, tmp_path):
    """A talking face over music or noise: Silero finds no speech, so there
    is nothing for the mouth to be in or out of sync with (the energy VAD
    would have called this loud, mouth-shaped noise speech)."""
    rgb, xy, w = face
    opening = syllables(6 * FPS, seed=31)
    path = write_talking_video(tmp_path / "noise.mp4", rgb, xy, w, opening, speech_audio(opening, FPS, 0, seed=32))
    f = get_detector("av_sync").analyze(ctx(path, tmp_path, options={}))
    assert not f.applicable
    assert "silero VAD" in f.reason and "music, noise or silence" in f.reason, f.reason


def test_unknown_vad_option_is_not_applicable_with_the_choices(face, tmp_path):
    rgb, xy, w = face
    opening = syllables(3 * FPS, seed=3)
    path = write_talking_video(tmp_path / "v.mp4", rgb, xy, w, opening, speech_audio(opening, FPS, 0, seed=4))
    f = get_detector("av_sync").analyze(ctx(path, tmp_path, options={"voice_vad": "webrtc"}))
    assert not f.applicable and "auto, silero, energy" in f.reason


def test_through_verify_pipeline(face, tmp_path):
    """The same finding comes out of ``Verifier.verify`` (what the CLI and the
    service call), with the sync-curve artifact under the data dir."""
    import detectors.identity.detector  # noqa: F401
    from verifier.config import Settings
    from verifier.pipeline import Verifier

    rgb, xy, w = face
    opening = syllables(5 * FPS, seed=21)
    path = write_talking_video(tmp_path / "talk.mp4", rgb, xy, w, opening, speech_audio(opening, FPS, -3, seed=22))
    v = Verifier(Settings(data_dir=tmp_path / "data", record_to_ledger=False),
                 detector_names=["av_sync", "face_identity_consistency"], detector_options=SYNTH)
    out = v.verify(path)
    by = {f.detector: f for f in out.findings}
    assert by["av_sync"].applicable and "offset -3 frames" in by["av_sync"].reason, by["av_sync"].reason
    assert by["face_identity_consistency"].applicable, by["face_identity_consistency"].reason
    assert by["face_identity_consistency"].llr < 0
    art = by["av_sync"].artifacts[0]
    png = __import__("pathlib").Path(art.path)
    assert (tmp_path / "data" / "artifacts") in png.parents
    # sealed before the record is signed: its hash is in the record and the file is read-only
    assert art.sha256 == __import__("hashlib").sha256(png.read_bytes()).hexdigest()
    assert not png.stat().st_mode & 0o222
