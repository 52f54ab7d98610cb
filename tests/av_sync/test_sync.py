"""Lip sync on synthetic talking mouths whose audio offset is known."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.av_sync.envelope import speech_envelope
from detectors.av_sync.evaluate import shift_audio
from detectors.av_sync.features import sync_features
from detectors.av_sync.mouth import mouth_signal
from detectors.av_sync.sync import sync_search
from detectors.face_swap.faces import FaceBox, FaceObservation, FaceTrack, Landmarks5
from tests.av_sync.synth import mouth_crop, speech_audio, syllables

FPS = 25.0


def synthetic_track(opening: np.ndarray, seed: int = 0) -> FaceTrack:
    rng = np.random.default_rng(seed)
    lm = Landmarks5(np.array([[20, 25], [28, 25], [44, 25], [36, 25], [32, 36]], dtype=float))
    return FaceTrack(0, [
        FaceObservation(i, i / FPS, FaceBox(0, 0, 64, 64), lm, True, crop=mouth_crop(o, rng=rng))
        for i, o in enumerate(opening)
    ])


def run(opening: np.ndarray, audio: np.ndarray):
    n = len(opening)
    times = np.arange(n) / FPS
    env = speech_envelope(audio, times, FPS)
    return env, sync_search(mouth_signal(synthetic_track(opening), n, FPS), env.log_energy, env.active, times, FPS)


@pytest.mark.parametrize("k", [-10, -5, -3, 0, 3, 5, 10])
def test_audio_delay_of_k_frames_reads_as_offset_k(k):
    opening = syllables(250, seed=1)
    env, result = run(opening, speech_audio(opening, FPS, k, seed=2))
    assert env.speech_seconds > 3.0
    assert result.offset_frames == k
    assert result.confidence > 0.3
    assert result.agreement > 0.8


def test_substituted_speech_matches_at_no_offset():
    opening = syllables(250, seed=3)
    _, own = run(opening, speech_audio(opening, FPS, 0, seed=4))
    _, other = run(opening, speech_audio(syllables(250, seed=99), FPS, 0, seed=4))
    assert other.confidence < own.confidence / 2


def test_shift_audio_sign_convention():
    x = np.arange(1, 1281, dtype=np.float32)  # 2 frames of 640 samples at 25 fps
    late = shift_audio(x, 1, FPS)
    early = shift_audio(x, -1, FPS)
    assert late[640] == 1.0 and late[:640].sum() == 0
    assert early[0] == 641.0 and early[-640:].sum() == 0


def test_silence_has_no_speech():
    times = np.arange(100) / FPS
    env = speech_envelope(np.zeros(16_000 * 4, np.float32), times, FPS)
    assert env.speech_seconds == 0.0


def test_offset_beyond_tolerance_is_reported_but_not_weighed():
    """The finding names the offset; the LLR sees only how well speech
    matches the mouth, which a pure shift does not change."""
    from detectors.av_sync.detector import _describe

    opening = syllables(250, seed=5)
    _, shifted = run(opening, speech_audio(opening, FPS, 5, seed=6))
    _, aligned = run(opening, speech_audio(opening, FPS, 0, seed=6))
    verdict, reason = _describe(shifted, 1, 0.05, (-12, 11))
    assert verdict == "offset" and "offset +5 frames" in reason and "not weighed" in reason
    a, b = sync_features(shifted).vector(), sync_features(aligned).vector()
    assert np.allclose(a, b, rtol=0.1), (a, b)  # the shift only loses the frames it pushes off the end


@pytest.mark.parametrize("k", [-20, 20])
def test_offset_past_the_calibrated_range_is_read_over_one_second(k):
    """A 0.8 s dubbing slip is named as such; the statistic the likelihood
    ratio reads is exactly the one over the calibrated +-15 frames."""
    from detectors.av_sync.detector import _describe

    opening = syllables(250, seed=7)
    audio = speech_audio(opening, FPS, k, seed=8)
    env, wide = run(opening, audio)
    narrow = sync_search(mouth_signal(synthetic_track(opening), 250, FPS), env.log_energy, env.active,
                         np.arange(250) / FPS, FPS, report_offset=15)
    assert wide.offset_frames == k and wide.beyond_calibrated_range
    assert abs(narrow.offset_frames) <= 15
    np.testing.assert_array_equal(wide.curve.r, narrow.curve.r)
    assert sync_features(wide) == sync_features(narrow)
    verdict, reason = _describe(wide, 1, 0.05, (-12, 11))
    assert verdict == "offset" and f"offset {k:+d} frames, beyond the +-15 frames" in reason
    # Within the calibrated range nothing matches: substitution is suspected, and the far match is named.
    from detectors.av_sync.features import fisher_z, peak_z

    between = (peak_z(wide) + fisher_z(wide.reported.peak, wide.frames_used)) / 2
    verdict, reason = _describe(wide, 1, between, (-12, 11))
    assert verdict == "no_match" and f"best match is at {k:+d} frames" in reason and "out of step or substituted" in reason


@pytest.mark.parametrize("far_noise, expected", [(0.95, 0), (0.4, 20)])
def test_a_far_match_is_read_only_when_clearly_better(far_noise, expected):
    """Mouth features that follow the audio both in sync (noisy) and 20
    frames later: the far match wins only when it beats the in-range one by
    FAR_MARGIN_Z on Fisher's scale, not merely by chance-sized amounts."""
    from detectors.av_sync.mouth import MouthSignal
    from detectors.av_sync.sync import prepare_audio

    rng = np.random.default_rng(11)
    n = 400
    log_energy = rng.normal(-2.0, 0.3, n)
    a = prepare_audio(log_energy, FPS)
    a = (a - a.mean()) / a.std()
    feats = np.stack([a + rng.normal(0, 1.0, n), np.roll(a, -20) + rng.normal(0, far_noise, n)], axis=1)
    mouth = MouthSignal(feats, np.ones(n, bool))
    r = sync_search(mouth, log_energy, np.ones(n, bool), np.arange(n) / FPS, FPS)
    assert r.offset_frames == expected
    assert r.beyond_calibrated_range == (expected == 20)
    assert r.curve.best_offset == 0  # the statistic's own range never moves


def test_shipped_llr_never_claims_more_than_its_calibration_data_supports():
    """However strong or weak the match, the LLR stays inside the bounds set by
    the number of calibration examples (6 originals: at most 6:1 for
    substitution), and a long clip's large peak_z is not extrapolated."""
    from detectors.av_sync.calibration import load_calibration
    from detectors.av_sync.features import SyncFeatures

    cal = load_calibration()
    assert cal.llr_min < 0 < cal.llr_max <= 1.0
    llrs = [cal.llr(SyncFeatures(z)) for z in (0.0, 2.0, 4.5, 8.0, 30.0, 300.0)]
    assert all(cal.llr_min - 1e-9 <= v <= cal.llr_max + 1e-9 for v in llrs)
    assert llrs == sorted(llrs, reverse=True)  # a better match never supports substitution more
    assert cal.llr(SyncFeatures(300.0)) == cal.llr(SyncFeatures(float(cal.feature_max[0])))
