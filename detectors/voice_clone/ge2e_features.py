"""Spoof evidence from a speech network trained elsewhere: pooled GE2E states.

Why: every model trained here sees only this machine's corpus (a few dozen
bona fide speakers, mostly telephone prompts), and its errors on spoof
families it never saw are the weakest figures in docs/voice.md. The GE2E voice
encoder that ships in the resemblyzer wheel (3-layer LSTM over 40 mel bands,
trained for speaker verification on thousands of real speakers) has learnt what
natural speech looks like frame by frame. Its hidden states, pooled over a
window, carry that knowledge; a linear head trained here on those statistics
needs no deep training and, measured in the tenth session, generalises to
unseen spoof families far better than the LFCC CNN (docs/voice.md).

The encoder is frozen and read from the installed wheel (not copied into our
bundles); bundles record its SHA-256 and refuse to load beside other weights.

Frame states are computed once per signal, over fixed 1.6 s chunks from the
first frame (the partial length GE2E was trained on; the LSTM restarts at each
chunk), so scoring a long call costs one pass whatever the window hop.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from detectors.speaker import encoder

N_MELS = encoder.N_MELS
HOP = encoder.HOP  # 10 ms at 16 kHz
HIDDEN = 256
N_LAYERS = 3
CHUNK_FRAMES = encoder.PARTIAL_FRAMES
# per frame: three LSTM layers, the frame's speaker embedding, log mel
STATE_DIM = N_LAYERS * HIDDEN + encoder.EMBEDDING_DIM + N_MELS
# per window: mean and std of each layer, mean embedding, mean and std of log mel
STATS_DIM = 2 * N_LAYERS * HIDDEN + encoder.EMBEDDING_DIM + 2 * N_MELS
LOG_FLOOR = 1e-6


def ge2e_mel(x: np.ndarray, rate: int) -> np.ndarray:
    """(frames, 40) mel power as the encoder was trained on: 16 kHz, volume raised to -30 dBFS."""
    if rate != encoder.RATE:
        raise ValueError(f"GE2E features need {encoder.RATE} Hz audio, got {rate} Hz")
    return encoder.mel_power(encoder.normalize_volume(x))


class _LayerwiseGe2e:
    """The wheel's 3-layer LSTM split into single layers, so every layer's output is visible."""

    def __init__(self) -> None:
        net = encoder.network()
        self.layers = []
        for i in range(N_LAYERS):
            layer = torch.nn.LSTM(N_MELS if i == 0 else HIDDEN, HIDDEN, 1, batch_first=True)
            layer.load_state_dict({
                f"{kind}_l0": getattr(net.lstm, f"{kind}_l{i}")
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            })
            self.layers.append(layer.eval())
        self.linear = net.linear

    def states(self, mels: list[np.ndarray]) -> list[np.ndarray]:
        """(frames, STATE_DIM) for each (frames, 40) mel power matrix; all chunks in one batch."""
        n_chunks = [-(-m.shape[0] // CHUNK_FRAMES) for m in mels]
        if sum(n_chunks) == 0:
            return [np.zeros((0, STATE_DIM), np.float32) for _ in mels]
        padded = np.zeros((sum(n_chunks) * CHUNK_FRAMES, N_MELS), np.float32)
        at = 0
        for m, k in zip(mels, n_chunks):
            padded[at : at + m.shape[0]] = m  # zero padding after each end: the LSTM is causal
            at += k * CHUNK_FRAMES
        x = torch.from_numpy(padded.reshape(-1, CHUNK_FRAMES, N_MELS))
        outs = []
        with torch.inference_mode():
            h = x
            for layer in self.layers:
                h, _ = layer(h)
                outs.append(h)
            e = torch.relu(self.linear(h))
            outs.append(e / e.norm(dim=2, keepdim=True).clamp_min(1e-12))
            outs.append(torch.log(x + LOG_FLOOR))
        flat = torch.cat(outs, dim=2).reshape(-1, STATE_DIM).numpy()
        result, at = [], 0
        for m, k in zip(mels, n_chunks):
            result.append(flat[at : at + m.shape[0]])
            at += k * CHUNK_FRAMES
        return result


@lru_cache(maxsize=1)
def _layerwise() -> _LayerwiseGe2e:
    return _LayerwiseGe2e()


def frame_states_many(mels: list[np.ndarray]) -> list[np.ndarray]:
    """Frame states of several signals (e.g. the speech segments of one call) in one LSTM
    batch: the chunks of short segments alone make batches too small for the CPU to be quick."""
    return _layerwise().states([np.asarray(m, np.float32) for m in mels])


def frame_states(mel: np.ndarray) -> np.ndarray:
    return frame_states_many([mel])[0]


def window_stats(states: np.ndarray, starts: np.ndarray, win: int) -> np.ndarray:
    """(windows, STATS_DIM): pooled statistics of the frames in [start, start + win)."""
    layers = N_LAYERS * HIDDEN
    emb = slice(layers, layers + encoder.EMBEDDING_DIM)
    mel = slice(layers + encoder.EMBEDDING_DIM, STATE_DIM)
    out = np.empty((len(starts), STATS_DIM), np.float32)
    for row, lo in zip(out, np.asarray(starts, int)):
        w = states[lo : lo + win]  # a loop over windows: faster than cumulative sums down 1064 columns
        mean, std = w.mean(axis=0), w.std(axis=0)
        parts = []
        for i in range(N_LAYERS):
            k = slice(i * HIDDEN, (i + 1) * HIDDEN)
            parts += [mean[k], std[k]]
        row[:] = np.concatenate(parts + [mean[emb], mean[mel], std[mel]])
    return out


def weights_sha256() -> str:
    return encoder.model_sha256()
