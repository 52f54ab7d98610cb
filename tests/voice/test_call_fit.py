"""The call-level fit runs from splice_eval output to a calibration the detector loads."""

import json
import math

import numpy as np
import pytest

from detectors.voice_clone.call_fit import CANDIDATES, evaluate, read_scored, write_calibration
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
            rows.append({"speaker": spk, "call": f"{spk}s{i}", "family": "original_single", "fraction": 1.0,
                         "seconds": 4.0, "applicable": True, "logits": rng.normal(-1.5, 0.7, 1).tolist()})
            for frac in (0.1, 0.25, 0.5, 1.0):
                x = base.copy()
                k = max(1, int(round(n * frac)))
                a = (n - k) // 2
                x[a : a + k] += 2.5
                rows.append({"speaker": spk, "call": f"{spk}{i}", "family": "world", "fraction": frac,
                             "seconds": n + 3.0, "applicable": True, "logits": x.tolist()})
    for v in ("tts1", "tts2"):
        for i in range(5):
            rows.append({"speaker": v, "call": f"{v}_{i}", "family": "tts_diphone", "fraction": 1.0, "seconds": 5.0,
                         "applicable": True, "logits": rng.normal(2.0, 0.7, int(rng.integers(1, 10))).tolist()})
    rows.append({"speaker": "c", "call": "c9", "family": "neural", "fraction": 1.0, "applicable": False})
    return rows


def _write(tmp_path, name, seed):
    p = tmp_path / name
    p.write_text(json.dumps({"summary": {}, "rows": _rows(seed)}))
    return p


def test_fit_reports_every_candidate_and_writes_a_calibration_the_detector_reads(tmp_path):
    dev, ev = read_scored([_write(tmp_path, "dev.json", 0)]), read_scored([_write(tmp_path, "eval.json", 1)])
    assert len(dev) == 3 * 6 * 6 + 10  # the declined version carries no score and is left out
    results = evaluate(dev, ev)
    assert set(results) == set(CANDIDATES)
    r = results["max"]["eval"]
    assert r["spliced_100"]["auc"] > 0.95 and r["spliced_25"]["auc"] > r["spliced_10"]["auc"]
    assert r["genuine_calls"] == 18 and r["genuine_singles"] == 18 and r["tts_diphone"]["n"] == 10
    assert results["max"]["dev_leave_one_speaker_out"]["genuine_calls"] == 18
    path = tmp_path / "call_calibration.json"
    cal = write_calibration(results, dev, "ab" * 32, "max", path)
    assert cal.llr_range == pytest.approx((-math.log10(18 * 3 + 10), math.log10(36)))  # 10 % splices are not fitted
    loaded = load_call_calibration("ab" * 32, path)
    assert loaded is not None and loaded.features == ("max",) and loaded.coef[0] > 0
    assert loaded.record["fitted_on"]["genuine"] == 36


def test_an_old_splice_eval_run_without_window_logits_is_refused(tmp_path):
    p = tmp_path / "old.json"
    p.write_text(json.dumps({"rows": [{"speaker": "a", "call": "a0", "family": "original", "fraction": 1.0,
                                       "seconds": 40.0, "applicable": True, "llr": -1.0}]}))
    with pytest.raises(SystemExit, match="older splice_eval"):
        read_scored([p])
