"""The one processing chain every corpus item goes through, whatever its class.

A spoofing corpus is only as good as the shortcuts it does not contain. If
bona fide prompts are 8 kHz telephone audio with 300 ms of leading silence
and TTS output is 22 kHz with none, a model learns the sample rate and the
silence, not synthesis (ASVspoof 2019 LA had exactly this flaw). So both
classes get: the same output rate, the same band (telephone or wide band,
chosen per item independently of the class), the same silence trimming, the
same length distribution, the same loudness target, and the same random
augmentation (reverb, noise, codec). ``shortcut_features`` measures what is
left, for the logistic-regression shortcut check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
from scipy.signal import fftconvolve

from audio.encode import codec_roundtrip
from audio.loudness import normalize_loudness
from audio.resample import resample, telephone_band, wide_band
from audio.vad import energy_vad, trim_silence

Band = Literal["tel", "wide"]
TEL_CODECS = ("none", "mulaw", "alaw", "g726", "amr", "mp3", "opus")
WIDE_CODECS = ("none", "mp3", "aac", "opus")


@dataclass(frozen=True)
class ChainConfig:
    rate: int = 16_000
    target_lufs: float = -26.0
    lufs_jitter: float = 4.0  # uniform +- dB around the target, same for both classes
    min_s: float = 1.0
    crop_min_s: float = 1.5
    crop_max_s: float = 6.0
    keep_silence_ms: float = 80.0
    p_reverb: float = 0.2
    p_noise: float = 0.3
    snr_db: tuple[float, float] = (10.0, 35.0)
    p_codec: float = 0.6


@dataclass(frozen=True)
class ChainMeta:
    band: Band
    codec: str
    snr_db: float | None
    rt60_s: float | None
    duration_s: float
    gain_db: float


class TooShortError(ValueError):
    """The item has less than ``min_s`` of audio after silence trimming."""


@dataclass
class Chain:
    cfg: ChainConfig = field(default_factory=ChainConfig)

    def run(self, x: np.ndarray, rate: int, band: Band, rng: np.random.Generator) -> tuple[np.ndarray, ChainMeta]:
        cfg = self.cfg
        if band == "wide" and rate < cfg.rate:
            raise ValueError(f"a {rate} Hz source cannot be put in the wide band")
        y = resample(x, rate, cfg.rate)
        y = telephone_band(y, cfg.rate) if band == "tel" else wide_band(y, cfg.rate)
        y = trim_silence(y, cfg.rate, keep_ms=cfg.keep_silence_ms)
        if len(y) < cfg.min_s * cfg.rate:
            raise TooShortError(f"{len(y) / cfg.rate:.2f} s after trimming")
        target_len = int(rng.uniform(cfg.crop_min_s, cfg.crop_max_s) * cfg.rate)
        if len(y) > target_len:
            start = int(rng.integers(0, len(y) - target_len + 1))
            y = y[start : start + target_len]
        rt60 = None
        if rng.random() < cfg.p_reverb:
            rt60 = float(rng.uniform(0.15, 0.6))
            y = _reverberate(y, cfg.rate, rt60, rng)
        y = normalize_loudness(y, cfg.rate, cfg.target_lufs).samples
        snr = None
        if rng.random() < cfg.p_noise:
            snr = float(rng.uniform(*cfg.snr_db))
            y = _add_noise(y, snr, rng, band, cfg.rate)
        codec = "none"
        if rng.random() < cfg.p_codec:
            choices = TEL_CODECS if band == "tel" else WIDE_CODECS
            codec = str(choices[int(rng.integers(1, len(choices)))])
            y = codec_roundtrip(y, cfg.rate, codec)
        target = cfg.target_lufs + float(rng.uniform(-cfg.lufs_jitter, cfg.lufs_jitter))
        norm = normalize_loudness(y, cfg.rate, target)
        y = norm.samples
        return y, ChainMeta(band, codec, snr, rt60, len(y) / cfg.rate, norm.gain_db)


def _reverberate(y: np.ndarray, rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """Exponentially decaying noise impulse response (a diffuse room), direct path first."""
    n = int(rt60 * rate)
    t = np.arange(n) / rate
    rir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    rir[0] = 1.0 / 0.3  # direct-to-reverberant ratio around +10 dB for short rooms
    rir /= np.sqrt(np.sum(rir**2))
    return fftconvolve(y, rir)[: len(y)].astype(np.float32)


def _add_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator, band: Band, rate: int) -> np.ndarray:
    """White or pink noise at ``snr_db`` relative to the speech frames, limited to the item's band."""
    n = rng.standard_normal(len(y))
    if rng.random() < 0.5:  # pink: 1/f power
        spec = np.fft.rfft(n)
        f = np.arange(len(spec))
        spec[1:] /= np.sqrt(f[1:])
        n = np.fft.irfft(spec, len(y))
    n = (telephone_band(n.astype(np.float32), rate) if band == "tel" else wide_band(n.astype(np.float32), rate))
    segs = energy_vad(y, rate)
    if segs:
        idx = np.concatenate([np.arange(int(s.start_s * rate), min(len(y), int(s.end_s * rate))) for s in segs])
        p_sig = float(np.mean(y[idx] ** 2))
    else:
        p_sig = float(np.mean(y**2))
    p_n = float(np.mean(n**2)) + 1e-12
    return (y + n * np.sqrt(p_sig / p_n / 10 ** (snr_db / 10))).astype(np.float32)


SHORTCUT_FEATURES = ("duration_s", "rms_db", "lead_silence_s", "trail_silence_s", "rolloff_hz", "file_rate_khz")


def shortcut_features(y: np.ndarray, rate: int, file_rate: int) -> dict[str, float]:
    """Cheap properties a detector should not be able to use: if a logistic
    regression on these separates the classes (AUC > 0.6), the corpus leaks."""
    segs = energy_vad(y, rate)
    lead = segs[0].start_s if segs else len(y) / rate
    trail = (len(y) / rate - segs[-1].end_s) if segs else 0.0
    spec = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    c = np.cumsum(spec)
    roll = float(np.searchsorted(c, 0.95 * c[-1]) * (rate / 2) / max(1, len(spec) - 1)) if c[-1] > 0 else 0.0
    return {
        "duration_s": len(y) / rate,
        "rms_db": float(20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)) + 1e-9)),
        "lead_silence_s": float(lead),
        "trail_silence_s": float(max(0.0, trail)),
        "rolloff_hz": roll,
        "file_rate_khz": file_rate / 1000.0,
    }


def meta_dict(meta: ChainMeta) -> dict:
    return asdict(meta)
