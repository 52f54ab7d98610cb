"""The call-level score of ``voice_clone``: the windows that lean most toward synthetic.

A forger rarely clones a whole call. They keep a genuine recording of the
executive and replace one sentence. The detector's first file statistic, the
mean window logit, is diluted by the genuine rest: with a quarter of a call
spliced, its AUC was 0.59-0.79 by family (``splice_eval``).

The call score is the mean logit of the top quarter of the call's windows
(at least one). A whole synthetic call lifts every window, so its top quarter
is high; a spliced sentence lifts the windows that hear it, and the top
quarter keeps them instead of averaging them with the rest. Of the statistics
compared on dev-split calls (mean, maximum window, top quarter, strongest run of
window LLRs; ``call_fit``), it had the best Cllr and no genuine call at LLR >= 1
when each speaker was left out in turn.

The score is not a log LR: windows overlap and are not independent, and a
maximum-like statistic grows with the number of windows. It is calibrated
again on whole genuine and spliced calls of dev-split speakers
(``call_calibration.json``, fitted by ``python -m detectors.voice_clone.call_fit``)
for one set of weights, against the proposition "some or all of the speech is
synthetic".
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALL_CALIBRATION = Path(__file__).parent / "call_calibration.json"
STATISTIC = "top_quarter"


@dataclass(frozen=True)
class CallScore:
    value: float
    windows: tuple[int, ...]  # indices of the windows it averages, in time order


def top_quarter(logits) -> CallScore:
    """Mean logit of the highest quarter of the windows (at least one)."""
    v = np.asarray(logits, np.float64)
    if v.size == 0:
        raise ValueError("a call score needs at least one window")
    k = max(1, v.size // 4)
    top = np.sort(np.argsort(v, kind="stable")[-k:])
    return CallScore(float(v[top].mean()), tuple(int(i) for i in top))


def merged_spans(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping or touching (start, end) spans joined, in time order."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class CallCalibrationError(ValueError):
    pass


@dataclass(frozen=True)
class CallCalibration:
    """log10 LR(some or all speech synthetic : none) = (a * score + b) / ln 10, within ``llr_range``.

    Valid only for the model bundle whose SHA-256 it names: another model's
    logits have another distribution.
    """

    weights_sha256: str
    a: float
    b: float
    llr_range: tuple[float, float]
    record: dict
    sha256: str = ""  # of the calibration file's bytes: the finding names what computed its LLR

    def llr10(self, score: float) -> float:
        lo, hi = self.llr_range
        return float(min(hi, max(lo, (self.a * score + self.b) / math.log(10))))

    @property
    def summary(self) -> str:
        fitted = self.record.get("fitted_on") or {}
        parts = [f"call-level map (SHA-256 {self.sha256}) fitted on {fitted.get('genuine', '?')} genuine and "
                 f"{fitted.get('spliced', '?')} spliced dev calls"]
        ev = self.record.get("eval") or {}
        if ev:
            aucs = ", ".join(f"{k.split('_')[1]} % spliced AUC {v['auc']}" for k, v in ev.items()
                             if k.startswith("spliced_") and isinstance(v, dict))
            parts.append(f"on {ev.get('genuine_calls', '?')} calls of unseen speakers "
                         f"{ev.get('genuine_at_llr_ge_1', '?')} of genuine ones at LLR >= 1; {aucs}")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {"statistic": STATISTIC, "weights_sha256": self.weights_sha256, "a": self.a, "b": self.b,
                "llr_range": list(self.llr_range), **self.record}


def load_call_calibration(weights_sha256: str | None, path: Path | None = None) -> CallCalibration | None:
    """The call calibration fitted for this bundle, or None (another model, or none fitted).

    ``path`` defaults to the shipped ``call_calibration.json``, or the file named
    in ``VERIFIER_VOICE_CALL_CALIBRATION`` (a calibration refitted for another model).
    """
    named = os.environ.get("VERIFIER_VOICE_CALL_CALIBRATION")
    if path is None and named:
        path = Path(named)
        if not path.is_file():
            raise CallCalibrationError(f"VERIFIER_VOICE_CALL_CALIBRATION names {path}, which is not a file")
    path = path or CALL_CALIBRATION
    if weights_sha256 is None or not path.is_file():
        return None
    try:
        raw = path.read_bytes()
        d = json.loads(raw)
        if not isinstance(d, dict):
            raise CallCalibrationError(f"{path} is not a call calibration: not a JSON object")
        if d.get("statistic") != STATISTIC:
            raise CallCalibrationError(f"{path}: unknown statistic {d.get('statistic')!r}")
        if d["weights_sha256"] != weights_sha256:
            return None
        lo, hi = (float(v) for v in d["llr_range"])
        rec = {k: v for k, v in d.items() if k not in ("statistic", "weights_sha256", "a", "b", "llr_range")}
        return CallCalibration(d["weights_sha256"], float(d["a"]), float(d["b"]), (lo, hi), rec,
                               hashlib.sha256(raw).hexdigest())
    except CallCalibrationError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise CallCalibrationError(f"{path} is not a call calibration: {exc}") from None
