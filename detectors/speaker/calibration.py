"""The speaker check's calibration: cosine similarity -> log10 likelihood ratio,
one fit per comparison band (``band.py``).

Written by ``python -m detectors.speaker.evaluate --write`` from measured
same/different-speaker trials; read here. The LLR is for "not the claimed
speaker" (H1) against "the claimed speaker" (H0), so it adds to the other
detectors' evidence with the project's sign: positive supports a problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from detectors.calibration_file import load_calibration_json

CALIBRATION_PATH = Path(__file__).with_name("calibration.json")
# A few dozen speakers, mostly studio prompts: an LR beyond 1000:1 either way
# would claim more than this data can show.
LLR_CLIP = 3.0


class SpeakerCalibrationError(RuntimeError):
    """calibration.json is missing or malformed; rerun ``python -m detectors.speaker.evaluate --write``."""


@dataclass(frozen=True)
class BandCalibration:
    coef: float
    bias: float
    combine: str  # how reference embeddings are combined: centroid, max or mean
    match_threshold: float  # similarity at LLR 0

    def llr(self, similarity: float) -> float:
        return float(np.clip((similarity * self.coef + self.bias) / np.log(10), -LLR_CLIP, LLR_CLIP))


@dataclass(frozen=True)
class SpeakerCalibration:
    bands: dict[str, BandCalibration]
    encoder_sha256: str
    sha256: str
    validation: str


@lru_cache(maxsize=2)
def load_calibration(path: Path = CALIBRATION_PATH) -> SpeakerCalibration:
    def build(d: dict, sha256: str) -> SpeakerCalibration:
        bands = {k: BandCalibration(float(v["coef"]), float(v["bias"]), str(v["combine"]), float(v["match_threshold"]))
                 for k, v in d["bands"].items()}
        m = d["metrics"]["heldout_routed"]
        return SpeakerCalibration(
            bands=bands, encoder_sha256=str(d["encoder_sha256"]), sha256=sha256,
            validation=(f"{d['metrics']['speakers']} speakers ({d['metrics']['utterances']} utterances: FSDD, Debian "
                        f"asterisk/klettres/pocketsphinx, shared clips), held out by speaker: AUC {m['auc']:.3f}, "
                        f"EER {m['eer']:.3f}, Cllr {m['cllr']:.3f}; at LLR 0 FMR {m['fmr_llr_le_0']:.3f}, "
                        f"FNMR {m['fnmr_llr_gt_0']:.3f}"
                        + ("; fit on clean trials and, weighted alike, calls through rooms (speakerphone reverberation) "
                           "and steady noise" if "calibration_conditions" in d["metrics"] else "")
                        + ". Not a spoof detector: voice clones can match "
                        "(detectors/speaker/MODEL_CARD.md)"),
        )

    return load_calibration_json(path, build, SpeakerCalibrationError, "speaker calibration",
                                 "python -m detectors.speaker.evaluate --write")
