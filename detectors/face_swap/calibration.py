"""Logistic calibration of the CNN's logit to a log10 likelihood ratio.

A logit is not evidence; a calibrated LLR is. The map is affine (FoCal-style
class-balanced logistic regression, effective prior 0.5, so the fitted
log-odds is a log LR whatever the class proportions of the calibration split)
and fitted on the held-out calibration identities only. Video LLRs are
clipped to +-``LLR_CAP`` because a calibration fitted on a few hundred crops
cannot support stronger evidence than that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detectors.logistic import NotBothClassesError, fit_balanced_logistic

LLR_CAP = 3.0


class CalibrationError(ValueError):
    """Calibration is impossible (one class missing, no convergence)."""


@dataclass(frozen=True)
class Calibration:
    a: float  # natural-log odds per logit unit
    b: float

    def llr10(self, logits) -> np.ndarray:
        v = (self.a * np.asarray(logits, np.float64) + self.b) / math.log(10)
        return np.clip(v, -LLR_CAP, LLR_CAP)

    def to_dict(self) -> dict[str, float]:
        return {"a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> "Calibration":
        return cls(float(d["a"]), float(d["b"]))


def fit(logits, labels, l2: float = 1e-3, iters: int = 100) -> Calibration:
    """Fit llr = (a*logit + b)/ln10 by Newton's method on the weighted log loss."""
    try:
        a, b = fit_balanced_logistic(logits, labels, l2=l2, iters=iters)
    except NotBothClassesError:
        raise CalibrationError("calibration needs real and manipulated crops in the calibration split") from None
    if not (np.isfinite(a) and np.isfinite(b)) or a <= 0:
        raise CalibrationError(f"calibration failed (slope {a:.3g}): the model does not separate the "
                               "calibration split; train longer or check the corpus")
    return Calibration(a, b)
