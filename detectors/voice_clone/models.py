"""Voice spoofing models, created by name with a config that says their input.

``lfcc_lcnn``: LFCC (30 ceps of 40 filters over 200-3800 Hz, + deltas) -> light CNN with max-feature-map
activations (the ASVspoof LFCC-LCNN baseline family, scaled down to train on
two CPU cores) -> mean+std pooling over time -> one logit (spoof > 0).

``spec_lcnn``: the same network on the log power of every FFT bin in
200-3800 Hz (32 ms window), which keeps the harmonic fine structure that
cepstra smooth away. Measured in the sixth session: no better than
``lfcc_lcnn`` overall (docs/voice.md), so it is not the default.

``mgd_lcnn``: the same network on modified group delay cepstra (30 + deltas,
200-3800 Hz): phase, which magnitude features throw away and resynthesis
cannot copy. ``lfcc_mgd_lcnn``: both feature sets side by side. Measured in the
ninth session: group delay alone is worse than LFCC on every family of this
GSM- and telephone-coded corpus; beside LFCC it helps unit-selection spoofs and
costs the seen families (docs/voice.md), so neither is the default.

``ge2e_head``: a linear head on pooled hidden states of the GE2E speaker
encoder that ships in the resemblyzer wheel (frozen; ``ge2e_features``).
``lfcc_ge2e``: the ``lfcc_lcnn`` network beside that head, the two logits
fused by weights fitted on dev.
The encoder learnt natural speech from thousands of real speakers, which our
corpus cannot teach; measured in the tenth session (docs/voice.md).

``rawnet_lite``: the raw waveform -> a learned strided filterbank (so it can
use phase, which magnitude features throw away) -> residual 1-D conv blocks
-> mean+std pooling -> one logit. RawNet-style, much smaller.

All take (batch, frames, features): for the waveform model a "frame" is a
sample and there is one feature, so windows, crops and normalisation are the
same code for all (``ModelConfig.frames_per_s``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy as np
import torch
from torch import nn

from audio.features import LfccConfig, LogSpecConfig, MgdConfig, lfcc, log_spectrogram, mgdcc
from audio.resample import telephone_band
from detectors.voice_clone import ge2e_features


@dataclass(frozen=True)
class ModelConfig:
    name: str
    feature: str  # "lfcc" | "logspec" | "mgd" | "lfcc+mgd" | "ge2e" | "lfcc+ge2e" | "waveform"
    sample_rate: int = 16_000
    # the corpus is telephone band; every input is put in the same band before
    # features, at training and at inference, so wide-band input is not "unusual"
    band: str = "tel"
    lfcc: LfccConfig = field(default_factory=LfccConfig)
    spec: LogSpecConfig = field(default_factory=LogSpecConfig)
    mgd: MgdConfig = field(default_factory=MgdConfig)
    channels: tuple[int, ...] = (8, 16, 24, 32)
    dropout: float = 0.3
    # "global": features normalised by the train set's mean and std only;
    # "window": also each window's own mean over time removed inside the model
    # (cepstral mean normalisation), which takes out the long-term spectral
    # envelope a channel or a speaker's vocal tract puts on every frame.
    input_norm: str = "global"
    # "linear": one logit from a linear layer on the pooled embedding (trained with
    # cross-entropy); "one_class": OC-softmax (Zhang et al., IEEE SPL 2021), the
    # cosine between the embedding and a learnt bona fide direction, trained to
    # be >= 0.9 for bona fide and <= 0.2 for spoofs. It asks bona fide speech to
    # be compact and lets spoofs lie anywhere away from it, the property wanted
    # against spoof families never trained on.
    head: str = "linear"

    @property
    def n_features(self) -> int:
        if self.feature == "waveform":
            return 1
        if self.feature == "logspec":
            return self.spec.n_bins(self.sample_rate)
        if self.feature == "mgd":
            return self.mgd.n_features()
        if self.feature == "lfcc+mgd":
            return self.lfcc.n_features() + self.mgd.n_features()
        if self.feature == "lfcc+ge2e":
            return self.lfcc.n_features() + ge2e_features.N_MELS
        if self.feature == "ge2e":
            return ge2e_features.N_MELS
        return self.lfcc.n_features()

    @property
    def frames_per_s(self) -> int:
        if self.feature == "waveform":
            return self.sample_rate
        if self.feature == "logspec":
            return self.sample_rate // self.spec.stft.hop_length
        if self.feature == "mgd":
            return self.sample_rate // self.mgd.stft.hop_length
        if self.feature == "ge2e":
            return self.sample_rate // ge2e_features.HOP
        return self.sample_rate // self.lfcc.stft.hop_length

    def to_dict(self) -> dict:
        return asdict(self)


INPUT_NORMS = ("global", "window")
HEADS = ("linear", "one_class")
# OC-softmax margins and scale (the paper's values). The "one_class" head
# returns logit = SCALE * (midpoint - cosine), > 0 toward spoof like the
# linear head's, so scoring and calibration treat both alike.
ONE_CLASS_REAL_MARGIN, ONE_CLASS_SPOOF_MARGIN, ONE_CLASS_SCALE = 0.9, 0.2, 20.0
ONE_CLASS_MIDPOINT = (ONE_CLASS_REAL_MARGIN + ONE_CLASS_SPOOF_MARGIN) / 2


def _window_mean_flag(cfg: ModelConfig) -> bool:
    if cfg.input_norm not in INPUT_NORMS:
        raise ValueError(f"unknown input_norm {cfg.input_norm!r} ({', '.join(INPUT_NORMS)})")
    return cfg.input_norm == "window"


class MaxFeatureMap(nn.Module):
    """Split channels in two halves and keep the element-wise max (LCNN)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return torch.maximum(a, b)


