"""The spliced-clone measurement: the splice replaces exactly the middle share,
and the summary compares each spliced set with the originals."""

from __future__ import annotations

import numpy as np

from detectors.voice_clone.splice_eval import FADE_S, RATE, splice, summarise


def test_splice_replaces_the_middle_share_only():
    n = 10 * RATE
    original, synthetic = np.zeros(n, np.float32), np.ones(n, np.float32)
    for frac in (0.5, 0.25, 0.1):
        x = splice(original, synthetic, frac)
        assert len(x) == n
        replaced = float((x > 0.5).sum()) / n
        assert abs(replaced - frac) < 2 * FADE_S * RATE / n + 1e-3
        assert x[: int(n * (0.5 - frac / 2)) - 1].max() == 0 and x[int(n * (0.5 + frac / 2)) + 1 :].max() == 0
        assert x[n // 2] == 1.0
    assert np.array_equal(splice(original, synthetic, 1.0), synthetic)


def test_summary_scores_each_set_against_the_originals():
    rows = [{"speaker": "a", "call": f"a{i}", "family": "original", "fraction": 1.0, "applicable": True,
             "llr": -1.0 + 0.1 * i, "mean": -1.0 + 0.1 * i, "max": 0.0, "top_quarter": -0.5} for i in range(4)]
    rows += [{"speaker": "a", "call": f"a{i}", "family": "world", "fraction": 0.25, "applicable": True,
              "llr": 1.5, "mean": 1.5, "max": 2.0, "top_quarter": 1.8} for i in range(4)]
    s = summarise(rows)
    assert s["calls"] == 4 and s["original"]["likely_manipulated"] == 0.0 and s["original"]["declined"] == 0
    assert s["world/25%"]["likely_manipulated"] == 1.0 and s["world/25%"]["auc_mean"] == 1.0
    assert s["world/10%"]["n"] == 0 and s["world/10%"]["auc_mean"] is None


def test_long_calls_are_judged_as_verify_judges_them_and_not_kept(tmp_path, monkeypatch):
    """--long-calls: genuine calls of the asked length from every split, the
    detector's LLR per call; calls that fall short of the length are left
    out, and no audio is left behind."""
    import pytest

    from audio.decode import decode_audio
    from detectors.voice_clone import splice_eval
    from tests.conftest import SHARED

    jfk = SHARED / "media/audio/whisper/tests/jfk.flac"
    if not jfk.is_file():
        pytest.skip("shared JFK clip absent")
    speech = decode_audio(jfk, target_rate=RATE).samples
    calls = {"eval": [splice_eval.Call("jfk", 0, np.tile(speech, 3))], "dev": [splice_eval.Call("short", 0, speech)]}
    monkeypatch.setattr(splice_eval, "build_calls", lambda per, seed, split, lengths: calls.get(split, []))
    rows = splice_eval.long_call_rows(30.0, 1, tmp_path)
    assert [(r["split"], r["speaker"]) for r in rows] == [("eval", "jfk")]
    assert rows[0]["applicable"] and -3 < rows[0]["llr"] < 3 and rows[0]["windows"] >= 5
    assert "logits" not in rows[0] and not list(tmp_path.iterdir())
