"""Whose turn is it? Telling a conversation's speakers apart by their mouths.

A call recording's gallery or an interview shows two talking heads, and each
mouth follows only its own turns. Read against the whole soundtrack, one
face looks out of sync whenever the other person talks, so the single-head
statistic called genuine turn-taking "substituted". Picking, per stretch,
the face whose lips best follow the audio would be worse: a maximum over
faces inflates the match for substituted audio too.

So turns are read from the picture alone: at each frame the face whose lips
move clearly more than every other face's holds the turn. The audio plays
no part in the choice, so substituted speech is judged on the chosen frames
exactly as a single head is judged on all of its frames: the calibration's
chance level on Fisher's scale does not depend on how many frames there are.
What changes is the genuine side: fewer frames, weaker evidence.

Lip motion is the band-passed opening of ``mouth.flow_opening``, in pixels
of the aligned crop, so faces of different sizes are on one scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from detectors.av_sync.mouth import MouthSignal

# Lip motion is the RMS opening over about a second (a syllable or three):
# shorter and the pauses between syllables hand the turn back and forth.
TURN_WINDOW_S = 0.5
# The face holds the turn where its lips move this many times more than any
# other face's. A listener nods, smiles and says "mm"; a speaker's lips move
# all the time.
TURN_RATIO = 2.0
# ... and at least this share of its own typical talking motion (the 90th
# percentile of its RMS opening): two still faces hand nobody the turn.
TURN_FLOOR = 0.25


@dataclass(frozen=True)
class Turns:
    own: np.ndarray  # bool per frame: this face holds the turn
    shared: np.ndarray  # bool per frame: both this face and another move alike (nobody holds it)

    def seconds(self, fps: float, within: np.ndarray | None = None) -> float:
        own = self.own if within is None else self.own & within[: self.own.size]
        return float(own.sum()) / fps


def lip_motion(mouth: MouthSignal, fps: float) -> np.ndarray:
    """RMS lip opening over ``TURN_WINDOW_S`` per frame; 0 off screen."""
    if mouth.opening is None:
        raise ValueError("turns need the flow opening of the mouth (MOUTH_FEATURES with 'flow')")
    op = np.where(mouth.observed, mouth.opening, 0.0)
    win = max(3, int(round(TURN_WINDOW_S * fps)))
    mean_square = np.maximum(uniform_filter1d(op * op, win, mode="nearest"), 0.0)  # rounding can dip below 0
    return np.sqrt(mean_square) * mouth.observed


def own_turns(main: MouthSignal, others: list[MouthSignal], fps: float) -> Turns:
    """The frames where ``main``'s lips move and no other face's do as much."""
    mine = lip_motion(main, fps)
    n = mine.size
    rival = np.zeros(n)
    for other in others:
        theirs = lip_motion(other, fps)[:n]
        rival[: theirs.size] = np.maximum(rival[: theirs.size], theirs)
    talking = mine[main.observed]
    floor = TURN_FLOOR * float(np.percentile(talking, 90)) if talking.size else np.inf
    moving = main.observed & (mine > floor)
    own = moving & (mine > TURN_RATIO * rival)
    shared = moving & ~own & (rival > floor)
    return Turns(own, shared)
