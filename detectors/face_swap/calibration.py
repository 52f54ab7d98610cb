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
    s = np.asarray(logits, np.float64)
    y = np.asarray(labels, np.float64)
    n1, n0 = y.sum(), (1 - y).sum()
    if n1 == 0 or n0 == 0:
        raise CalibrationError("calibration needs real and manipulated crops in the calibration split")
    w = np.where(y == 1, 0.5 / n1, 0.5 / n0)
    x = np.stack([s, np.ones_like(s)], axis=1)
    theta = np.zeros(2)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(x @ theta)))
        g = x.T @ (w * (p - y)) + l2 * np.array([theta[0], 0.0])
        h = (x * (w * p * (1 - p))[:, None]).T @ x + l2 * np.diag([1.0, 0.0]) + 1e-12 * np.eye(2)
        step = np.linalg.solve(h, g)
        theta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    if not np.all(np.isfinite(theta)) or theta[0] <= 0:
        raise CalibrationError(f"calibration failed (slope {theta[0]:.3g}): the model does not separate the "
                               "calibration split; train longer or check the corpus")
    return Calibration(float(theta[0]), float(theta[1]))
