"""The two-party measurement's pieces: which utterances make each call, the
one-voice reading it compares against, and its summary."""

from __future__ import annotations

import numpy as np

from detectors.speaker import claim
from detectors.speaker.encoder import Partials
from detectors.speaker.two_party_eval import calls_for, one_voice, summarise


def test_each_kind_of_call_holds_the_voices_it_claims():
    a, b, c = ["a0", "a1"], ["b0", "b1", "b2"], ["c0", "c1"]
    calls = calls_for(a, b, c, 1)
    assert calls["alone"] == ["a1", "a0", "a1"]  # the claimed speaker's own utterances, wrapping around
    assert calls["two-party"] == ["a1", "b1", "a0", "b2"]
    assert calls["impostor"] == ["b1", "b2", "b0"]
    assert calls["impostor-two"] == ["b1", "c1", "b2", "c0"]


def test_the_one_voice_reading_is_the_detector_with_the_split_off_and_is_restored():
    split = claim.voices
    vecs = np.eye(20, 256)
    with one_voice():
        heard = claim.voices(Partials(vecs, np.arange(20.0)))
        assert len(heard) == 1 and len(heard[0].members) == 20
    assert claim.voices is split


def test_summary_counts_each_reading_per_kind():
    rows = [dict(kind="two-party", llr=-1.0, one_voice_llr=0.5, voices_split=True),
            dict(kind="two-party", llr=0.2, one_voice_llr=1.2, voices_split=False),
            dict(kind="impostor", llr=None, one_voice_llr=None, voices_split=False)]
    s = summarise(rows)
    assert s["two-party"] == {"calls": 2, "split_into_voices": 1, "does_not_match": 0.5, "llr_at_least_1": 0.0,
                              "one_voice_does_not_match": 1.0, "one_voice_llr_at_least_1": 0.5}
    assert s["impostor"]["calls"] == 0 and s["impostor"]["does_not_match"] is None
