"""`verifier enroll NAME FILE...` and `verify --claimed-speaker NAME` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import assert_no_traceback, run_cli
from tests.speaker.speech_data import fsdd_wav, write_wav


def test_verify_with_an_unknown_speaker_is_an_input_error(media_fixtures, data_dir):
    r = run_cli("verify", "--no-ledger", "--claimed-speaker", "Nobody", str(media_fixtures[1]["png"]["plain"]), data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 2 and "no voice reference enrolled for 'Nobody'" in r.stderr


@pytest.mark.slow
def test_enrol_refuses_a_recording_with_too_little_speech(tmp_path, data_dir):
    short = write_wav(tmp_path / "beep.wav", (0.3 * np.sin(np.arange(8000) * 0.2)).astype(np.float32))
    r = run_cli("enroll", "Jane Doe", str(short), data_dir=data_dir, timeout=120)
    assert_no_traceback(r)
    assert r.code == 2 and "of speech found" in r.stderr and "at least 3 s" in r.stderr
    assert not (data_dir / "references" / "voices").exists() or not any((data_dir / "references" / "voices").iterdir())


def test_enrol_needs_a_reference_and_rejects_non_media(tmp_path, data_dir):
    r = run_cli("enroll", "Jane Doe", data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 2 and "give at least one reference" in r.stderr
    txt = tmp_path / "notes.txt"
    txt.write_text("not media")
    r = run_cli("enroll", "Jane Doe", str(txt), data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 2 and "not a recognised" in r.stderr


@pytest.mark.slow
def test_enrol_then_verify_same_and_other_speaker(tmp_path, data_dir, media_fixtures):
    enrol = fsdd_wav(tmp_path, "jackson", range(0, 3))
    r = run_cli("enroll", "Jackson", str(enrol), data_dir=data_dir, timeout=180)
    assert r.code == 0, r.stderr
    assert "1 reference voice recording(s)" in r.stdout
    r = run_cli("enroll", "Nicolas", "--voice", str(fsdd_wav(tmp_path, "nicolas", range(0, 3))), data_dir=data_dir, timeout=180)
    assert r.code == 0, r.stderr

    def verify(path, *extra):
        r = run_cli("verify", "--json", "--no-ledger", "--claimed-speaker", "Jackson", *extra, str(path), data_dir=data_dir, timeout=240)
        assert_no_traceback(r)
        return {f["detector"]: f for f in json.loads(r.stdout)["findings"]}

    same = verify(fsdd_wav(tmp_path, "jackson", range(3, 5)))["speaker_claim"]
    other = verify(fsdd_wav(tmp_path, "nicolas", range(3, 5)))["speaker_claim"]
    assert same["applicable"] and other["applicable"]
    assert same["llr"] < 0 < other["llr"]
    # only a voice is enrolled: a face claim about Jackson is refused before anything is verified
    r = run_cli("verify", "--no-ledger", "--claimed-person", "Jackson", str(media_fixtures[1]["png"]["plain"]), data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 2 and "no reference enrolled for 'Jackson'" in r.stderr
    # the voice claim on an image: the speaker check says why it cannot run
    on_image = verify(media_fixtures[1]["png"]["plain"])
    assert not on_image["speaker_claim"]["applicable"] and "no audio stream" in on_image["speaker_claim"]["reason"]


@pytest.mark.slow
def test_the_real_speaker_replayed_into_an_impostors_note_is_named(tmp_path, data_dir):
    """Red team, session 24: a few seconds of the real person played four times into an impostor's note
    made theirs "one of the voices" and then most of the speech; replays are counted once and named."""
    from tests.speaker.speech_data import fsdd_speech

    r = run_cli("enroll", "Jackson", str(fsdd_wav(tmp_path, "jackson", range(0, 3))), data_dir=data_dir, timeout=180)
    assert r.code == 0, r.stderr
    real = fsdd_speech("jackson", range(3, 4))
    snippet = real[: int(2.5 * 16000)]
    gap = np.zeros(3200, np.float32)
    note = np.concatenate([fsdd_speech("nicolas", range(0, 2))] + [gap, snippet] * 4)
    path = write_wav(tmp_path / "note.wav", note)
    r = run_cli("verify", "--json", "--no-ledger", "--claimed-speaker", "Jackson", str(path), data_dir=data_dir, timeout=240)
    assert_no_traceback(r)
    doc = json.loads(r.stdout)
    claim = {f["detector"]: f for f in doc["findings"]}["speaker_claim"]
    assert claim["applicable"] and claim["reference"]["repeated_s"] >= 5.0
    assert "speech_replayed" in doc["verdict"]["reasons"] and "same recording played again" in doc["verdict"]["summary"]
