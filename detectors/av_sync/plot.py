"""The sync curve as a picture a non-expert can read: correlation against
audio offset (whole clip, bold) and per window (thin), with the tolerance band."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detectors.av_sync.sync import SyncResult


def plot_sync_curve(result: SyncResult, path: Path, tolerance_frames: int, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    try:
        ms = 1000.0 / result.fps
        for w in result.windows:
            ax.plot(w.curve.offsets * ms, w.curve.r, color="0.75", lw=0.8)
        ax.plot(result.reported.offsets * ms, result.reported.r, color="C0", lw=2.2, label="whole clip")
        if result.wide is not None:  # the statistic (and its likelihood ratio) reads only the calibrated range
            k = result.calibrated_range * ms
            ax.axvspan(-k, k, color="0.5", alpha=0.07, label="range the likelihood ratio reads")
        ax.axvspan(-tolerance_frames * ms, tolerance_frames * ms, color="C2", alpha=0.15, label="in sync (tolerance)")
        ax.axvline(result.offset_frames * ms, color="C3", ls="--", label=f"best offset {result.offset_frames:+d} frames")
        ax.axhline(float(np.nanmedian(result.curve.r)), color="0.4", ls=":", lw=1, label="median (chance level)")
        ax.set_xlabel("audio offset (ms; positive = audio later than the mouth)")
        ax.set_ylabel("mouth-speech correlation R")
        ax.set_title(title or f"lip sync: confidence {result.confidence:.3f}")
        ax.legend(fontsize=7, loc="upper right")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
