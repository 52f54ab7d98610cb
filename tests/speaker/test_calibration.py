"""calibration.json: the shipped fit is sane, and it is what evaluate.py computes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detectors.speaker.calibration import CALIBRATION_PATH, LLR_CLIP, load_calibration
from detectors.speaker.encoder import model_sha256
from detectors.speaker.speech import DRY_DECAY_DB


def test_shipped_calibration_is_sane():
    d = json.loads(CALIBRATION_PATH.read_text())
    cal = load_calibration()
    assert cal.encoder_sha256 == model_sha256() == d["encoder_sha256"]
    assert set(cal.bands) == set(cal.dry_bands) == {"wideband", "telephone"}
    assert cal.dry_decay_db == DRY_DECAY_DB  # the detector reads dryness as the dry fits were measured
    for b in [*cal.bands.values(), *cal.dry_bands.values()]:
        assert b.coef < 0  # more similar voices -> evidence for "the claimed speaker"
        assert 0.5 < b.match_threshold < 0.95
        assert b.llr(b.match_threshold) == pytest.approx(0.0, abs=1e-3)  # threshold stored to 4 decimals
        assert b.llr(1.0) < 0 < b.llr(0.3)
        assert b.llr(-1.0) == LLR_CLIP
    m = d["metrics"]
    assert m["speakers"] >= 20
    held = m["heldout_routed"]
    assert held["auc"] > 0.95 and held["eer"] < 0.1 and held["cllr"] < 0.5
    assert "held out by speaker" in cal.validation


def test_a_calibration_measured_with_another_dryness_threshold_is_refused(tmp_path):
    """The dry fits only hold for calls read dry the way they were measured."""
    from detectors.speaker.calibration import SpeakerCalibrationError

    d = json.loads(CALIBRATION_PATH.read_text())
    d["dry_decay_db"] = DRY_DECAY_DB - 4
    p = tmp_path / "calibration.json"
    p.write_text(json.dumps(d))
    with pytest.raises(SpeakerCalibrationError, match="read as dry at"):
        load_calibration(p)


@pytest.mark.slow
def test_calibration_is_what_evaluate_computes(capsys):
    from detectors.speaker import corpus
    from detectors.speaker.evaluate import main

    if not (corpus.MEDIA / "audio/fsdd/speakers.json").is_file():
        pytest.skip("shared media not present")
    if missing := corpus.missing_packages():
        pytest.skip(f"Debian speech packages not installed: {'; '.join(missing)}")
    assert main(["--skip-extras"]) == 0
    fresh = json.loads(capsys.readouterr().out)
    shipped = json.loads(CALIBRATION_PATH.read_text())["metrics"]
    if fresh["speakers"] != shipped["speakers"]:
        pytest.skip("a different set of speech packages is installed here than when calibration.json was written")
    for key in ("auc", "eer", "cllr"):
        assert np.isclose(fresh["heldout_routed"][key], shipped["heldout_routed"][key], atol=0.01)
    assert fresh["combine"] == shipped["combine"]
