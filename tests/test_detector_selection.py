"""Detector selection: none runs by default until its measured error rates meet
their targets; users can opt in by name, and get a clear error for a typo."""

from __future__ import annotations

import json

from detectors.base import DEFAULT_DETECTORS, available_detectors, get_detector
from tests.conftest import assert_no_traceback, run_cli


def test_shipped_detectors_are_listed_and_none_is_default_yet():
    names = available_detectors()
    assert {"voice_clone", "face_swap", "av_sync", "face_identity_consistency", "face_identity_claim"} <= set(names)
    assert DEFAULT_DETECTORS == frozenset()
    r = run_cli("detectors")
    assert r.code == 0 and "opt-in (--detectors av_sync)" in r.stdout


def test_each_shipped_detector_creates_and_declares_itself():
    """... including the kind of manipulation it weighs: without one, fusion would treat it
    as an alternative of its own instead of adding it to the detectors of its kind."""
    from detectors.base import manipulation_kind
    from verifier.fusion import MANIPULATION_KINDS

    for name in available_detectors():
        det = get_detector(name)
        assert det.name == name and det.version and det.modality
        assert manipulation_kind(det) in MANIPULATION_KINDS, name


def test_unknown_detector_is_an_input_error(media_fixtures, data_dir):
    r = run_cli("verify", "--no-ledger", "--detectors", "deepfake9000", str(media_fixtures[1]["mp4"]["plain"]), data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 2 and "unknown detector" in r.stderr


def test_opt_in_detectors_run_and_say_why_they_do_not_apply(media_fixtures, data_dir):
    r = run_cli("verify", "--json", "--no-ledger", "--detectors", "av_sync,face_swap,voice_clone",
                str(media_fixtures[1]["mp4"]["plain"]), data_dir=data_dir, timeout=180)
    assert_no_traceback(r)
    doc = json.loads(r.stdout)
    by_name = {f["detector"]: f for f in doc["findings"]}
    assert set(by_name) == {"av_sync", "face_swap", "voice_clone"}
    for f in by_name.values():  # a 1 s synthetic gradient: no face, no speech
        assert f["applicable"] is False and f["reason"]
    assert doc["verdict"]["label"] == "inconclusive" and "no_applicable_detectors" in doc["verdict"]["reasons"]


def test_enroll_rejects_a_photo_without_exactly_one_face(media_fixtures, data_dir):
    r = run_cli("enroll", "Jane Doe", "--face", str(media_fixtures[1]["png"]["plain"]), data_dir=data_dir, timeout=120)
    assert_no_traceback(r)
    assert r.code == 2 and "exactly one face" in r.stderr


def test_claim_about_a_person_never_enrolled_is_refused_up_front(media_fixtures, data_dir):
    r = run_cli("verify", "--no-ledger", "--claimed-person", "Nobody", str(media_fixtures[1]["png"]["plain"]), data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 2 and "no reference enrolled for 'Nobody'" in r.stderr and "verifier enroll" in r.stderr


def test_a_detector_asked_for_on_a_file_without_its_streams_says_why_it_did_not_run(media_fixtures, data_dir):
    r = run_cli("verify", "--json", "--no-ledger", "--detectors", "face_swap,av_sync,voice_clone",
                str(media_fixtures[1]["wav"]["plain"]), data_dir=data_dir, timeout=180)
    assert_no_traceback(r)
    doc = json.loads(r.stdout)
    assert [f["detector"] for f in doc["findings"]] == ["face_swap", "av_sync", "voice_clone"]
    by_name = {f["detector"]: f for f in doc["findings"]}
    assert by_name["face_swap"]["reason"] == (
        "not run: it needs an image or a video stream, and the file has no video stream and 1 audio stream")
    assert by_name["av_sync"]["reason"].startswith("not run: it needs a video stream and an audio stream")
    assert by_name["face_swap"]["weights_sha256"] is None  # no weights were used
    assert {n: f["manipulation"] for n, f in by_name.items()} == {  # run or not, the record says what each weighs
        "face_swap": "face", "av_sync": "soundtrack", "voice_clone": "voice"}
    assert not by_name["voice_clone"]["reason"].startswith("not run")  # it applies: it looked and declined
    summary = doc["verdict"]["summary"]
    assert "2 other detectors not run" in summary and "voice_clone:" in summary and "face_swap:" not in summary
