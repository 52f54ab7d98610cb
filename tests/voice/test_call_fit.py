"""The call-level fit runs from splice_eval output to a calibration the detector loads."""

import json
import math

import numpy as np
import pytest

from detectors.voice_clone.call_fit import candidate_statistics, evaluate, read_calls, write_calibration
from detectors.voice_clone.call_score import load_call_calibration


def _rows(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for spk in ("a", "b", "c"):
        for i in range(6):
            n = int(rng.integers(3, 30))
            base = rng.normal(-1.5, 0.7, n)
            rows.append({"speaker": spk, "call": f"{spk}{i}", "family": "original", "fraction": 1.0, "seconds": n + 3.0,
                         "applicable": True, "logits": base.tolist()})
            for frac in (0.1, 0.25, 0.5, 1.0):
                x = base.copy()
                k = max(1, int(round(n * frac)))
                a = (n - k) // 2
                x[a : a + k] += 2.5
                rows.append({"speaker": spk, "call": f"{spk}{i}", "family": "world", "fraction": frac,
                             "seconds": n + 3.0, "applicable": True, "logits": x.tolist()})
    rows.append({"speaker": "c", "call": "c9", "family": "neural", "fraction": 1.0, "applicable": False})
    return rows


def _write(tmp_path, name, seed):
    p = tmp_path / name
    p.write_text(json.dumps({"summary": {}, "rows": _rows(seed)}))
    return p


def test_fit_reports_every_statistic_and_writes_a_calibration_the_detector_reads(tmp_path):
    dev, ev = read_calls(_write(tmp_path, "dev.json", 0)), read_calls(_write(tmp_path, "eval.json", 1))
    assert len(dev) == 3 * 6 * 5  # the declined version carries no score and is left out
    results = evaluate(dev, ev, candidate_statistics(lambda v: np.asarray(v) / math.log(10)))
    assert set(results) == {"mean", "max", "top_quarter", "strongest_run"}
    tq = results["top_quarter"]
    assert tq["eval"]["spliced_100"]["auc"] > 0.95 and tq["eval"]["spliced_25"]["auc"] > tq["eval"]["spliced_10"]["auc"]
    assert tq["eval"]["genuine_calls"] == 18
    assert tq["dev_leave_one_speaker_out"]["genuine_calls"] == 18
    path = tmp_path / "call_calibration.json"
    cal = write_calibration(results, dev, "ab" * 32, path)
    assert cal.llr_range == pytest.approx((-math.log10(18 * 3), math.log10(18)))  # 10 % splices are not fitted
    loaded = load_call_calibration("ab" * 32, path)
    assert loaded is not None and loaded.a == pytest.approx(tq["a"]) and loaded.a > 0
    assert loaded.record["fitted_on"]["genuine"] == 18


def test_an_old_splice_eval_run_without_window_logits_is_refused(tmp_path):
    p = tmp_path / "old.json"
    p.write_text(json.dumps({"rows": [{"speaker": "a", "call": "a0", "family": "original", "fraction": 1.0,
                                       "seconds": 40.0, "applicable": True, "llr": -1.0}]}))
    with pytest.raises(SystemExit, match="older splice_eval"):
        read_calls(p)
