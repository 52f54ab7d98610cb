"""Resynthesis spoof families: real recordings pushed through a vocoder.

These are the hardest and most honest spoofs the machine can make: the same
speaker, words, timing, level and channel as the bona fide file, so the only
thing left to detect is what the vocoder did to the signal. Every function
takes mono float32 at its native rate and returns the same length and rate.

- ``world``: WORLD analysis/synthesis (DIO + StoneMask F0, CheapTrick
  envelope, D4C aperiodicity) via pyworld.
- ``griffinlim``: magnitude mel spectrogram -> pseudo-inverse -> Griffin-Lim
  phase reconstruction, as a mel-spectrogram TTS front end without a neural
  vocoder would produce.
- ``lpc``: linear-prediction envelope driven by a pulse train (voiced) or
  noise (unvoiced), the classic source-filter vocoder.
- ``neural``: a small HiFi-GAN style vocoder (``gan_vocoder``: log-mel 80 bands
  at 16 kHz -> transposed-convolution upsampling + dilated residual blocks),
  trained here on the bona fide TRAIN-split speech and shipped next to this
  file as ``gan_vocoder.pt`` (float16). Without that file it raises
  ``FamilyUnavailableError`` with the command that trains it.
"""

from __future__ import annotations

import importlib
import sys
import types
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.linalg import solve_toeplitz
from scipy.signal import istft, lfilter, stft

from audio.features import mel_filterbank


class FamilyUnavailableError(RuntimeError):
    """A spoof family cannot run on this machine; the message says what to install or build."""


def import_pyworld():
    """Import pyworld; 0.3.5 still imports the removed ``pkg_resources`` for its version.

    When setuptools no longer ships pkg_resources, a two-line stand-in that
    answers ``get_distribution(name).version`` from importlib.metadata is put in
    ``sys.modules`` first. Nothing else of pkg_resources is used by pyworld.
    """
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pkg_resources")
        shim.get_distribution = lambda name: types.SimpleNamespace(version=dist_version(name))  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
    return importlib.import_module("pyworld")


