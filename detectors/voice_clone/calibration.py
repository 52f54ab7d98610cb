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


def fit_calibration(scores, labels, l2: float = 1e-4, iters: int = 50) -> Calibration:
    """Fit llr = a*s + b by class-balanced logistic regression (Newton's method)."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, np.float64)
    n1, n0 = y.sum(), (1 - y).sum()
    if n1 == 0 or n0 == 0:
        raise CalibrationError("calibration needs both spoof and bona fide scores in the dev split")
    w = np.where(y == 1, 0.5 / n1, 0.5 / n0)
    x = np.stack([s, np.ones_like(s)], axis=1)
    theta = np.zeros(2)
    for _ in range(iters):
        z = x @ theta
        p = 1 / (1 + np.exp(-z))
        g = x.T @ (w * (p - y)) + l2 * np.array([theta[0], 0.0])
        h = (x * (w * p * (1 - p))[:, None]).T @ x + l2 * np.diag([1.0, 0.0]) + 1e-12 * np.eye(2)
        step = np.linalg.solve(h, g)
        theta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    if not np.all(np.isfinite(theta)):
        raise CalibrationError("calibration did not converge")
    return Calibration(float(theta[0]), float(theta[1]))
