"""Logistic calibration of raw scores to log10 likelihood ratios.

A raw network output is not evidence; a calibrated LLR is. The map is affine
(llr = a * score + b) and fitted on the held-out calibration (dev) split with
the two classes weighted equally, so that the fitted log-odds is a log LR
independent of the split's class proportions (the prior-weighted logistic
regression of Brümmer's FoCal, with a 0.5 effective prior).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detectors.logistic import NotBothClassesError, fit_balanced_logistic


@dataclass(frozen=True)
class Calibration:
    a: float  # slope, natural-log units per score unit
    b: float

    def llr10(self, scores) -> np.ndarray:
        return (self.a * np.asarray(scores, np.float64) + self.b) / math.log(10)

    def to_dict(self) -> dict[str, float]:
        return {"a": self.a, "b": self.b}


class CalibrationError(ValueError):
    pass


def fit_calibration(scores, labels, l2: float = 1e-4, iters: int = 50, weights=None) -> Calibration:
    """Fit llr = a*s + b by class-balanced logistic regression (Newton's method).

    ``weights`` (optional, one per trial) weigh trials within their class, e.g.
    so that every speaker counts alike; the two classes still weigh 0.5 each.
    """
    try:
        a, b = fit_balanced_logistic(scores, labels, l2=l2, iters=iters, weights=weights)
    except NotBothClassesError:
        raise CalibrationError("calibration needs both spoof and bona fide scores in the dev split") from None
    if not (np.isfinite(a) and np.isfinite(b)):
        raise CalibrationError("calibration did not converge")
    return Calibration(a, b)
