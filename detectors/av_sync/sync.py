"""The sync search: at which audio offset does speech best explain the mouth?

For each offset k in [-K, K] frames (k > 0: the audio comes k frames after
the mouth, i.e. the audio lags), we regress the speech envelope shifted by k
on the mouth features and keep the multiple correlation R(k). A true sync
gives a sharp peak; substituted speech gives a flat curve at the chance level
(which depends on the number of features and frames, the same at every
offset - hence the confidence is the SyncNet-style peak minus the median of
the curve, not the peak itself). Sliding windows give a timeline: which
stretches of the video drove the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from detectors.av_sync.mouth import MouthSignal, highpass, single_thread_blas

MAX_OFFSET = 15  # the calibrated range: the substitution statistic is the best R within it
# The offset is also looked for over a wider range (one second each way):
# dubbing slips and capture faults reach past 15 frames (0.6 s at 25 fps),
# and a real clip's own offset plus a 10-frame shift already can. Widening
# the statistic's range instead would raise its chance level and void the
# calibration, so only the reported offset looks further, and only when the
# far match beats the best within range by FAR_MARGIN_Z on Fisher's scale
# (two standard errors; speech laid over another clip's mouth reached 3.3,
# so this gate keeps most chance peaks out but not all; see docs/av_sync.md).
REPORT_SPAN_S = 1.0
FAR_MARGIN_Z = 2.0
SPEECH_MARGIN_S = 0.5  # about one syllable either side: onsets and closures the mouth shows


@dataclass(frozen=True)
class OffsetCurve:
    offsets: np.ndarray  # frames
    r: np.ndarray  # multiple correlation per offset (nan when not computable)

    @property
    def best_offset(self) -> int:
        return int(self.offsets[int(np.nanargmax(self.r))])

    @property
    def peak(self) -> float:
        return float(np.nanmax(self.r))

    @property
    def confidence(self) -> float:
        return float(np.nanmax(self.r) - np.nanmedian(self.r))

    def within(self, k: int) -> OffsetCurve:
        keep = np.abs(self.offsets) <= k
        return OffsetCurve(self.offsets[keep], self.r[keep])


@dataclass(frozen=True)
class WindowSync:
    start_s: float
    end_s: float
    speech_fraction: float
    curve: OffsetCurve


@dataclass(frozen=True)
class SyncResult:
    fps: float
    curve: OffsetCurve  # whole track, calibrated range: the substitution statistic's
    windows: list[WindowSync] = field(default_factory=list)  # over the range the offset was read in
    frames_used: int = 0
    wide: OffsetCurve | None = None  # whole track, wider range: set only when the offset was read there

    @property
    def reported(self) -> OffsetCurve:
        return self.wide if self.wide is not None else self.curve

    @property
    def offset_frames(self) -> int:
        return self.reported.best_offset

    @property
    def calibrated_range(self) -> int:
        """The +-frames the substitution statistic (and its LLR) reads."""
        return int(np.max(np.abs(self.curve.offsets)))

    @property
    def beyond_calibrated_range(self) -> bool:
        """The offset was read outside the range the statistic searches."""
        return self.wide is not None

    @property
    def offset_s(self) -> float:
        return self.offset_frames / self.fps

    @property
    def confidence(self) -> float:
        return self.curve.confidence

    @property
    def agreement(self) -> float:
        """Share of speech windows whose own best offset is within one frame
        of the global one (1.0: every stretch tells the same story)."""
        good = [w for w in self.windows if w.speech_fraction >= 0.3]
        if not good:
            return 0.0
        return float(np.mean([abs(w.curve.best_offset - self.offset_frames) <= 1 for w in good]))


def fisher_z(r: float, frames: int) -> float:
    """A correlation on Fisher's scale, atanh(R) * sqrt(N - 3): about unit
    variance under chance whatever the number of frames."""
    return float(np.arctanh(float(np.clip(r, 0.0, 0.999))) * np.sqrt(max(1, frames - 3)))


def report_range(fps: float, max_offset: int = MAX_OFFSET) -> int:
    """How far (frames each way) a far offset is looked for at this frame rate."""
    return max(max_offset, int(round(REPORT_SPAN_S * fps)))


def _r_curve(z: np.ndarray, a: np.ndarray, rows: np.ndarray, max_offset: int) -> OffsetCurve:
    """R(k) of regressing a[t + k] on z[t] over the frames ``rows``."""
    n = len(a)
    offs = np.arange(-max_offset, max_offset + 1)
    out = np.full(offs.size, np.nan)
    for i, k in enumerate(offs):
        t = rows[(rows + k >= 0) & (rows + k < n)]
        if t.size < z.shape[1] + 8:
            continue
        zz = z[t] - z[t].mean(axis=0)
        y = a[t + k] - a[t + k].mean()
        yy = float(y @ y)
        if yy <= 0:
            continue
        beta, *_ = np.linalg.lstsq(zz, y, rcond=None)
        resid = y - zz @ beta
        out[i] = np.sqrt(max(0.0, 1.0 - float(resid @ resid) / yy))
    return OffsetCurve(offs, out)


AUDIO_FEATURE = "amplitude"  # "log": log band energy; "amplitude": its square root (RMS)


def prepare_audio(log_energy: np.ndarray, fps: float, smooth: int = 1) -> np.ndarray:
    x = log_energy.astype(np.float64)
    if AUDIO_FEATURE == "amplitude":
        x = np.sqrt(10.0 ** x)
    a = highpass(x, fps)
    return uniform_filter1d(a, smooth, mode="nearest") if smooth > 1 else a


def sync_search(
    mouth: MouthSignal, log_energy: np.ndarray, active: np.ndarray, frame_times: np.ndarray, fps: float,
    max_offset: int = MAX_OFFSET, window_s: float = 4.0, hop_s: float = 2.0,
    speech_margin_s: float | None = SPEECH_MARGIN_S, only: np.ndarray | None = None,
    report_offset: int | None = None,
) -> SyncResult:
    """Whole-track and windowed offset curves (frames with the face on screen;
    the edges where a shift would run off the end are left out).

    ``speech_margin_s``: only frames within this distance of an ``active``
    (speech) frame count (None: every frame). Over music or noise the
    envelope moves and the mouth does not; those stretches only add noise
    to the correlation. ``only``: a further per-frame mask (a face's own
    turns in a conversation, ``turns.own_turns``). ``report_offset``: the
    range a far offset is looked for in (default: ``REPORT_SPAN_S`` at this
    frame rate). The frames are chosen by ``max_offset`` alone, so within it
    the curve is exactly the calibrated one."""
    n = min(len(log_energy), mouth.features.shape[0])
    a = prepare_audio(log_energy[:n], fps)
    z = mouth.features[:n]
    frames = np.arange(max_offset, n - max_offset)
    keep = mouth.observed[frames]
    if only is not None:
        keep &= only[:n][frames]
    if speech_margin_s is not None and active[:n].any():
        near = maximum_filter1d(active[:n].astype(np.uint8), 2 * int(round(speech_margin_s * fps)) + 1) > 0
        keep &= near[frames]
    rows = frames[keep]
    wide = report_range(fps, max_offset) if report_offset is None else max(max_offset, report_offset)
    with single_thread_blas():
        return _search(z, a, rows, active, frame_times, fps, max_offset, wide, window_s, hop_s, n)


def _search(z, a, rows, active, frame_times, fps, max_offset, wide, window_s, hop_s, n) -> SyncResult:
    reported = _r_curve(z, a, rows, wide)
    curve = reported.within(max_offset)
    far = (wide > max_offset and not np.all(np.isnan(curve.r))
           and fisher_z(reported.peak, rows.size) - fisher_z(curve.peak, rows.size) >= FAR_MARGIN_Z)
    span = wide if far else max_offset
    windows: list[WindowSync] = []
    w = max(int(round(window_s * fps)), 2 * z.shape[1] + 16)
    h = max(1, int(round(hop_s * fps)))
    for s in range(max_offset, max(max_offset + 1, n - max_offset - w + 1), h):
        wr = rows[(rows >= s) & (rows < s + w)]
        if wr.size < w // 2:
            continue
        c = _r_curve(z, a, wr, span)
        if np.all(np.isnan(c.r)):
            continue
        e = min(s + w, n) - 1
        windows.append(WindowSync(float(frame_times[s]), float(frame_times[e]) + 1.0 / fps,
                                  float(active[s:s + w].mean()), c))
    return SyncResult(fps=fps, curve=curve, windows=windows, frames_used=int(rows.size),
                      wide=reported if far else None)
