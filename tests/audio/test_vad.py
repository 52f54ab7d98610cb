import numpy as np
import pytest

from audio.decode import decode_audio
from audio.vad import detect_speech, energy_vad, trim_silence
from tests.audio.helpers import real_speech_files, voiced


def _scene(rate=16000, seed=0):
    rng = np.random.default_rng(seed)
    parts = [np.zeros(rate), voiced(1.5, rate), np.zeros(rate), voiced(1.0, rate, f0=200), np.zeros(rate // 2)]
    x = np.concatenate(parts)
    return (x + 0.001 * rng.standard_normal(x.size)).astype(np.float32)


def test_energy_vad_finds_the_two_bursts():
    segs = energy_vad(_scene(), 16000)
    assert len(segs) == 2
    assert segs[0].start_s == pytest.approx(1.0, abs=0.1) and segs[0].end_s == pytest.approx(2.5, abs=0.1)
    assert segs[1].start_s == pytest.approx(3.5, abs=0.1) and segs[1].end_s == pytest.approx(4.5, abs=0.1)


def test_silence_and_noise_have_no_speech():
    rng = np.random.default_rng(1)
    assert energy_vad(np.zeros(32000, np.float32), 16000) == []
    assert energy_vad((0.01 * rng.standard_normal(32000)).astype(np.float32), 16000) == []


def test_trim_silence_cuts_both_ends():
    y = trim_silence(_scene(), 16000, keep_ms=100)
    # speech 1.0-4.5 s, plus the VAD pad (60 ms) and the kept margin (100 ms) at each end
    assert len(y) / 16000 == pytest.approx(3.5 + 2 * 0.06 + 2 * 0.1, abs=0.05)


def test_auto_backend_reports_itself():
    r = detect_speech(_scene(), 16000, backend="auto")
    assert r.backend in {"silero", "energy"}


@pytest.mark.parametrize("path", real_speech_files(2), ids=lambda p: p.name)
def test_real_speech_is_mostly_speech(path):
    d = decode_audio(path, max_duration_s=60)
    for backend in ("energy", "silero"):
        try:
            r = detect_speech(d.samples, d.sample_rate, backend=backend)
        except Exception as exc:  # silero optional
            pytest.skip(f"{backend}: {exc}")
        assert r.speech_s > 0.4 * d.duration_s, (backend, r.speech_s, d.duration_s)


def test_a_decline_for_want_of_speech_warns_when_there_is_sound_to_hear():
    """Synthetic speech can fall outside the Silero VAD (19 of 23 GAN-vocoded
    calls in splice_eval): a decline then says sound is there to listen to."""
    from audio.speech import unrecognised_sound_note
    from audio.vad import SpeechSegment, VadResult

    rate = 16000
    t = np.arange(8 * rate) / rate
    beeps = (0.3 * np.sin(2 * np.pi * 1000 * t) * (np.floor(t / 0.5) % 2 == 0)).astype(np.float32)
    heard_nothing = VadResult([], "silero")
    assert "did not recognise as speech" in unrecognised_sound_note(beeps, rate, heard_nothing)
    assert unrecognised_sound_note(beeps[: 2 * rate], rate, heard_nothing) == ""  # too little sound to matter
    assert unrecognised_sound_note(np.zeros(8 * rate, np.float32), rate, heard_nothing) == ""  # silence
    assert unrecognised_sound_note(beeps, rate, VadResult([SpeechSegment(0, 8)], "energy")) == ""  # not Silero's call


def test_speech_turned_down_to_minus_66_dbfs_is_still_found():
    """Both VADs called quiet speech silence, so a forger only had to turn the
    clone down; the VAD now hears quiet files brought up (the models do not)."""
    from audio.speech import VAD_QUIET, level_for_vad
    from audio.vad import detect_speech
    from tests.audio.helpers import voiced

    x = voiced(3.0, 16000, f0=140, seed=3)
    x = (0.9 * x / np.abs(x).max()).astype(np.float32)
    quiet = (x * 0.0005).astype(np.float32)  # peak -67 dBFS
    assert detect_speech(quiet, 16000, "energy").speech_s == 0.0  # what happened before
    assert detect_speech(level_for_vad(quiet), 16000, "energy").speech_s > 2.0
    assert level_for_vad(x) is x  # ordinary levels untouched
    assert not level_for_vad(np.zeros(16000, np.float32)).any()  # digital silence stays silence
    assert np.abs(level_for_vad((x * VAD_QUIET * 2).astype(np.float32))).max() <= VAD_QUIET * 2  # above the threshold: untouched
