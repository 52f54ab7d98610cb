"""The call-level score of ``voice_clone``: which windows of a call decide, and how much.

A forger rarely clones a whole call. They keep a genuine recording of the
executive and replace one sentence. The detector's first file statistic, the
mean window logit, is diluted by the genuine rest: with a quarter of a call
spliced, its AUC was 0.59-0.79 by family (``splice_eval``).

``call_features`` computes the file statistics compared for the call-level
map (``call_fit``): the mean, the strongest window, the mean of the top
quarter, and the number of windows. The shipped map reads the strongest
window, the candidate with the best Cllr on dev-split files when each speaker
was left out in turn. The strongest window of a genuine call runs higher the
longer the call, so the map is fitted on whole files of every length - calls
of 10-60 s and single recordings, spliced calls and whole TTS files - for one
set of weights (``call_calibration.json``), against the proposition "some or
all of the speech is synthetic".
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


def call_features(logits, names: tuple[str, ...]) -> np.ndarray:
    """The named file statistics of a call's window logits (time order)."""
    v = np.asarray(logits, np.float64)
    known = {
        "mean": lambda: float(v.mean()),
        "max": lambda: float(v.max()),
        "top_quarter": lambda: top_quarter(v).value,
        "log_windows": lambda: float(np.log(v.size)),
    }
    try:
        return np.array([known[n]() for n in names], np.float64)
    except KeyError as exc:
        raise CallCalibrationError(f"unknown call statistic {exc.args[0]!r}; known: {', '.join(known)}") from None


class CallCalibrationError(ValueError):
    pass


@dataclass(frozen=True)
class CallCalibration:
    """log10 LR(some or all speech synthetic : none) = (coef . features + b) / ln 10, within ``llr_range``.

    Valid only for the model bundle whose SHA-256 it names: another model's
    logits have another distribution.
    """

    weights_sha256: str
    features: tuple[str, ...]
    coef: tuple[float, ...]
    b: float
    llr_range: tuple[float, float]
    record: dict
    sha256: str = ""  # of the calibration file's bytes: the finding names what computed its LLR

    def llr10(self, logits) -> float:
        z = float(np.dot(self.coef, call_features(logits, self.features))) + self.b
        lo, hi = self.llr_range
        return float(min(hi, max(lo, z / math.log(10))))

    @property
    def summary(self) -> str:
        fitted = self.record.get("fitted_on") or {}
        parts = [f"call-level map on {' and '.join(self.features)} (SHA-256 {self.sha256}), fitted on dev-split "
                 f"{fitted.get('genuine', '?')} genuine and {fitted.get('synthetic', '?')} synthetic files"]
        ev = self.record.get("eval") or {}
        if ev:
            parts.append(f"on unseen speakers: genuine calls at LLR >= 1 {ev.get('genuine_calls_at_llr_ge_1', '?')}, "
                         f"genuine single recordings {ev.get('genuine_singles_at_llr_ge_1', '?')}")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {"features": list(self.features), "weights_sha256": self.weights_sha256, "coef": list(self.coef),
                "b": self.b, "llr_range": list(self.llr_range), **self.record}


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
        if d["weights_sha256"] != weights_sha256:
            return None
        features = tuple(str(f) for f in d["features"])
        coef = tuple(float(c) for c in d["coef"])
        if len(coef) != len(features):
            raise CallCalibrationError(f"{path} is not a call calibration: {len(coef)} coefficients for {len(features)} features")
        call_features([0.0], features)  # unknown statistic names fail here, not on the first call
        lo, hi = (float(v) for v in d["llr_range"])
        rec = {k: v for k, v in d.items() if k not in ("features", "weights_sha256", "coef", "b", "llr_range")}
        return CallCalibration(d["weights_sha256"], features, coef, float(d["b"]), (lo, hi), rec,
                               hashlib.sha256(raw).hexdigest())
    except CallCalibrationError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise CallCalibrationError(f"{path} is not a call calibration: {exc}") from None
