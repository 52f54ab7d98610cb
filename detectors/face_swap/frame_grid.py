"""Variable frame rate: one frame period for the analyses that compare neighbouring frames.

Lip sync shifts the audio by whole frames and band-passes the mouth signal at
a frame rate; the motion cue compares consecutive frames. Both assume frames
one period apart. Phones lower their rate in poor light and screen
recordings of video calls (the "recording of the CFO's call" a bank is sent)
keep only the frames that arrived, so a genuine file can hold gaps of two or
more periods. Counted as neighbours, the frames on either side of a gap look
like a jump: a clip of ours with 30 % of its frames dropped (timestamps
kept) read a lip-sync LLR of -0.38 instead of -1.73, and its motion cue moved
toward "pasted" by 0.3 - genuine files pushed toward manipulated.

Two remedies, each where it fits: lip sync reads the mouth on a regular grid
at the nominal rate, interpolating between the frames either side of each
grid time (the audio envelope is read on the same grid); the motion cue
keeps only frame triples one period apart. A file whose frames are already one period apart is left untouched,
so the calibrations measured on constant-rate clips stand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A step counts as one period when within this share of it: container
# timestamps are rounded to the time base, and 29.97 fps stored at 1/30 s
# steps wobbles by a few per cent.
PERIOD_TOLERANCE = 0.25
# Video analysed at fewer frames per second than this (webcams at 12.5-15
# fps) is judged by the lip-sync and motion calibrations fitted on half-rate
# copies of the clips: with frames twice as far apart, the lip-sync statistic
# shrinks and the motion jitter grows, and genuine clips leaned toward
# manipulated under the 25/30 fps fits.
LOW_FPS_BELOW = 20.0
# As for constant-rate video (``faces.analysis_step``): a grid faster than
# this is thinned to 24-30 fps, the rates every calibration was measured at.
MAX_GRID_FPS = 30.5


def nominal_period(frame_times: np.ndarray) -> float | None:
    """The frames' usual short spacing, seconds: the median of the steps near
    the 20th percentile step (within the tolerance). Not the median of all
    steps: with every third frame dropped, steps of one and two periods are
    about equally common. None with fewer than two frames or no forward steps."""
    steps = np.diff(np.asarray(frame_times, dtype=np.float64))
    steps = steps[steps > 0]
    if not steps.size:
        return None
    short = float(np.percentile(steps, 20))
    return float(np.median(steps[np.abs(steps - short) <= PERIOD_TOLERANCE * short]))


def one_period_steps(frame_times: np.ndarray, period: float) -> np.ndarray:
    """Bool per frame: it comes one ``period`` after the frame before it
    (False for the first frame)."""
    steps = np.diff(np.asarray(frame_times, dtype=np.float64))
    ok = np.abs(steps - period) <= PERIOD_TOLERANCE * period
    return np.concatenate([[False], ok])


def frame_rate_varies(frame_times: np.ndarray) -> bool:
    """Some frames are more (or less) than one nominal period apart."""
    period = nominal_period(frame_times)
    return period is not None and not bool(one_period_steps(frame_times, period)[1:].all())


@dataclass(frozen=True)
class FrameGrid:
    """Regular times at the nominal rate, and where each falls between the
    analysed frames."""

    fps: float
    times: np.ndarray  # seconds from the stream's first frame, one period apart
    source_times: np.ndarray  # the analysed frames' own times
    shown: np.ndarray  # index of the analysed frame on screen at each grid time

    @property
    def frames(self) -> int:
        return int(self.times.size)

    def interpolate(self, values: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame ``values`` (first axis: analysed frames) read at the grid
        times, linearly between the frames either side; a grid time counts as
        observed when both of those frames were (or it falls on one)."""
        n = self.source_times.size
        j = self.shown
        k = np.minimum(j + 1, n - 1)
        span = self.source_times[k] - self.source_times[j]
        w = np.where(span > 0, np.clip((self.times - self.source_times[j]) / np.where(span > 0, span, 1.0), 0.0, 1.0), 0.0)
        seen = observed[j] & (observed[k] | (w <= 1e-9))
        ww = w.reshape((-1,) + (1,) * (values.ndim - 1))
        out = values[j] * (1.0 - ww) + values[k] * ww
        return out.astype(values.dtype, copy=False), seen


def display_grid(frame_times: np.ndarray) -> FrameGrid | None:
    """The regular grid at the nominal rate, or None when every step is
    already one period (nothing to do)."""
    t = np.asarray(frame_times, dtype=np.float64)
    period = nominal_period(t)
    if period is None or bool(one_period_steps(t, period)[1:].all()):
        return None
    if 1.0 / period > MAX_GRID_FPS:  # short steps of a fast camera: the rate the calibrations know
        period *= round(1.0 / period / 27.5)
    n = int(np.floor((t[-1] - t[0]) / period + PERIOD_TOLERANCE)) + 1
    times = t[0] + period * np.arange(n)
    shown = np.clip(np.searchsorted(t, times + 1e-9, side="right") - 1, 0, t.size - 1)
    return FrameGrid(fps=1.0 / period, times=times, source_times=t, shown=shown)
