"""The speaker check's calibration: cosine similarity -> log10 likelihood ratio,
one fit per comparison band (``band.py``).

Written by ``python -m detectors.speaker.evaluate --write`` from measured
same/different-speaker trials; read here. Two fits per band: one for calls
and references that all read dry (``Speech.dry``: no room reverberation, no
noise removed), fit on clean recordings, and one fit on clean recordings
plus calls through rooms and steady noise for everything else. The second
has to stay honest for a genuine speaker on a speakerphone, which costs
evidence against impostors; the first gives that evidence back when the
recordings show no room. The LLR is for "not the claimed
speaker" (H1) against "the claimed speaker" (H0), so it adds to the other
detectors' evidence with the project's sign: positive supports a problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from detectors.calibration_file import load_calibration_json
from detectors.speaker.speech import DRY_DECAY_DB

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
    bands: dict[str, BandCalibration]  # rooms and noise allowed for
    dry_bands: dict[str, BandCalibration]  # call and every reference dry
    dry_decay_db: float  # the dryness threshold the dry fits were measured with
    encoder_sha256: str
    sha256: str
    validation: str

    def for_call(self, band: str, dry: bool) -> BandCalibration:
        return (self.dry_bands if dry else self.bands)[band]


@lru_cache(maxsize=2)
def load_calibration(path: Path = CALIBRATION_PATH) -> SpeakerCalibration:
    def build(d: dict, sha256: str) -> SpeakerCalibration:
        def fits(key: str) -> dict[str, BandCalibration]:
            return {k: BandCalibration(float(v["coef"]), float(v["bias"]), str(v["combine"]), float(v["match_threshold"]))
                    for k, v in d[key].items()}

        if float(d["dry_decay_db"]) != DRY_DECAY_DB:  # ValueError -> SpeakerCalibrationError with the fix
            raise ValueError(f"its dry fits were measured with speech read as dry at {d['dry_decay_db']} dB, the "
                             f"detector reads it at {DRY_DECAY_DB} dB")
        m = d["metrics"]["heldout_routed"]
        return SpeakerCalibration(
            bands=fits("bands"), dry_bands=fits("dry_bands"), dry_decay_db=float(d["dry_decay_db"]),
            encoder_sha256=str(d["encoder_sha256"]), sha256=sha256,
            validation=(f"{d['metrics']['speakers']} speakers ({d['metrics']['utterances']} utterances: FSDD, Debian "
                        f"asterisk/klettres/pocketsphinx, shared clips), held out by speaker: AUC {m['auc']:.3f}, "
                        f"EER {m['eer']:.3f}, Cllr {m['cllr']:.3f}; at LLR 0 FMR {m['fmr_llr_le_0']:.3f}, "
                        f"FNMR {m['fnmr_llr_gt_0']:.3f}"
                        + "; recordings that read dry are calibrated on clean trials, the rest on clean trials and, "
                          "weighted alike, calls through rooms (speakerphone reverberation) and steady noise"
                        + ". Not a spoof detector: voice clones can match "
                        "(detectors/speaker/MODEL_CARD.md)"),
        )

    return load_calibration_json(path, build, SpeakerCalibrationError, "speaker calibration",
                                 "python -m detectors.speaker.evaluate --write")
