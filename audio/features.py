"""Spectral features for the voice models: LFCC, log-mel and group delay, in numpy.

LFCC (linear-frequency cepstral coefficients) keep the high-frequency detail
where vocoders leave their artefacts, which is why they are the ASVspoof
baseline; log-mel is the common input of CNN detectors and of the
spectrogram pictures. The modified group delay keeps what every magnitude
feature throws away: the phase, which resynthesis has to make up (Griffin-Lim
estimates it, WORLD builds minimum-phase pulses, a GAN upsamples a waveform).
Plain numpy keeps feature extraction independent of the training framework
and identical at training and inference time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StftConfig:
    n_fft: int = 512
    win_length: int = 320  # 20 ms at 16 kHz
    hop_length: int = 160  # 10 ms at 16 kHz


@dataclass(frozen=True)
class LfccConfig:
    stft: StftConfig = StftConfig()
    n_filters: int = 20
    n_ceps: int = 20
    deltas: bool = True  # append delta and delta-delta: 3 * n_ceps features
    fmin: float = 0.0
    fmax: float | None = None

    def n_features(self) -> int:
        return self.n_ceps * (3 if self.deltas else 1)


@dataclass(frozen=True)
class LogSpecConfig:
    """Log power per FFT bin between ``fmin`` and ``fmax``: no filterbank and no
    cepstral truncation, so the harmonic fine structure (and the noise between
    harmonics that vocoders get wrong) survives. A 32 ms window resolves
    harmonics 100 Hz apart; LFCC's 20 ms window and 30 cepstra keep the envelope only."""

    stft: StftConfig = StftConfig(n_fft=512, win_length=512, hop_length=160)
    fmin: float = 200.0
    fmax: float = 3800.0

    def bins(self, rate: int) -> slice:
        return _band_bins(self.fmin, self.fmax, self.stft.n_fft, rate)

    def n_bins(self, rate: int) -> int:
        b = self.bins(rate)
        return b.stop - b.start


@dataclass(frozen=True)
class MgdConfig:
    """Modified group delay cepstra (Hegde, Murthy and Gadde 2007; MGDCC in ASVspoof 2015).

    The group delay of a frame is -d(phase)/d(omega), computed without phase
    unwrapping from the spectra of x[n] and n*x[n]. Zeros near the unit circle
    make it spiky, so it is divided by a cepstrally smoothed magnitude raised
    to 2*gamma and compressed by |.|^alpha; the band's values then go through
    a DCT like LFCC's filter energies."""

    stft: StftConfig = StftConfig()
    fmin: float = 200.0
    fmax: float = 3800.0
    n_ceps: int = 30
    deltas: bool = True
    alpha: float = 0.4
    gamma: float = 0.9
    lifter: int = 30  # cepstra kept for the smoothed magnitude

    def n_features(self) -> int:
        return self.n_ceps * (3 if self.deltas else 1)


@dataclass(frozen=True)
class MelConfig:
    stft: StftConfig = StftConfig(n_fft=512, win_length=400, hop_length=160)
    n_mels: int = 80
    fmin: float = 20.0
    fmax: float | None = None


def windowed_frames(x: np.ndarray, cfg: StftConfig = StftConfig()) -> np.ndarray:
    """Hann-windowed frames, shape (frames, n_fft). Centred frames (reflect pad)."""
    x = np.asarray(x, np.float32)
    if cfg.win_length > cfg.n_fft:
        raise ValueError("win_length must not exceed n_fft")
    pad = cfg.n_fft // 2
    if x.size == 0:
        return np.zeros((0, cfg.n_fft), np.float32)
    mode = "reflect" if x.size > pad else "constant"
    xp = np.pad(x, pad, mode=mode)
    if xp.size < cfg.n_fft:
        xp = np.pad(xp, (0, cfg.n_fft - xp.size))
    frames = np.lib.stride_tricks.sliding_window_view(xp, cfg.n_fft)[:: cfg.hop_length]
    win = np.zeros(cfg.n_fft, np.float32)
    off = (cfg.n_fft - cfg.win_length) // 2
    win[off : off + cfg.win_length] = np.hanning(cfg.win_length + 2)[1:-1]
    return frames * win


def power_spectrogram(x: np.ndarray, cfg: StftConfig = StftConfig()) -> np.ndarray:
    """Power spectrum, shape (frames, n_fft // 2 + 1). Centred frames (reflect pad)."""
    spec = np.fft.rfft(windowed_frames(x, cfg), axis=1)
    return (spec.real**2 + spec.imag**2).astype(np.float32)


def _triangles(edges_hz: np.ndarray, n_fft: int, rate: int) -> np.ndarray:
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    up = (freqs[None, :] - lo) / np.maximum(mid - lo, 1e-9)
    down = (hi - freqs[None, :]) / np.maximum(hi - mid, 1e-9)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


def linear_filterbank(n_filters: int, n_fft: int, rate: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    fmax = fmax or rate / 2
    return _triangles(np.linspace(fmin, fmax, n_filters + 2), n_fft, rate)


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10 ** (np.asarray(m, np.float64) / 2595.0) - 1.0)


def slaney_hz_to_mel(f):
    """Slaney's mel scale (linear below 1 kHz, logarithmic above): librosa's
    default, which pretrained models such as the GE2E speaker encoder used."""
    f = np.asarray(f, np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / logstep, f / (200.0 / 3))


