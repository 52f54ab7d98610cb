"""video_call_eval: a cloned voice in a genuine video call, judged by the shipped fusion
and by the product of every LR, from recorded detector outputs."""

from __future__ import annotations

import pytest

from detectors.voice_clone.video_call_eval import evaluate, main, table


def _f(detector, llr, kind, supports_h0=True):
    return dict(detector=detector, version="1", modality="video", applicable=True, llr=llr, manipulation=kind,
                supports_h0=supports_h0)


VIDEO = {"conditions": {"as_made": {"rows": [
    {"name": "clip", "swap": False, "findings": [_f("face_swap", -0.5, "face"), _f("face_motion", -0.5, "face"),
                                                 _f("face_identity_consistency", -1.5, "face", False),
                                                 _f("av_sync", -0.8, "soundtrack"), _f("voice_clone", -0.3, "voice")]},
    {"name": "silent", "swap": False, "findings": [_f("face_swap", -0.5, "face")]},  # no soundtrack: left out
    {"name": "clip__from__x", "swap": True, "findings": [_f("face_motion", 2.0, "face")]},
]}}}
CALLS = {"rows": [
    {"family": "original", "fraction": 1.0, "applicable": True, "llr": -0.6},
    {"family": "original", "fraction": 1.0, "applicable": False, "llr": None},
    {"family": "neural", "fraction": 1.0, "applicable": True, "llr": 1.8},
    {"family": "neural", "fraction": 0.5, "applicable": True, "llr": 1.2},
]}


def test_the_clone_is_heard_over_a_genuine_face_only_when_kinds_are_alternatives():
    r = evaluate(VIDEO, CALLS)
    assert r["clips"] == ["clip"] and r["calls_scored"] == 3
    # the clip's own voice finding is replaced by the call's; face -1.0 (consistency not counted), soundtrack -0.8
    whole = r["neural/100%"]
    assert whole["mean_over_kinds"]["flagged"] == 1.0  # log10((0.1 + 0.158 + 63.1) / 3) = +1.32
    assert whole["product"]["flagged"] == 0.0 and whole["product"]["cleared"] == 0.0  # 1.8 - 1.8 = 0
    assert r["genuine"]["product"]["cleared"] == 1.0 and r["genuine"]["mean_over_kinds"]["cleared"] == 0.0
    assert r["neural/50%"]["mean_over_kinds"]["auc"] == pytest.approx(1.0)
    assert "| neural/100% | 1 | 1.0 / 0.0 |" in table(r)


def test_without_clips_judged_on_their_soundtrack_it_says_so(tmp_path, capsys):
    import json

    video, calls = tmp_path / "v.json", tmp_path / "c.json"
    video.write_text(json.dumps({"conditions": {"as_made": {"rows": [VIDEO["conditions"]["as_made"]["rows"][1]]}}}))
    calls.write_text(json.dumps(CALLS))
    assert main(["--video", str(video), "--calls", str(calls)]) == 2
    assert "no real clip with face and soundtrack findings" in capsys.readouterr().err
