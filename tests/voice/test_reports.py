"""Model card sections (leave-one-family-out, unseen bona fide) and the condition breakdown, from files."""

import csv
import json

import numpy as np
import pytest

from detectors.voice_clone.calibration import Calibration
from detectors.voice_clone.models import MODEL_CONFIGS, create_model
from detectors.voice_clone.scoring import ModelBundle


def _bundle(path):
    cfg = MODEL_CONFIGS["lfcc_lcnn"]
    n = cfg.n_features
    b = ModelBundle(cfg, create_model("lfcc_lcnn"), np.zeros(n, np.float32), np.ones(n, np.float32), Calibration(1.0, 0.0),
                    {"train_config": {"epochs": 6, "exclude_families": ["world"]}})
    b.save(path)
    return path


def _metrics(model, fams):
    return {
        "overall": {"eer": 0.1, "auc": 0.9, "min_dcf": 0.5, "cllr": 0.6},
        "bonafide_false_alarm": {"llr_gt_0": 0.05, "llr_gt_1": 0.01},
        "per_family": {f: {"eer": e, "auc": 1 - e} for f, e in fams.items()},
        "dataset": {"path": "c", "format": "corpus", "split": "eval", "trials": 10},
        "model": {"path": str(model)},
    }


def test_model_card_has_lofo_and_unseen_sections(tmp_path):
    from detectors.voice_clone.model_card import main

    m = _bundle(tmp_path / "m.pt")
    lofo_model = _bundle(tmp_path / "lofo.pt")
    (tmp_path / "main.json").write_text(json.dumps(_metrics(m, {"world": 0.2, "lpc": 0.3})))
    (tmp_path / "lofo.json").write_text(json.dumps(_metrics(lofo_model, {"world": 0.35, "lpc": 0.3})))
    (tmp_path / "unseen.json").write_text(json.dumps({
        "files": 61, "fsdd_files": 60,
        "model_level": {"fa_llr_gt_0": 0.25, "fa_llr_gt_1": 0.1, "median_llr": -0.4, "jfk_llr": 0.3},
        "verify_finance": {"likely_manipulated": 0.0984, "labels": {"likely_manipulated": 6, "inconclusive": 55},
                           "detector_not_applicable": 0},
        "heldout_speakers": {
            "files": 300, "model_level": {"fa_llr_gt_0": 0.12, "fa_llr_gt_1": 0.02, "median_llr": -0.5},
            "verify_finance": {"likely_manipulated": 0.0, "likely_manipulated_upper95": 0.00994,
                               "labels": {"inconclusive": 300}, "detector_not_applicable": 4,
                               "by_speaker": {"speakers": 12, "speakers_flagged": 0, "speakers_flagged_upper95": 0.221,
                                              "file_rate_speaker_bootstrap_upper95": 0.0,
                                              "flagged_files_by_speaker": {}}},
            "per_speaker_fa_llr_gt_0": {"klettres-fr": [1.0, 14]},
        },
    }))
    (tmp_path / "pre.md").write_text("**Status: not evidence.**\n")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main([str(m), str(tmp_path / "main.json"), "--unseen", str(tmp_path / "unseen.json"),
              "--lofo", f"world={tmp_path / 'lofo.json'}", "--preamble", str(tmp_path / "pre.md")])
    card = buf.getvalue()
    assert card.index("**Status: not evidence.**") < card.index("## Measured")
    assert "| world | 0.3500 | 0.6500 | 0.2000 | 6 |" in card
    assert "at LLR > 0: 0.250" in card and "`likely_manipulated` for 0.098" in card
    assert "300 recordings of the eval-split speakers" in card and "upper bound 0.0099" in card
    assert "klettres-fr 1.00 (14)" in card
    assert "0 of 12 speakers had a file flagged (95 % bound 0.22)" in card


def test_false_alarms_that_cluster_on_one_voice_get_a_wider_bound_than_independent_files():
    from detectors.voice_clone.unseen_bonafide import _upper95, speaker_level, speaker_of

    assert speaker_of("heldout_klettres-hu_003_abc_d.wav") == "klettres-hu"
    assert speaker_of("fsdd_george_07.wav") == "george" and speaker_of("jfk.flac") == "jfk.flac"
    # 13 voices of 40 files; one voice flagged on 3 of its files
    flags = {f"v{i}": [False] * 40 for i in range(13)}
    flags["v5"][:3] = [True] * 3
    by = speaker_level(flags)
    assert by["speakers"] == 13 and by["speakers_flagged"] == 1 and by["flagged_files_by_speaker"] == {"v5": [3, 40]}
    assert by["file_rate_speaker_bootstrap_upper95"] > _upper95(3, 13 * 40)
    assert by["speakers_flagged_upper95"] == pytest.approx(_upper95(1, 13))
    # the same 3 flags spread over 3 voices: the speaker bootstrap narrows
    spread = {f"v{i}": [i < 3] + [False] * 39 for i in range(13)}
    assert speaker_level(spread)["file_rate_speaker_bootstrap_upper95"] < by["file_rate_speaker_bootstrap_upper95"]
    clean = speaker_level({f"v{i}": [False] * 40 for i in range(13)})
    assert clean["file_rate_speaker_bootstrap_upper95"] == 0.0 and clean["speakers_flagged"] == 0


def test_breakdown_by_band_codec_and_speaker(tmp_path):
    from detectors.voice_clone.breakdown import breakdown

    fields = ["file_id", "split", "speaker", "key", "family", "attack", "lang", "band", "codec", "snr_db", "rt60_s",
              "duration_s", "native_rate", "origin"]
    rows, scores = [], []
    for i in range(8):
        spoof = i % 2
        band = "tel" if i < 4 else "wide"
        fid = f"f{i}"
        rows.append({"file_id": fid, "split": "eval", "speaker": f"s{i}", "key": "spoof" if spoof else "bonafide",
                     "family": "world" if spoof else "-", "attack": "-", "lang": "en", "band": band,
                     "codec": "mp3" if i in (0, 1) else "none", "snr_db": "", "rt60_s": "", "duration_s": 2,
                     "native_rate": 16000, "origin": "x"})
        # telephone band separates perfectly, wide band is inverted
        s = (1.0 if spoof else -1.0) * (1 if band == "tel" else -1)
        scores.append(f"/c/flac/{fid}.flac\t{spoof}\t{'world' if spoof else '-'}\t{s}\t{s}\n")
    with open(tmp_path / "metadata.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "scores.tsv").write_text("".join(scores))
    res = breakdown(tmp_path / "ev", tmp_path)
    c = {x["condition"].split(" ")[0]: x for x in res["conditions"]}
    assert c["telephone"]["eer"] == 0.0 and c["wide"]["eer"] == 1.0
    assert c["codec"]["n_bonafide"] == 1 and c["codec"]["n_spoof"] == 1
    assert res["bonafide_speakers"]["s0"] == {"n": 1, "fa_llr_gt_0": 0.0, "median_llr": -1.0}
    assert res["bonafide_speakers"]["s4"]["fa_llr_gt_0"] == 1.0 and len(res["bonafide_speakers"]) == 4