def slaney_mel_to_hz(m):
    m = np.asarray(m, np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * (200.0 / 3))


def mel_filterbank(n_mels: int, n_fft: int, rate: int, fmin: float = 20.0, fmax: float | None = None,
                   scale: str = "htk") -> np.ndarray:
    """Mel triangles on the HTK (default) or Slaney mel scale, area-normalised
    (Slaney) so bands are comparable."""
    fmax = fmax or rate / 2
    to_mel, to_hz = (slaney_hz_to_mel, slaney_mel_to_hz) if scale == "slaney" else (hz_to_mel, mel_to_hz)
    edges = to_hz(np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2))
    fb = _triangles(edges, n_fft, rate)
    return (fb * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II, shape (n_out, n_in)."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    m = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    m[0] /= np.sqrt(2.0)
    return m.astype(np.float32)


def deltas(feat: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas over +-``width`` frames (edge frames repeated)."""
    if feat.shape[0] == 0:
        return feat.copy()
    padded = np.pad(feat, ((width, width), (0, 0)), mode="edge")
    denom = 2 * sum(i * i for i in range(1, width + 1))
    n = feat.shape[0]
    out = np.zeros_like(feat)
    for i in range(1, width + 1):
        out += i * (padded[width + i : width + i + n] - padded[width - i : width - i + n])
    return out / denom


def with_deltas(ceps: np.ndarray, on: bool = True) -> np.ndarray:
    """Cepstra with their deltas and delta-deltas appended (``on``), as float32."""
    if on:
        d = deltas(ceps)
        ceps = np.concatenate([ceps, d, deltas(d)], axis=1)
    return ceps.astype(np.float32)


def lfcc(x: np.ndarray, rate: int, cfg: LfccConfig = LfccConfig()) -> np.ndarray:
    """LFCC features, shape (frames, n_ceps * (3 if deltas else 1))."""
    p = power_spectrogram(x, cfg.stft)
    fb = linear_filterbank(cfg.n_filters, cfg.stft.n_fft, rate, cfg.fmin, cfg.fmax)
    return with_deltas(np.log(p @ fb.T + 1e-8) @ dct_matrix(cfg.n_filters, cfg.n_ceps).T, cfg.deltas)


def _band_bins(fmin: float, fmax: float, n_fft: int, rate: int) -> slice:
    freqs = np.arange(n_fft // 2 + 1) * rate / n_fft
    inside = np.flatnonzero((freqs >= fmin) & (freqs <= fmax))
    return slice(int(inside[0]), int(inside[-1]) + 1)


def modified_group_delay(x: np.ndarray, rate: int, cfg: MgdConfig = MgdConfig()) -> np.ndarray:
    """The compressed modified group delay of every FFT bin in the band, shape (frames, bins)."""
    frames = windowed_frames(x, cfg.stft)
    n = np.arange(cfg.stft.n_fft, dtype=np.float32)
    spec_x = np.fft.rfft(frames, axis=1)
    spec_nx = np.fft.rfft(frames * n, axis=1)
    # smoothed magnitude, raised to 2 * gamma in the log domain: the log
    # magnitude's first `lifter` cepstra only
    log_mag = np.log(np.abs(spec_x) + 1e-8)
    ceps = np.fft.irfft(log_mag, n=cfg.stft.n_fft, axis=1)
    ceps[:, cfg.lifter : cfg.stft.n_fft - cfg.lifter + 1] = 0.0
    band = _band_bins(cfg.fmin, cfg.fmax, cfg.stft.n_fft, rate)
    smooth_pow = np.exp(2 * cfg.gamma * np.fft.rfft(ceps, axis=1).real[:, band])
    spec_x, spec_nx = spec_x[:, band], spec_nx[:, band]
    tau = (spec_x.real * spec_nx.real + spec_x.imag * spec_nx.imag) / (smooth_pow + 1e-8)
    return (np.sign(tau) * np.abs(tau) ** cfg.alpha).astype(np.float32)


def mgdcc(x: np.ndarray, rate: int, cfg: MgdConfig = MgdConfig()) -> np.ndarray:
    """Modified group delay cepstra, shape (frames, n_ceps * (3 if deltas else 1))."""
    g = modified_group_delay(x, rate, cfg)
    return with_deltas(g @ dct_matrix(g.shape[1], cfg.n_ceps).T, cfg.deltas)


def log_spectrogram(x: np.ndarray, rate: int, cfg: LogSpecConfig = LogSpecConfig()) -> np.ndarray:
    """Natural-log power of the FFT bins in the band, shape (frames, cfg.n_bins(rate))."""
    p = power_spectrogram(x, cfg.stft)[:, cfg.bins(rate)]
    return np.log(p + 1e-8).astype(np.float32)


def log_mel(x: np.ndarray, rate: int, cfg: MelConfig = MelConfig()) -> np.ndarray:
    """Natural-log mel energies, shape (frames, n_mels)."""
    p = power_spectrogram(x, cfg.stft)
    fb = mel_filterbank(cfg.n_mels, cfg.stft.n_fft, rate, cfg.fmin, cfg.fmax)
    return np.log(p @ fb.T + 1e-8).astype(np.float32)
