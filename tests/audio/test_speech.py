"""One decode and one VAD per stored file, shared by the detectors that need speech."""

import os

import numpy as np
import pytest

from audio.speech import clear_cache, speech_track, vad_backend
from tests.audio.helpers import voiced, write_wav


def _file(tmp_path, seconds_silence=1.0):
    x = np.concatenate([np.zeros(int(16000 * seconds_silence)), voiced(2.0, 16000)]).astype(np.float32)
    return write_wav(tmp_path / "a.wav", x, 16000)


def test_second_call_is_served_from_the_cache(tmp_path):
    clear_cache()
    p = _file(tmp_path)
    a = speech_track(p, "energy")
    assert speech_track(p, "energy") is a
    assert a.vad.backend == "energy" and a.vad.speech_s == pytest.approx(2.0, abs=0.2)


def test_a_rewritten_file_is_read_again(tmp_path):
    clear_cache()
    p = _file(tmp_path, 1.0)
    first = speech_track(p, "energy")
    _file(tmp_path, 3.0)
    os.utime(p, ns=(os.stat(p).st_atime_ns, os.stat(p).st_mtime_ns + 1_000_000))
    second = speech_track(p, "energy")
    assert second is not first and second.audio.duration_s == pytest.approx(5.0, abs=0.05)


def test_vad_option_is_checked():
    assert vad_backend({}) == "auto" and vad_backend({"voice_vad": "energy"}) == "energy"
    with pytest.raises(ValueError, match="auto, silero, energy"):
        vad_backend({"voice_vad": "webrtc"})


def test_missing_file_is_a_decode_error(tmp_path):
    from audio.decode import AudioDecodeError

    with pytest.raises(AudioDecodeError, match="cannot read the file"):
        speech_track(tmp_path / "gone.wav")
