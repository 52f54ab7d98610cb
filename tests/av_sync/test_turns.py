"""Whose turn it is, read from the lips alone (``detectors.av_sync.turns``)."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.av_sync.mouth import MouthSignal
from detectors.av_sync.turns import lip_motion, own_turns

FPS = 25.0


def signal(opening: np.ndarray, observed: np.ndarray | None = None) -> MouthSignal:
    seen = np.ones(opening.size, bool) if observed is None else observed
    return MouthSignal(np.zeros((opening.size, 3)), seen, np.where(seen, opening, 0.0))


def talking(n: int, seed: int, scale: float = 3.0) -> np.ndarray:
    """Lip opening at syllable rate, in crop pixels."""
    t = np.arange(n) / FPS
    rng = np.random.default_rng(seed)
    return scale * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)) * (0.6 + 0.4 * rng.random(n))


def test_each_face_holds_its_own_turns_and_listening_is_not_a_turn():
    n = int(16 * FPS)
    half = n // 2
    a = np.concatenate([talking(half, 1), 0.2 * talking(n - half, 2)])  # speaks, then listens (small nods)
    b = np.concatenate([0.2 * talking(half, 3), talking(n - half, 4)])
    turns_a = own_turns(signal(a), [signal(b)], FPS)
    turns_b = own_turns(signal(b), [signal(a)], FPS)
    edge = int(FPS)  # half a smoothing window either side of the change, and some
    assert turns_a.own[: half - edge].all() and not turns_a.own[half + edge:].any()
    assert turns_b.own[half + edge:].all() and not turns_b.own[: half - edge].any()
    assert not (turns_a.own & turns_b.own).any()  # never both at once
    assert turns_a.seconds(FPS) == pytest.approx(8.0, abs=1.0)
    speech = np.zeros(n, bool)
    speech[: int(2 * FPS)] = True
    assert turns_a.seconds(FPS, speech) == pytest.approx(2.0)


def test_mouths_moving_alike_give_nobody_the_turn():
    """Both talking at once (or one picture shown twice): the lips cannot say
    whose voice it is, so neither face is read against it."""
    n = int(8 * FPS)
    a, b = talking(n, 1), talking(n, 2)
    turns = own_turns(signal(a), [signal(b)], FPS)
    assert turns.own.mean() < 0.1 and turns.shared.mean() > 0.8


def test_a_face_off_screen_neither_holds_nor_contests_the_turn():
    n = int(8 * FPS)
    a, b = talking(n, 1), talking(n, 2)
    gone = np.ones(n, bool)
    gone[: n // 2] = False  # b appears halfway through
    turns = own_turns(signal(a), [signal(b, gone)], FPS)
    assert turns.own[: n // 2 - int(FPS)].all() and turns.own[n // 2 + int(FPS):].mean() < 0.1
    assert not own_turns(signal(b, gone), [signal(a)], FPS).own[: n // 2].any()


def test_lip_motion_needs_the_flow_opening():
    with pytest.raises(ValueError, match="flow opening"):
        lip_motion(MouthSignal(np.zeros((10, 2)), np.ones(10, bool)), FPS)
