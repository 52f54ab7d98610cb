"""The gallery evaluation's building blocks on two shared clips (skipped
without the shared media): what it measures is what ``verify`` would see."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.av_sync import gallery_eval
from detectors.av_sync.evaluate import clip_paths


@pytest.fixture(scope="module")
def two_clips():
    clips = {p.stem: p for p in clip_paths()}
    if not {"d11", "d20"} <= clips.keys():
        pytest.skip("shared talking-head clips d11 and d20 not present")
    return clips["d11"], clips["d20"]


def test_a_gallery_alternates_turns_with_each_speaker_s_own_sound(two_clips):
    frames, audio, spans = gallery_eval.compose(*two_clips)
    assert [s for s, _, _ in spans] == ["d11", "d20", "d11", "d20"]
    assert audio.size == pytest.approx(len(frames) * gallery_eval.RATE / gallery_eval.FPS, abs=4)
    width = 2 * gallery_eval.TILE + gallery_eval.GAP
    assert frames[0].shape == (gallery_eval.TILE, width, 3)
    # during d20's first turn the left tile (d11) holds one picture
    first, second = spans[0], spans[1]
    a, b = int(second[1] * gallery_eval.FPS) + 1, int(second[2] * gallery_eval.FPS) - 1
    left = np.stack([f[:, : gallery_eval.TILE] for f in frames[a:b]])
    assert np.ptp(left, axis=0).max() == 0 and first[2] == pytest.approx(second[1])


def test_a_genuine_gallery_is_judged_on_its_speakers_turns(two_clips, tmp_path):
    frames, audio, _ = gallery_eval.compose(*two_clips, listener="swaying")
    row = gallery_eval.judge(gallery_eval.write_mp4(tmp_path / "g.mp4", frames, audio))
    assert row["applicable"], row["reason"]
    assert "faces share the screen" in row["reason"] and "its own turns" in row["reason"]
    assert row["faces"] >= 2 and row["single_head_llr"] is not None
