"""Speaker embeddings with the GE2E voice encoder whose weights ship in the
``resemblyzer`` wheel (``resemblyzer/pretrained.pt``, 3-layer LSTM, 256-D).

Why not ``resemblyzer.VoiceEncoder`` itself: importing the ``resemblyzer``
package imports ``webrtcvad``, whose 2.0.10 release calls ``pkg_resources``
at import time, and setuptools >= 81 no longer provides it. The network is
small and documented (Wan et al., "Generalized End-to-End Loss for Speaker
Verification"): 40 mel bands -> LSTM(256) x 3 -> linear(256) -> ReLU -> L2
norm, on 1.6 s partial utterances. So this module builds that network,
loads the wheel's state dict without executing the package, and computes the
same mel power spectrogram in numpy. ``tests/speaker`` checks the mel
features against librosa, and the embeddings match resemblyzer's own to
float precision (checked when this was written; see docs/speaker.md).

Loading is fully offline: the weights are a file inside an installed wheel.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from audio.features import mel_filterbank

RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s per partial utterance
PARTIALS_PER_S = 1.3  # resemblyzer's default partial rate
EMBEDDING_DIM = 256
NORM_TARGET_DBFS = -30.0


class SpeakerModelMissingError(RuntimeError):
    """The voice encoder weights cannot be found; the message says what to install."""


def weights_path() -> Path:
    """``pretrained.pt`` inside the installed resemblyzer wheel (found without importing it)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise SpeakerModelMissingError("the speaker check needs the resemblyzer wheel: pip install resemblyzer==0.1.4")
    p = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
    if not p.is_file():
        raise SpeakerModelMissingError(f"{p} is missing: reinstall resemblyzer==0.1.4")
    return p


@lru_cache(maxsize=1)
def model_sha256() -> str:
    return hashlib.sha256(weights_path().read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) triangular filters on librosa's default
    (Slaney) mel scale, area-normalised: the encoder's training features."""
    return mel_filterbank(N_MELS, N_FFT, RATE, fmin=0.0, scale="slaney")


def mel_power(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) mel power spectrogram: centred frames, zero padding, periodic Hann."""
    x = np.pad(np.asarray(wav, np.float32), N_FFT // 2)
    n = 1 + (len(x) - N_FFT) // HOP
    if n <= 0:
        return np.zeros((0, N_MELS), np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP][:n]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    spec = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return (spec.astype(np.float32) @ mel_filters().T).astype(np.float32)


def normalize_volume(wav: np.ndarray, target_dbfs: float = NORM_TARGET_DBFS) -> np.ndarray:
    """Raise quiet speech to ``target_dbfs`` RMS (never lower it), as the encoder was trained."""
    wav = np.asarray(wav, np.float32)
    rms = float(np.sqrt(np.mean(wav.astype(np.float64) ** 2))) if wav.size else 0.0
    if rms <= 1e-9:
        return wav
    gain_db = target_dbfs - 20 * np.log10(rms)
    return wav * np.float32(10 ** (gain_db / 20)) if gain_db > 0 else wav


def partial_slices(n_samples: int, rate: float = PARTIALS_PER_S, min_coverage: float = 0.75) -> list[slice]:
    """Frame slices of the 1.6 s partial utterances covering ``n_samples``; the
    last one is dropped when less than ``min_coverage`` of it holds audio."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = max(1, int(round((RATE / rate) / HOP)))
    steps = max(1, n_frames - PARTIAL_FRAMES + step + 1)
    out = [slice(i, i + PARTIAL_FRAMES) for i in range(0, steps, step)]
    last = out[-1]
    coverage = (n_samples - last.start * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < min_coverage and len(out) > 1:
        out = out[:-1]
    return out


@lru_cache(maxsize=1)
def network():
    """The wheel's GE2E encoder (3-layer LSTM + linear), loaded once; frozen, in eval mode.

    Public because the voice-clone detector reads its hidden states too
    (``detectors.voice_clone.ge2e_features``); callers must not train it.
    """
    import torch
    from torch import nn

    class GE2EEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, EMBEDDING_DIM)

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            e = torch.relu(self.linear(hidden[-1]))
            return e / torch.norm(e, dim=1, keepdim=True).clamp_min(1e-12)

    torch.set_num_threads(1)  # a small LSTM: one core is as fast, and leaves the rest to other work
    net = GE2EEncoder()
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)["model_state"]  # tensors only: no pickled code runs
    # The checkpoint also holds GE2E's similarity scale/bias, used only in training.
    net.load_state_dict({k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))}, strict=True)
    net.eval()
    return net


@dataclass(frozen=True)
class Partials:
    """Embeddings of the 1.6 s partial utterances of one speech signal."""

    vectors: np.ndarray  # (n, 256), each L2-normed
    starts_s: np.ndarray  # start of each partial in the input signal's time

    def mean(self) -> np.ndarray:
        """The utterance embedding: L2-normed mean of the partials."""
        return l2(self.vectors.mean(axis=0))


def l2(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def embed_partials(wav: np.ndarray, batch: int = 64) -> Partials:
    """Embed 16 kHz mono speech (silence already removed) partial by partial."""
    import torch

    wav = normalize_volume(wav)
    slices = partial_slices(len(wav))
    need = slices[-1].stop * HOP
    if need > len(wav):
        wav = np.pad(wav, (0, need - len(wav)))
    mel = mel_power(wav)
    mels = np.stack([mel[s] for s in slices])
    out = []
    with torch.inference_mode():
        for i in range(0, len(mels), batch):
            out.append(network()(torch.from_numpy(np.ascontiguousarray(mels[i:i + batch]))).numpy())
    return Partials(np.concatenate(out).astype(np.float64), np.array([s.start * HOP / RATE for s in slices]))


def embed_utterance(wav: np.ndarray) -> np.ndarray:
    return embed_partials(wav).mean()
