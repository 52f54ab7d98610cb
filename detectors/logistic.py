"""Class-balanced logistic regression on one score, the calibration every
detector uses to turn raw scores into likelihood ratios.

Classes are weighted to equal total mass, so the fitted intercept does not
absorb the training set's class ratio: the output is a log likelihood ratio,
not a posterior. Returns natural-log coefficients (a, b) of a*score + b.
"""

from __future__ import annotations

import numpy as np


class NotBothClassesError(ValueError):
    pass


def fit_balanced_logistic(scores, labels, *, l2: float, iters: int, weights=None) -> tuple[float, float]:
    """``weights`` (optional, one per score) weigh samples within their class,
    e.g. so that every speaker counts alike; each class still totals 0.5."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, np.float64)
    wt = np.ones_like(s) if weights is None else np.asarray(weights, np.float64)
    m1, m0 = wt[y == 1].sum(), wt[y == 0].sum()
    if m1 <= 0 or m0 <= 0:
        raise NotBothClassesError("calibration needs scores of both classes")
    w = np.where(y == 1, 0.5 * wt / m1, 0.5 * wt / m0)
    x = np.stack([s, np.ones_like(s)], axis=1)
    theta = np.zeros(2)
    for _ in range(iters):  # Newton's method: two parameters, converges in a few steps
        p = 1 / (1 + np.exp(-(x @ theta)))
        g = x.T @ (w * (p - y)) + l2 * np.array([theta[0], 0.0])
        h = (x * (w * p * (1 - p))[:, None]).T @ x + l2 * np.diag([1.0, 0.0]) + 1e-12 * np.eye(2)
        step = np.linalg.solve(h, g)
        theta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(theta[0]), float(theta[1])