def world_resynth(x: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    try:
        pw = import_pyworld()
    except ImportError as exc:
        raise FamilyUnavailableError(f"the WORLD family needs pyworld (pip install pyworld==0.3.5): {exc}") from exc
    x64 = np.asarray(x, np.float64)
    f0, t = pw.dio(x64, rate, frame_period=5.0)
    f0 = pw.stonemask(x64, f0, t, rate)
    sp = pw.cheaptrick(x64, f0, t, rate)
    ap = pw.d4c(x64, f0, t, rate)
    y = pw.synthesize(f0, sp, ap, rate, 5.0)
    return _fit(y, len(x))


def griffinlim_resynth(x: np.ndarray, rate: int, rng: np.random.Generator, n_iter: int = 32) -> np.ndarray:
    n_fft = 512 if rate >= 16000 else 256
    hop = n_fft // 4
    n_mels = 80 if rate >= 16000 else 64
    _, _, z = stft(x, fs=rate, nperseg=n_fft, noverlap=n_fft - hop, boundary="even")
    mag = np.abs(z)
    fb = mel_filterbank(n_mels, n_fft, rate)
    mel = fb @ mag
    target = np.maximum(np.linalg.pinv(fb) @ mel, 0.0)
    phase = np.exp(2j * np.pi * rng.random(target.shape))
    y = np.zeros(len(x))
    for _ in range(n_iter):
        _, y = istft(target * phase, fs=rate, nperseg=n_fft, noverlap=n_fft - hop)
        _, _, z = stft(y, fs=rate, nperseg=n_fft, noverlap=n_fft - hop, boundary="even")
        z = z[:, : target.shape[1]]
        if z.shape[1] < target.shape[1]:
            z = np.pad(z, ((0, 0), (0, target.shape[1] - z.shape[1])))
        phase = np.exp(1j * np.angle(z))
    _, y = istft(target * phase, fs=rate, nperseg=n_fft, noverlap=n_fft - hop)
    return _fit(y, len(x))


def _pitch(x: np.ndarray, rate: int, frame: int, hop: int) -> np.ndarray:
    """Per-frame F0 in Hz (0 = unvoiced) from WORLD's DIO when present, else autocorrelation."""
    n_frames = 1 + max(0, (len(x) - frame) // hop)
    try:
        pw = import_pyworld()
        f0, t = pw.dio(np.asarray(x, np.float64), rate, frame_period=1000.0 * hop / rate)
        f0 = pw.stonemask(np.asarray(x, np.float64), f0, t, rate)
        return np.interp(np.arange(n_frames), np.arange(len(f0)), f0) * (np.interp(np.arange(n_frames), np.arange(len(f0)), f0 > 0) > 0.5)
    except ImportError:
        pass
    out = np.zeros(n_frames)
    lo, hi = int(rate / 400), int(rate / 70)
    for i in range(n_frames):
        seg = x[i * hop : i * hop + frame]
        seg = seg - seg.mean()
        ac = np.correlate(seg, seg, "full")[len(seg) - 1 :]
        if ac[0] <= 0 or hi >= len(ac):
            continue
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] / ac[0] > 0.45:
            out[i] = rate / lag
    return out


def lpc_resynth(x: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    order = 2 + rate // 1000
    frame, hop = int(0.025 * rate), int(0.010 * rate)
    x = np.asarray(x, np.float64)
    if len(x) < frame:
        return _fit(x.copy(), len(x))
    f0 = _pitch(x, rate, frame, hop)
    win = np.hanning(frame)
    y = np.zeros(len(x))
    zi = np.zeros(order)
    phase = 0.0
    for i in range(len(f0)):
        seg = x[i * hop : i * hop + frame] * win
        ac = np.correlate(seg, seg, "full")[frame - 1 : frame + order]
        if ac[0] <= 1e-10:
            phase = 0.0
            continue
        ac[0] *= 1.0 + 1e-4  # white-noise correction keeps the Toeplitz system well posed
        a = solve_toeplitz(ac[:order], -ac[1 : order + 1])
        exc = np.zeros(hop)
        if f0[i] > 0:
            period = rate / f0[i]
            for k in range(hop):
                phase += 1.0
                if phase >= period:
                    phase -= period
                    exc[k] = np.sqrt(period)
        else:
            exc = rng.standard_normal(hop)
        out, zi = lfilter([1.0], np.concatenate([[1.0], a]), exc, zi=zi)
        target = np.sqrt(np.mean(x[i * hop : i * hop + hop] ** 2) + 1e-12)
        got = np.sqrt(np.mean(out**2) + 1e-12)
        y[i * hop : i * hop + hop] = out * min(target / got, 1e3)
    return _fit(y, len(x))


NEURAL_WEIGHTS = Path(__file__).with_name("gan_vocoder.pt")


def neural_resynth(x: np.ndarray, rate: int, rng: np.random.Generator, weights: Path | None = None) -> np.ndarray:
    """GAN vocoder resynthesis: resample to 16 kHz, log-mel, generator, back to ``rate``; RMS of ``x`` kept.

    Deterministic (``rng`` is unused: the generator has no noise input).
    """
    path = Path(weights) if weights is not None else NEURAL_WEIGHTS
    if not path.is_file():
        from detectors.voice_clone.gan_vocoder import TRAIN_COMMAND

        raise FamilyUnavailableError(
            f"the neural vocoder family needs the GAN vocoder weights {path}, which are missing; "
            f"train and export them (about an hour on one CPU core) with: {TRAIN_COMMAND}"
        )
    try:
        from detectors.voice_clone.gan_vocoder import resynthesize
    except ImportError as exc:
        raise FamilyUnavailableError(f"the neural vocoder family needs torch: {exc}") from exc
    return _fit(resynthesize(x, rate, path), len(x))


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y, np.float32)[:n]
    if len(y) < n:
        y = np.concatenate([y, np.zeros(n - len(y), np.float32)])
    peak = float(np.max(np.abs(y))) if n else 0.0
    if peak > 0.99:
        y = y * (0.99 / peak)
    return y.astype(np.float32)


RESYNTH_FAMILIES: dict[str, Callable[[np.ndarray, int, np.random.Generator], np.ndarray]] = {
    "world": world_resynth,
    "griffinlim": griffinlim_resynth,
    "lpc": lpc_resynth,
    "neural": neural_resynth,
}
