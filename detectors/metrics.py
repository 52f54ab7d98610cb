"""Error rates of every detector: AUC, EER, minDCF, Cllr, ROC points.

One module so that the model cards, the ``eval`` commands, the evaluation
scripts and the tests of all detectors compute a figure the same way.

Convention: higher score = more likely manipulated / spoofed (H1); labels
are 1 for manipulated, 0 for real / bona fide; LLRs are log10 LR(H1 vs H0).
Pure numpy (plus scipy's ranking).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class MetricsError(ValueError):
    """Scores cannot be evaluated (one class missing, NaN, lengths differ)."""


@dataclass(frozen=True)
class Rates:
    """Miss and false-alarm rates at every distinct threshold, ascending."""

    thresholds: np.ndarray
    p_miss: np.ndarray  # manipulated scored below the threshold
    p_fa: np.ndarray  # real scored at or above the threshold


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


def rates(scores, labels) -> Rates:
    s, y = _check(scores, labels)
    order = np.argsort(s, kind="mergesort")
    s, y = s[order], y[order]
    n_pos, n_neg = y.sum(), (1 - y).sum()
    # threshold just below each distinct score, plus one above the maximum
    miss = np.concatenate([[0], np.cumsum(y)]) / n_pos
    fa = 1 - np.concatenate([[0], np.cumsum(1 - y)]) / n_neg
    thr = np.concatenate([s, [np.inf]])
    keep = np.concatenate([[True], s[1:] != s[:-1], [True]])  # tied scores move together
    return Rates(thr[keep], miss[keep], fa[keep])


def roc(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-alarm rate, hit rate, threshold), from the strictest threshold down."""
    r = rates(scores, labels)
    return r.p_fa[::-1], 1 - r.p_miss[::-1], r.thresholds[::-1]


def eer(scores, labels) -> float:
    """Equal error rate, linearly interpolated where P_miss crosses P_fa."""
    r = rates(scores, labels)
    d = r.p_miss - r.p_fa  # rises from -1 to 1
    i = int(np.flatnonzero(d >= 0)[0])
    if i == 0 or d[i] == 0:
        return float((r.p_miss[i] + r.p_fa[i]) / 2)
    t = d[i - 1] / (d[i - 1] - d[i])
    return float(r.p_miss[i - 1] + t * (r.p_miss[i] - r.p_miss[i - 1]))


def auc(scores, labels) -> float:
    """P(score of a manipulated trial > score of a real one), ties count half."""
    s, y = _check(scores, labels)
    from scipy.stats import rankdata

    r = rankdata(s)
    n1, n0 = int(y.sum()), int((1 - y).sum())
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def min_dcf(scores, labels, p_spoof: float = 0.05, c_miss: float = 1.0, c_fa: float = 10.0) -> float:
    """Normalised minimum detection cost (ASVspoof 5 weights by default: a
    false alarm on a genuine caller costs ten times a missed spoof)."""
    r = rates(scores, labels)
    dcf = c_miss * p_spoof * r.p_miss + c_fa * (1 - p_spoof) * r.p_fa
    return float(dcf.min() / min(c_miss * p_spoof, c_fa * (1 - p_spoof)))


def cllr(llr10, labels) -> float:
    """Log-likelihood-ratio cost in bits: 0 perfect, 1 uninformative, more = misleading."""
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


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability diagram at equal priors."""

    llr_low: float
    llr_high: float
    n_manipulated: int
    n_real: int
    predicted: float  # mean posterior 1 / (1 + 10^-LLR) of the bin's trials, classes weighted alike
    observed: float  # share of manipulated in the bin, classes weighted alike


def reliability(llr10, labels, edges=(-np.inf, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, np.inf)) -> list[ReliabilityBin]:
    """Reliability diagram of log10 LLRs at equal priors.

    A well-calibrated LLR of L means that, were both propositions equally
    likely a priori, a share 1 / (1 + 10^-L) of trials with that LLR would be
    manipulated. Each class is weighted by 1 / its size, so the class ratio
    of the test set does not move the points. Empty bins are left out."""
    s, y = _check(llr10, labels)
    w = np.where(y == 1, 0.5 / y.sum(), 0.5 / (1 - y).sum())
    post = 1.0 / (1.0 + 10.0 ** -np.clip(s, -30, 30))
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (s >= lo) & (s < hi)
        if not m.any():
            continue
        out.append(ReliabilityBin(float(lo), float(hi), int(y[m].sum()), int((1 - y[m]).sum()),
                                  float(np.average(post[m], weights=w[m])),
                                  float(w[m & (y == 1)].sum() / w[m].sum())))
    return out


def summary(scores, labels, llr10=None) -> dict[str, float | int]:
    s, y = _check(scores, labels)
    out: dict[str, float | int] = {"n_manipulated": int(y.sum()), "n_real": int((1 - y).sum()),
                                   "auc": auc(s, y), "eer": eer(s, y)}
    if llr10 is not None:
        out["cllr"] = cllr(llr10, y)
    return out