class LfccLcnn(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for i, c in enumerate(cfg.channels):
            layers += [
                nn.Conv2d(c_in, 2 * c, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(2 * c),
                MaxFeatureMap(),
                nn.MaxPool2d((2, 2)) if i < len(cfg.channels) - 1 else nn.Identity(),
            ]
            c_in = c
        self.body = nn.Sequential(*layers)
        f_out = cfg.n_features // (2 ** (len(cfg.channels) - 1))
        self.proj = nn.Linear(c_in * f_out, 64)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(128, 1))
        self.window_mean = _window_mean_flag(cfg)
        if cfg.head not in HEADS:
            raise ValueError(f"unknown head {cfg.head!r} ({', '.join(HEADS)})")
        self.one_class = cfg.head == "one_class"

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """``feats``: (batch, frames, n_features), normalised; returns logits (batch,)."""
        if self.window_mean:
            feats = feats - feats.mean(dim=1, keepdim=True)
        x = feats.transpose(1, 2).unsqueeze(1)
        fast = not self.training and not torch.is_grad_enabled()
        x = self._body_inference(x) if fast else self.body(x)  # (B, C, F', T')
        b, c, f, t = x.shape
        x = self.proj(x.reshape(b, c * f, t).transpose(1, 2))  # (B, T', 64)
        pooled = torch.cat([x.mean(dim=1), x.std(dim=1, unbiased=False)], dim=1)
        if self.one_class:  # the linear layer's weight is the bona fide direction; its bias is unused
            cos = nn.functional.cosine_similarity(self.head[0](pooled), self.head[1].weight, dim=1)
            return ONE_CLASS_SCALE * (ONE_CLASS_MIDPOINT - cos)
        return self.head(pooled).squeeze(1)

    def _body_inference(self, x: torch.Tensor) -> torch.Tensor:
        """``body`` in eval mode, computed faster: each batch norm folded into
        its convolution (the same affine map, applied to the weights instead of
        the activations) and tensors in channels-last layout, which the CPU
        convolutions run about twice as fast on these few channels (the
        detector: 72-81x real time on dense speech before, 116-126x after).
        Logits agree with ``body`` to float rounding (tested). Only without
        gradients: training keeps the modules as they are, so trained weights
        do not depend on this, and no backward pass meets channels-last
        convolutions (oneDNN's crash on them: ``face_swap.net.to_tensor``)."""
        x = x.contiguous(memory_format=torch.channels_last)
        layers = list(self.body)
        for conv, bn, mfm, pool in zip(layers[0::4], layers[1::4], layers[2::4], layers[3::4]):
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            weight = conv.weight * scale[:, None, None, None]
            bias = bn.bias - bn.running_mean * scale
            x = pool(mfm(nn.functional.conv2d(x, weight, bias, padding=conv.padding)))
        return x


class _ResBlock1d(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.skip = nn.Conv1d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()
        self.act = nn.LeakyReLU(0.3)
        self.pool = nn.MaxPool1d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.pool(self.act(y + self.skip(x)))


class RawNetLite(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c = cfg.channels
        self.front = nn.Conv1d(1, c[0], kernel_size=129, stride=8, padding=64, bias=False)
        self.bn0 = nn.BatchNorm1d(c[0])
        blocks = []
        for a, b in zip(c[:-1], c[1:]):
            blocks.append(_ResBlock1d(a, b))
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(2 * c[-1], 1))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave``: (batch, samples, 1), normalised; returns logits (batch,)."""
        x = self.front(wave.transpose(1, 2))
        x = nn.functional.leaky_relu(self.bn0(torch.abs(x)), 0.3)  # |.| : rectified filter outputs
        x = self.blocks(x)
        return self.head(torch.cat([x.mean(dim=2), x.std(dim=2, unbiased=False)], dim=1)).squeeze(1)


def window_batch_logits(net: nn.Module, feats: np.ndarray, starts, win: int) -> np.ndarray:
    """Logits of a window network on the windows [start, start + win) of one feature matrix, in one batch."""
    batch = np.stack([feats[s : s + win] for s in starts])
    with torch.no_grad():
        return net(torch.from_numpy(np.ascontiguousarray(batch))).numpy().astype(np.float64)


def _each_window_alone(model: nn.Module, feats: torch.Tensor) -> torch.Tensor:
    """forward() of the models that score whole signals: each (frames, features) item is one window."""
    out = [model.score_windows(f, np.array([0]), f.shape[0])[0] for f in feats.detach().numpy()]
    return torch.tensor(out, dtype=torch.float32)


class Ge2eHead(nn.Module):
    """A linear head on pooled GE2E states (``ge2e_features``) of the last 40
    feature columns, raw mel power (the bundle's normalisation leaves them as
    they are). The encoder itself is frozen and lives in the resemblyzer wheel."""

    def __init__(self, cfg: ModelConfig | None = None):
        super().__init__()
        # the head sees standardised statistics (train-set mean and std)
        self.register_buffer("stat_mean", torch.zeros(ge2e_features.STATS_DIM))
        self.register_buffer("stat_std", torch.ones(ge2e_features.STATS_DIM))
        self.head = nn.Linear(ge2e_features.STATS_DIM, 1)

    def head_logits(self, stats: np.ndarray) -> np.ndarray:
        z = (torch.from_numpy(np.asarray(stats, np.float32)) - self.stat_mean) / self.stat_std
        with torch.no_grad():
            return self.head(z).squeeze(1).numpy().astype(np.float64)

    def score_windows_many(self, items: list[tuple[np.ndarray, np.ndarray, int]]) -> list[np.ndarray]:
        """Logit per window of each (feats, starts, win); GE2E states once per signal, all in one batch."""
        states = ge2e_features.frame_states_many([f[:, -ge2e_features.N_MELS :] for f, _, _ in items])
        stats = [ge2e_features.window_stats(st, starts, win) for st, (_, starts, win) in zip(states, items)]
        logits = self.head_logits(np.concatenate(stats))
        return np.split(logits, np.cumsum([len(s) for s in stats])[:-1])

    def score_windows(self, feats: np.ndarray, starts: np.ndarray, win: int) -> np.ndarray:
        return self.score_windows_many([(feats, starts, win)])[0]

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return _each_window_alone(self, feats)


class LfccGe2e(nn.Module):
    """``LfccLcnn`` on the LFCC columns and ``Ge2eHead`` on the mel columns,
    fused: logit = w_cnn * cnn + w_ge2e * head + b."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_lfcc = cfg.lfcc.n_features()
        self.cnn = LfccLcnn(replace(cfg, feature="lfcc"))
        self.ge2e = Ge2eHead()
        self.fusion = nn.Linear(2, 1)

    def cnn_logits(self, feats: np.ndarray, starts: np.ndarray, win: int) -> np.ndarray:
        return window_batch_logits(self.cnn, feats[:, : self.n_lfcc], starts, win)

    def score_windows_many(self, items: list[tuple[np.ndarray, np.ndarray, int]]) -> list[np.ndarray]:
        heads = self.ge2e.score_windows_many(items)
        w = self.fusion.weight.detach().double().numpy()[0]
        b = float(self.fusion.bias.detach())
        return [w[0] * self.cnn_logits(f, starts, win) + w[1] * h + b for (f, starts, win), h in zip(items, heads)]

    def score_windows(self, feats: np.ndarray, starts: np.ndarray, win: int) -> np.ndarray:
        return self.score_windows_many([(feats, starts, win)])[0]

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return _each_window_alone(self, feats)


# Every input is put in the telephone band (300-3400 Hz), so the LFCC filters
# span 200-3800 Hz only: the ASVspoof default (20 filters over 0-8 kHz) left
# 8 of its 20 filters carrying speech. 40 filters, 30 cepstra + deltas; chosen
# on the dev split (EER 0.094 vs 0.142; 60 filters without deltas: 0.115).
TEL_LFCC = LfccConfig(n_filters=40, n_ceps=30, fmin=200.0, fmax=3800.0)

MODEL_CONFIGS: dict[str, ModelConfig] = {
    "lfcc_lcnn": ModelConfig(name="lfcc_lcnn", feature="lfcc", lfcc=TEL_LFCC),
    "spec_lcnn": ModelConfig(name="spec_lcnn", feature="logspec"),
    "mgd_lcnn": ModelConfig(name="mgd_lcnn", feature="mgd"),
    "lfcc_mgd_lcnn": ModelConfig(name="lfcc_mgd_lcnn", feature="lfcc+mgd", lfcc=TEL_LFCC),
    "ge2e_head": ModelConfig(name="ge2e_head", feature="ge2e"),
    "lfcc_ge2e": ModelConfig(name="lfcc_ge2e", feature="lfcc+ge2e", lfcc=TEL_LFCC),
    "rawnet_lite": ModelConfig(name="rawnet_lite", feature="waveform", channels=(24, 32, 48, 48, 64), dropout=0.3),
}
# built from the frozen GE2E encoder by train_ge2e (no gradient training of their own, beyond the CNN)
GE2E_MODELS = ("ge2e_head", "lfcc_ge2e")
_FACTORIES: dict[str, Callable[[ModelConfig], nn.Module]] = {
    "lfcc_lcnn": LfccLcnn, "spec_lcnn": LfccLcnn, "mgd_lcnn": LfccLcnn, "lfcc_mgd_lcnn": LfccLcnn,
    "ge2e_head": Ge2eHead, "lfcc_ge2e": LfccGe2e, "rawnet_lite": RawNetLite,
}


def create_model(name: str, cfg: ModelConfig | None = None) -> nn.Module:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise KeyError(f"unknown voice model {name!r}; available: {', '.join(_FACTORIES)}") from None
    return factory(cfg or MODEL_CONFIGS[name])


def extract_features(x: np.ndarray, rate: int, cfg: ModelConfig) -> np.ndarray:
    if rate != cfg.sample_rate:
        raise ValueError(f"model expects {cfg.sample_rate} Hz audio, got {rate} Hz")
    if cfg.band == "tel":
        x = telephone_band(x, rate)
    elif cfg.band != "full":
        raise ValueError(f"unknown band {cfg.band!r} (tel, full)")
    if cfg.feature == "lfcc":
        return lfcc(x, rate, cfg.lfcc)
    if cfg.feature == "logspec":
        return log_spectrogram(x, rate, cfg.spec)
    if cfg.feature == "mgd":
        return mgdcc(x, rate, cfg.mgd)
    if cfg.feature == "lfcc+mgd":
        if cfg.lfcc.stft.hop_length != cfg.mgd.stft.hop_length:
            raise ValueError("lfcc+mgd needs the same hop for both features")
        return np.concatenate([lfcc(x, rate, cfg.lfcc), mgdcc(x, rate, cfg.mgd)], axis=1)
    if cfg.feature == "ge2e":
        return ge2e_features.ge2e_mel(x, rate)
    if cfg.feature == "lfcc+ge2e":
        a, b = lfcc(x, rate, cfg.lfcc), ge2e_features.ge2e_mel(x, rate)
        n = min(a.shape[0], b.shape[0])  # both centred at a 10 ms hop; they can differ by a frame
        return np.concatenate([a[:n], b[:n]], axis=1)
    if cfg.feature == "waveform":
        return np.asarray(x, np.float32)[:, None]
    raise ValueError(f"unknown feature {cfg.feature!r}")
