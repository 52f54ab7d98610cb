"""Error-rate and calibration arithmetic on values checkable by hand."""

import math

import numpy as np
import pytest

from detectors import metrics
from detectors.face_swap import calibration


def test_auc_eer_perfect_and_chance() -> None:
    assert metrics.auc([0, 1, 2, 3], [0, 0, 1, 1]) == 1.0
    assert metrics.eer([0, 1, 2, 3], [0, 0, 1, 1]) == 0.0
    assert metrics.auc([1, 1, 1, 1], [0, 0, 1, 1]) == 0.5
    assert metrics.auc([0, 2, 1, 3], [0, 0, 1, 1]) == 0.75


def test_cllr() -> None:
    assert metrics.cllr([0.0, 0.0], [0, 1]) == pytest.approx(1.0)
    assert metrics.cllr([-5.0, 5.0], [0, 1]) < 1e-4


def test_one_class_is_an_error() -> None:
    with pytest.raises(metrics.MetricsError):
        metrics.auc([1, 2], [1, 1])


def test_calibration_recovers_a_known_llr() -> None:
    rng = np.random.default_rng(0)
    # logits ~ N(+-1, 1): true natural-log LR = 2 * logit
    y = np.r_[np.zeros(4000), np.ones(4000)]
    z = np.where(y == 1, 1.0, -1.0) + rng.standard_normal(len(y))
    cal = calibration.fit(z, y)
    assert cal.a == pytest.approx(2.0, rel=0.1) and abs(cal.b) < 0.1
    assert cal.llr10(1.0) == pytest.approx(2.0 / math.log(10), rel=0.1)
    assert cal.llr10(100.0) == calibration.LLR_CAP


def test_calibration_refuses_inverted_scores() -> None:
    with pytest.raises(calibration.CalibrationError):
        calibration.fit([1.0, 2.0, -1.0, -2.0], [0, 0, 1, 1])
