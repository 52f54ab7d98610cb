import math

import numpy as np
import pytest

from detectors.metrics import auc, cllr, eer, min_dcf, reliability
from detectors.voice_clone.calibration import fit_calibration


def test_perfect_and_inverted_separation():
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.9, 1.0])
    y = np.array([0, 0, 0, 1, 1, 1])
    assert eer(s, y) == 0.0 and auc(s, y) == 1.0 and min_dcf(s, y) == 0.0
    assert eer(-s, y) == 1.0 and auc(-s, y) == 0.0


def test_eer_hand_computed():
    # bona fide 0,1,2,3 ; spoof 2.5,4,5,6 -> one spoof below one bona fide: EER 0.25
    s = np.array([0, 1, 2, 3, 2.5, 4, 5, 6], float)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert eer(s, y) == pytest.approx(0.25)
    assert auc(s, y) == pytest.approx(15 / 16)


def test_gaussian_eer_matches_theory():
    rng = np.random.default_rng(0)
    n = 20000
    s = np.concatenate([rng.normal(0, 1, n), rng.normal(2, 1, n)])
    y = np.concatenate([np.zeros(n), np.ones(n)]).astype(int)
    from scipy.stats import norm

    assert eer(s, y) == pytest.approx(norm.cdf(-1.0), abs=0.01)


def test_cllr_reference_points():
    y = np.array([0, 1])
    assert cllr(np.zeros(2), y) == pytest.approx(1.0)
    assert cllr(np.array([-10.0, 10.0]), y) < 1e-6
    assert cllr(np.array([1.0, -1.0]), y) > 1.0  # wrong-way evidence costs more than none


def test_calibration_recovers_true_llr():
    # scores s ~ N(+-1, 1): true natural-log LR = 2 s -> slope 2, bias 0
    rng = np.random.default_rng(1)
    n = 20000
    s = np.concatenate([rng.normal(-1, 1, n), rng.normal(1, 1, 3 * n)])  # unbalanced on purpose
    y = np.concatenate([np.zeros(n), np.ones(3 * n)])
    cal = fit_calibration(s, y)
    assert cal.a == pytest.approx(2.0, abs=0.08) and cal.b == pytest.approx(0.0, abs=0.05)
    assert cal.llr10([1.0])[0] == pytest.approx(2 / math.log(10), abs=0.05)
    assert cllr(cal.llr10(s), y) < cllr(s * 10, y)  # badly scaled scores cost more


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        eer([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError):
        auc([np.nan, 1.0], [0, 1])


def test_reliability_follows_the_diagonal_only_when_calibrated():
    # scores ~ N(+-1, 1): the true log10 LLR is 2 s / ln 10; 3x that is overconfident
    rng = np.random.default_rng(2)
    n = 20000
    s = np.concatenate([rng.normal(-1, 1, n), rng.normal(1, 1, n // 4)])  # unbalanced: must not matter
    y = np.concatenate([np.zeros(n), np.ones(n // 4)])
    true_llr = 2 * s / math.log(10)
    bins = reliability(true_llr, y)
    assert sum(b.n_manipulated + b.n_real for b in bins) == len(s)
    assert max(abs(b.observed - b.predicted) for b in bins if b.n_real + b.n_manipulated > 500) < 0.03
    over = reliability(3 * true_llr, y)
    outer = [b for b in over if abs(b.predicted - 0.5) > 0.4 and b.n_real + b.n_manipulated > 500]
    assert outer and all(abs(b.observed - 0.5) < abs(b.predicted - 0.5) - 0.05 for b in outer)
