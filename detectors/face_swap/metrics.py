"""Error rates of the face-swap detector: AUC, EER, Cllr, ROC points.

Convention: higher score = more likely manipulated; labels 1 manipulated,
0 real; LLRs are log10 LR(H1 manipulated vs H0 real). Pure numpy so the
model card, the eval command and the tests compute them identically.
"""

from __future__ import annotations

import math

import numpy as np


class MetricsError(ValueError):
    """Scores cannot be evaluated (one class missing, NaN...)."""


def _check(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(labels, np.int64).ravel()
    if s.shape != y.shape:
        raise MetricsError("scores and labels differ in length")
    if not (np.any(y == 1) and np.any(y == 0)):
        raise MetricsError("need at least one manipulated (1) and one real (0) trial")
    if not np.all(np.isfinite(s)):
        raise MetricsError("scores contain NaN or infinity")
    return s, y


def auc(scores, labels) -> float:
    """P(score of a manipulated trial > score of a real one), ties count half."""
    s, y = _check(scores, labels)
    from scipy.stats import rankdata

    r = rankdata(s)
    n1, n0 = int(y.sum()), int((1 - y).sum())
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def roc(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-alarm rate, hit rate, threshold) for thresholds at every distinct score."""
    s, y = _check(scores, labels)
    thr = np.concatenate([[np.inf], np.unique(s)[::-1]])
    n1, n0 = y.sum(), (1 - y).sum()
    tpr = np.array([(s[y == 1] >= t).sum() / n1 for t in thr])
    fpr = np.array([(s[y == 0] >= t).sum() / n0 for t in thr])
    return fpr, tpr, thr


def eer(scores, labels) -> float:
    """Equal error rate (miss = false alarm), linearly interpolated on the ROC."""
    fpr, tpr, _ = roc(scores, labels)
    fnr = 1 - tpr
    d = fnr - fpr  # decreasing from 1 to -1
    i = int(np.flatnonzero(d <= 0)[0])
    if i == 0 or d[i] == 0:
        return float((fnr[i] + fpr[i]) / 2)
    t = d[i - 1] / (d[i - 1] - d[i])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def cllr(llr10, labels) -> float:
    """Log-likelihood-ratio cost in bits (0 perfect, 1 = uninformative)."""
    s, y = _check(llr10, labels)
    nat = s * math.log(10)
    c1 = np.mean(np.logaddexp(0, -nat[y == 1])) / math.log(2)
    c0 = np.mean(np.logaddexp(0, nat[y == 0])) / math.log(2)
    return float((c1 + c0) / 2)


def auc_between(positives, negatives) -> float:
    """``auc`` for two separate lists (manipulated, real); NaN when one is empty."""
    pos, neg = list(np.ravel(positives)), list(np.ravel(negatives))
    if not pos or not neg:
        return float("nan")
    return auc(pos + neg, [1] * len(pos) + [0] * len(neg))


def cllr_between(llr10_positives, llr10_negatives) -> float:
    """``cllr`` for two separate lists of log10 LLRs (manipulated, real)."""
    pos, neg = list(np.ravel(llr10_positives)), list(np.ravel(llr10_negatives))
    return cllr(pos + neg, [1] * len(pos) + [0] * len(neg))


def summary(scores, labels, llr10=None) -> dict[str, float | int]:
    s, y = _check(scores, labels)
    out: dict[str, float | int] = {"n_manipulated": int(y.sum()), "n_real": int((1 - y).sum()),
                                   "auc": auc(s, y), "eer": eer(s, y)}
    if llr10 is not None:
        out["cllr"] = cllr(llr10, y)
    return out
