"""Error rates of a spoofing detector: EER, minDCF, Cllr, AUC.

Convention throughout: higher score = more likely spoof (H1); labels are 1
for spoof and 0 for bona fide; LLRs are log10 LR(H1 vs H0). Pure numpy, so
the same code scores the shipped model card and the test suite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rates:
    thresholds: np.ndarray
    p_miss: np.ndarray  # spoof scored below threshold
    p_fa: np.ndarray  # bona fide scored at or above threshold


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, np.int64)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError("scores and labels must be 1-D arrays of the same length")
    if not (np.any(y == 1) and np.any(y == 0)):
        raise ValueError("need at least one spoof (1) and one bona fide (0) trial")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinity")
    return s, y


def rates(scores, labels) -> Rates:
    s, y = _check(np.asarray(scores), np.asarray(labels))
    order = np.argsort(s, kind="mergesort")
    s, y = s[order], y[order]
    n_pos, n_neg = y.sum(), (1 - y).sum()
    # threshold just below each distinct score, plus one above the maximum
    miss = np.concatenate([[0], np.cumsum(y)]) / n_pos
    fa = 1 - np.concatenate([[0], np.cumsum(1 - y)]) / n_neg
    thr = np.concatenate([s, [np.inf]])
    # keep one point per distinct threshold (ties move together)
    keep = np.concatenate([[True], s[1:] != s[:-1], [True]])
    return Rates(thr[keep], miss[keep], fa[keep])


def eer(scores, labels) -> float:
    """Equal error rate, by linear interpolation where P_miss crosses P_fa."""
    r = rates(scores, labels)
    d = r.p_miss - r.p_fa
    i = int(np.flatnonzero(d >= 0)[0])
    if i == 0 or d[i] == 0:
        return float((r.p_miss[i] + r.p_fa[i]) / 2)
    # crossing between i-1 and i
    t = d[i - 1] / (d[i - 1] - d[i])
    return float(r.p_miss[i - 1] + t * (r.p_miss[i] - r.p_miss[i - 1]))


def auc(scores, labels) -> float:
    """Probability that a random spoof scores above a random bona fide (ties count half)."""
    s, y = _check(np.asarray(scores), np.asarray(labels))
    from scipy.stats import rankdata

    ranks = rankdata(s)
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def min_dcf(scores, labels, p_spoof: float = 0.05, c_miss: float = 1.0, c_fa: float = 10.0) -> float:
    """Normalised minimum detection cost (ASVspoof 5 style weights by default:
    a false alarm on a genuine caller costs ten times a missed spoof)."""
    r = rates(scores, labels)
    dcf = c_miss * p_spoof * r.p_miss + c_fa * (1 - p_spoof) * r.p_fa
    return float(dcf.min() / min(c_miss * p_spoof, c_fa * (1 - p_spoof)))


def cllr(llr10, labels) -> float:
    """Log-likelihood-ratio cost in bits for log10 LLRs; 1.0 = uninformative, 0 = perfect."""
    l, y = _check(np.asarray(llr10), np.asarray(labels))
    ln = l * math.log(10)
    pos = np.logaddexp(0, -ln[y == 1]).mean() / math.log(2)
    neg = np.logaddexp(0, ln[y == 0]).mean() / math.log(2)
    return float(0.5 * (pos + neg))


def fa_rate_at(scores_bonafide, threshold: float) -> float:
    s = np.asarray(scores_bonafide, np.float64)
    return float(np.mean(s >= threshold)) if s.size else float("nan")
