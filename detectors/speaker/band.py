"""Wide band or telephone band: compare voices in the band both sides share.

Measured (docs/speaker.md, "channel"): enrolling from a wide-band
recording and testing the same speaker through the 300-3400 Hz telephone
band lowers same-speaker similarity so far that most genuine calls are
rejected by a wide-band calibration, and with both sides narrow band,
different speakers look more alike than in wide band. So each reference is embedded twice, as
recorded and through the telephone band, and a comparison is made in the
telephone band, with its own calibration, whenever either side is narrow
band. A recording counts as narrow band when the speech has almost no
energy above 4.2 kHz: 8 kHz sources measured -42 to -59 dB, wide-band ones
-10 to -28 dB, so the -35 dB threshold has a wide margin.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from audio.resample import telephone_band

Band = Literal["wideband", "telephone"]
NARROWBAND_BELOW_DB = -35.0
HIGH_BAND_HZ = 4200.0


def high_band_db(x: np.ndarray, rate: int = 16_000) -> float:
    """Energy above 4.2 kHz relative to the total, in dB."""
    x = np.asarray(x, np.float64)
    if x.size < 256 or not np.any(x):
        return float("-inf")
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1.0 / rate)
    return float(10 * np.log10(p[f > HIGH_BAND_HZ].sum() / p.sum() + 1e-12))


def is_narrowband(x: np.ndarray, rate: int = 16_000) -> bool:
    return high_band_db(x, rate) < NARROWBAND_BELOW_DB


def to_telephone(x: np.ndarray, rate: int = 16_000) -> np.ndarray:
    """300-3400 Hz at 8 kHz and back to ``rate``: what a phone call leaves."""
    return telephone_band(np.asarray(x, np.float32), rate)


def choose_band(test_narrowband: bool, refs_narrowband: tuple[bool, ...] | list[bool]) -> Band:
    return "telephone" if test_narrowband or any(refs_narrowband) else "wideband"
