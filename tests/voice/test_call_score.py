"""The call score: a spliced sentence keeps its weight instead of being averaged away."""

import hashlib
import json

import numpy as np
import pytest

from detectors.voice_clone.call_score import CallCalibrationError, call_features, load_call_calibration, top_quarter


def test_the_strongest_window_and_the_top_quarter_keep_a_spliced_sentence():
    logits = [-2.0, -1.5, -2.2, 1.0, 2.0, -1.8, -2.5, -1.9]
    s = top_quarter(logits)
    assert s.windows == (3, 4)  # in time order
    assert s.value == pytest.approx(1.5)
    mean, strongest, quarter, log_n = call_features(logits, ("mean", "max", "top_quarter", "log_windows"))
    assert strongest == 2.0 and quarter == pytest.approx(1.5) and log_n == pytest.approx(np.log(8))
    assert mean < -1  # what the mean made of the same call


def test_a_short_clip_is_judged_by_its_strongest_window():
    assert top_quarter([-1.0, 0.5, -0.2]).windows == (1,)
    assert top_quarter([0.3]).value == pytest.approx(0.3)
    with pytest.raises(ValueError):
        top_quarter([])
    with pytest.raises(CallCalibrationError, match="unknown call statistic"):
        call_features([0.1], ("median",))


def write_call_calibration(path, sha, **over):
    d = {"features": ["max"], "weights_sha256": sha, "coef": [2.0], "b": -1.0, "llr_range": [-2.0, 1.5],
         "fitted_on": {"genuine": 119, "synthetic": 409}}
    d.update(over)
    path.write_text(json.dumps(d))
    return path


def test_the_call_calibration_applies_only_to_the_model_it_was_fitted_for(tmp_path):
    p = write_call_calibration(tmp_path / "c.json", "ab" * 32)
    assert load_call_calibration("cd" * 32, p) is None
    cal = load_call_calibration("ab" * 32, p)
    assert cal.llr10([-3.0, 10.0]) == 1.5 and cal.llr10([-10.0]) == -2.0  # held to what the fitted files support
    assert cal.llr10([-1.0, 0.5]) == pytest.approx(0.0)  # the strongest window decides
    assert "119 genuine and 409 synthetic" in cal.summary
    assert f"SHA-256 {hashlib.sha256(p.read_bytes()).hexdigest()}" in cal.summary  # the finding names the map it used


def test_a_damaged_call_calibration_is_reported(tmp_path):
    sha = "ab" * 32
    with pytest.raises(CallCalibrationError, match="not a call calibration"):
        load_call_calibration(sha, write_call_calibration(tmp_path / "c.json", sha, coef=["x"]))
    with pytest.raises(CallCalibrationError, match="2 coefficients for 1 features"):
        load_call_calibration(sha, write_call_calibration(tmp_path / "c.json", sha, coef=[1.0, 2.0]))
    with pytest.raises(CallCalibrationError, match="unknown call statistic"):
        load_call_calibration(sha, write_call_calibration(tmp_path / "c.json", sha, features=["median"]))
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(CallCalibrationError):
        load_call_calibration(sha, tmp_path / "c.json")


def test_the_shipped_call_calibration_belongs_to_the_shipped_weights():
    """Shipping new weights without refitting (call_fit --write) would silently fall back to the mean."""
    from detectors.voice_clone.detector import DEFAULT_WEIGHTS
    from detectors.voice_clone.scoring import load_bundle

    cal = load_call_calibration(load_bundle(DEFAULT_WEIGHTS).sha256)
    assert cal is not None
    lo, hi = cal.llr_range
    assert -3 < lo < 0 < hi < 2.5  # no stronger than the number of fitted files allows
    assert cal.record["eval"]["genuine_calls_at_llr_ge_1"] == 0.0
    assert cal.record["eval"]["genuine_singles_at_llr_ge_1"] == 0.0
