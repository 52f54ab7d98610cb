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
    coef, intercept = fit_l2_logistic(np.asarray(scores, np.float64)[:, None], labels, l2=l2, weights=weights, iters=iters)
    return float(coef[0]), intercept


def fit_l2_logistic(x, labels, *, l2: float, weights=None, iters: int = 50) -> tuple[np.ndarray, float]:
    """Class-balanced logistic regression on a feature matrix (n, d), L2 on the
    coefficients only; returns (coefficients, intercept) in natural-log units.

    For heads on many standardised features (e.g. pooled network states), where
    a strong ``l2`` keeps the model from leaning on a few dimensions. Newton's
    method on the full Hessian: exact and deterministic; fine up to a few
    thousand features.
    """
    X = np.asarray(x, np.float64)
    y = np.asarray(labels, np.float64)
    wt = np.ones(len(y)) if weights is None else np.asarray(weights, np.float64)
    m1, m0 = wt[y == 1].sum(), wt[y == 0].sum()
    if m1 <= 0 or m0 <= 0:
        raise NotBothClassesError("logistic regression needs examples of both classes")
    w = np.where(y == 1, 0.5 * wt / m1, 0.5 * wt / m0)
    A = np.concatenate([X, np.ones((len(y), 1))], axis=1)
    penalty = np.full(A.shape[1], l2)
    penalty[-1] = 0.0
    theta = np.zeros(A.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(A @ theta, -50, 50)))
        g = A.T @ (w * (p - y)) + penalty * theta
        h = (A * (w * p * (1 - p))[:, None]).T @ A + np.diag(penalty + 1e-12)
        step = np.linalg.solve(h, g)
        theta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return theta[:-1], float(theta[-1])
