"""A small GAN vocoder (HiFi-GAN style) trained here on the CPU, for the ``neural`` spoof family.

Modern voice clones come out of neural vocoders: a mel spectrogram is turned
into a waveform by transposed-convolution upsampling stages, each followed by
dilated residual convolutions. The upsampling leaves periodic traces in the
spectrum (checkerboard / aliasing images at multiples of the frame rate), and
GAN training shapes the fine structure in a way no DSP vocoder does. This module
trains such a vocoder on the bona fide TRAIN-split speech of the corpus (see
``sources``), so ``vocoders.neural_resynth`` can resynthesise real recordings
with it. Nothing is downloaded.

- front end: ``MelFrontEnd``: 16 kHz, n_fft 1024, window 800 (Hann), hop 200
  (12.5 ms), 80 HTK mel bands 0-8000 Hz (``audio.features.mel_filterbank``),
  natural log of the magnitude, floor 1e-5. The same module computes the
  generator input at resynthesis time and the mel loss during training.
- generator: conv 80->128 (k7), four ConvTranspose1d upsampling stages
  (x5, x5, x4, x2 = 200, channels 128->64->32->16->8), each followed by a
  residual block of dilated convolutions (k3, dilations 1, 3, 9), conv 8->1,
  tanh. ~0.3 M parameters.
- discriminators: multi-period (periods 2, 3, 5, 7, 11; channels 8-16-32-64) and
  multi-scale (raw and 2x average-pooled; channels 8-32-64-64), cut down from
  HiFi-GAN's so that one adversarial step takes well under a second on one core.
- losses: least-squares adversarial + feature matching (x2) + mel L1 (x45) +
  multi-resolution STFT (spectral convergence + log magnitude, x2.5). The
  first ``warmup_frac`` of the time budget trains the generator with the
  spectral losses alone (as Parallel WaveGAN does), then the discriminators join.

Usage::

    python -m detectors.voice_clone.gan_vocoder train --out /tmp/gan_vocoder --minutes 60
    python -m detectors.voice_clone.gan_vocoder export /tmp/gan_vocoder/ckpt.pt detectors/voice_clone/gan_vocoder.pt
    python -m detectors.voice_clone.gan_vocoder evaluate detectors/voice_clone/gan_vocoder.pt
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import resample_poly
from torch import nn

from audio.features import mel_filterbank

WEIGHTS_PATH = Path(__file__).with_name("gan_vocoder.pt")
TRAIN_COMMAND = (
    "python -m detectors.voice_clone.gan_vocoder train --out /tmp/gan_vocoder --minutes 60 && "
    "python -m detectors.voice_clone.gan_vocoder export /tmp/gan_vocoder/ckpt.pt detectors/voice_clone/gan_vocoder.pt"
)
FORMAT = "av-verifier/gan-vocoder/v1"


@dataclass(frozen=True)
class VocoderConfig:
    rate: int = 16000
    n_fft: int = 1024
    win_length: int = 800
    hop: int = 200
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0
    upsample: tuple[int, ...] = (5, 5, 4, 2)
    # "transposed": ConvTranspose1d stages (MelGAN / HiFi-GAN, the shipped vocoder).
    # "nearest": nearest-neighbour repetition then a convolution, the design
    # adopted to avoid transposed convolutions' checkerboard images.
    # "subpixel": a convolution to u times the channels, interleaved in time
    # (sub-pixel / pixel-shuffle upsampling). Differently built vocoders measure
    # whether detection transfers within the family (``vocoder_transfer``).
    upsampler: str = "transposed"
    channels: int = 128
    resblock_kernel: int = 3
    dilations: tuple[int, ...] = (1, 3, 9)


@dataclass(frozen=True)
class GanTrainConfig:
    seed: int = 0
    minutes: float = 60.0
    max_steps: int | None = None
    batch_size: int = 8
    segment: int = 8000  # samples at 16 kHz (0.5 s)
    lr: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    lambda_mel: float = 45.0
    lambda_stft: float = 2.5
    lambda_fm: float = 2.0
    warmup_frac: float = 0.2  # share of the time budget without discriminators
    checkpoint_minutes: float = 5.0
    threads: int = 1
    max_files_per_source: int = 250


# ----------------------------------------------------------------------------- front end


class MelFrontEnd(nn.Module):
    """Log-mel magnitude spectrogram, (B, T) -> (B, n_mels, T // hop + 1); centred, reflect-padded frames."""

    def __init__(self, cfg: VocoderConfig = VocoderConfig()):
        super().__init__()
        self.cfg = cfg
        fb = mel_filterbank(cfg.n_mels, cfg.n_fft, cfg.rate, cfg.fmin, cfg.fmax)
        self.register_buffer("fb", torch.from_numpy(fb), persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.win_length, periodic=True), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        pad = c.n_fft // 2
        mode = "reflect" if x.shape[-1] > pad else "constant"
        xp = F.pad(x.unsqueeze(1), (pad, pad), mode=mode).squeeze(1)
        spec = torch.stft(xp, c.n_fft, c.hop, c.win_length, self.window, center=False, return_complex=True)
        mag = torch.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
        return torch.log(torch.clamp(self.fb @ mag, min=1e-5))


# ----------------------------------------------------------------------------- generator


class ResBlock(nn.Module):
    def __init__(self, ch: int, k: int, dilations: Sequence[int]):
        super().__init__()
        self.c1 = nn.ModuleList(nn.Conv1d(ch, ch, k, dilation=d, padding=d * (k - 1) // 2) for d in dilations)
        self.c2 = nn.ModuleList(nn.Conv1d(ch, ch, k, padding=(k - 1) // 2) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for a, b in zip(self.c1, self.c2):
            x = x + b(F.leaky_relu(a(F.leaky_relu(x, 0.1)), 0.1))
        return x


UPSAMPLERS = ("transposed", "nearest", "subpixel")


class SubPixel1d(nn.Module):
    """Convolution to ``out * u`` channels, then each group of ``u`` channels becomes ``u`` consecutive samples."""

    def __init__(self, ch: int, out: int, u: int, k: int = 7):
        super().__init__()
        self.out, self.u = out, u
        self.conv = nn.Conv1d(ch, out * u, k, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)  # (B, out * u, L)
        b, _, n = y.shape
        return y.view(b, self.out, self.u, n).permute(0, 1, 3, 2).reshape(b, self.out, n * self.u)


class Generator(nn.Module):
    def __init__(self, cfg: VocoderConfig = VocoderConfig()):
        super().__init__()
        if math.prod(cfg.upsample) != cfg.hop:
            raise ValueError(f"upsampling factors {cfg.upsample} do not multiply to the hop {cfg.hop}")
        if cfg.upsampler not in UPSAMPLERS:
            raise ValueError(f"unknown upsampler {cfg.upsampler!r}: one of {', '.join(UPSAMPLERS)}")
        self.cfg = cfg
        ch = cfg.channels
        self.pre = nn.Conv1d(cfg.n_mels, ch, 7, padding=3)
        self.ups = nn.ModuleList()
        self.res = nn.ModuleList()
        for u in cfg.upsample:
            if cfg.upsampler == "nearest":
                self.ups.append(nn.Sequential(nn.Upsample(scale_factor=u, mode="nearest"), nn.Conv1d(ch, ch // 2, 2 * u + 1, padding=u)))
            elif cfg.upsampler == "subpixel":
                self.ups.append(SubPixel1d(ch, ch // 2, u))
            else:
                # length out = L * u: kernel 2u, stride u, 2 * padding - output_padding = u
                self.ups.append(nn.ConvTranspose1d(ch, ch // 2, 2 * u, stride=u, padding=u // 2 + u % 2, output_padding=u % 2))
            ch //= 2
            self.res.append(ResBlock(ch, cfg.resblock_kernel, cfg.dilations))
        self.post = nn.Conv1d(ch, 1, 7, padding=3)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, frames) -> (B, frames * hop)."""
        x = self.pre(mel)
        for up, res in zip(self.ups, self.res):
            x = res(up(F.leaky_relu(x, 0.1)))
        return torch.tanh(self.post(F.leaky_relu(x, 0.1))).squeeze(1)


# ----------------------------------------------------------------------------- discriminators


class PeriodDisc(nn.Module):
    def __init__(self, period: int, chans: Sequence[int] = (8, 16, 32, 64)):
        super().__init__()
        self.period = period
        layers, c_in = [], 1
        for i, c in enumerate(chans):
            last = i == len(chans) - 1
            layers.append(nn.Conv2d(c_in, c, (3, 1) if last else (5, 1), 1 if last else (3, 1), padding=(1, 0) if last else (2, 0)))
            c_in = c
        self.convs = nn.ModuleList(layers)
        self.post = nn.Conv2d(c_in, 1, (3, 1), padding=(1, 0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, t = x.shape
        if t % self.period:
            x = F.pad(x, (0, self.period - t % self.period), mode="reflect")
        x = x.view(b, 1, -1, self.period)
        return _conv_stack(self.convs, self.post, x)


def _conv_stack(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A discriminator body: leaky-ReLU convolutions, then the score layer;
    every layer's output is kept for the feature-matching loss."""
    feats = []
    for conv in convs:
        x = F.leaky_relu(conv(x), 0.1)
        feats.append(x)
    x = post(x)
    feats.append(x)
    return x.flatten(1), feats


class ScaleDisc(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([
            nn.Conv1d(1, 8, 15, padding=7),
            nn.Conv1d(8, 32, 41, 4, groups=4, padding=20),
            nn.Conv1d(32, 64, 21, 4, groups=8, padding=10),
            nn.Conv1d(64, 64, 5, padding=2),
        ])
        self.post = nn.Conv1d(64, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = x.unsqueeze(1)
        return _conv_stack(self.convs, self.post, x)


class Discriminators(nn.Module):
    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), scales: int = 2):
        super().__init__()
        self.discs = nn.ModuleList([PeriodDisc(p) for p in periods] + [ScaleDisc() for _ in range(scales)])
        self.n_periods = len(periods)

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        out = []
        for i, d in enumerate(self.discs):
            j = i - self.n_periods
            xi = x if j <= 0 else F.avg_pool1d(x.unsqueeze(1), 2**j, 2**j).squeeze(1)
            out.append(d(xi))
        return out


# ----------------------------------------------------------------------------- losses


def d_loss(real: list, fake: list) -> torch.Tensor:
    return sum(torch.mean((1 - r[0]) ** 2) + torch.mean(f[0] ** 2) for r, f in zip(real, fake))


def g_adv_loss(fake: list) -> torch.Tensor:
    return sum(torch.mean((1 - f[0]) ** 2) for f in fake)


def feature_loss(real: list, fake: list) -> torch.Tensor:
    return sum(torch.mean(torch.abs(a.detach() - b)) for r, f in zip(real, fake) for a, b in zip(r[1], f[1]))


STFT_RESOLUTIONS = ((512, 128, 512), (1024, 256, 1024), (256, 64, 256))


def mr_stft_loss(y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    """Multi-resolution STFT loss: spectral convergence + log-magnitude L1, averaged over resolutions."""
    total = y.new_zeros(())
    for n_fft, hop, win in STFT_RESOLUTIONS:
        w = torch.hann_window(win, device=y.device)
        s = torch.stft(y, n_fft, hop, win, w, return_complex=True).abs().clamp(min=1e-7)
        sh = torch.stft(y_hat, n_fft, hop, win, w, return_complex=True).abs().clamp(min=1e-7)
        sc = torch.linalg.norm(s - sh) / torch.linalg.norm(s).clamp(min=1e-7)
        total = total + sc + torch.mean(torch.abs(torch.log(s) - torch.log(sh)))
    return total / len(STFT_RESOLUTIONS)


# ----------------------------------------------------------------------------- data


def to_rate(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling (scipy), float32."""
    x = np.asarray(x, np.float32)
    if rate == target:
        return x
    g = math.gcd(int(rate), int(target))
    return resample_poly(x, target // g, rate // g).astype(np.float32)


def _trim(x: np.ndarray, rate: int, thresh_db: float = -40.0) -> np.ndarray:
    """Cut leading and trailing frames more than ``thresh_db`` below the loudest 20 ms frame."""
    hop = int(0.02 * rate)
    n = len(x) // hop
    if n < 3:
        return x
    e = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    on = np.flatnonzero(e > e.max() + thresh_db)
    return x[max(0, (on[0] - 1) * hop) : min(len(x), (on[-1] + 2) * hop)]


def load_training_audio(split: str = "train", max_files_per_source: int | None = 250, seed: int = 0,
                        rate: int = 16000, log: Callable[[str], None] = print,
                        native_rates: list[int] | None = None) -> list[np.ndarray]:
    """Bona fide recordings of one split's speakers (``sources.BONAFIDE_SOURCES``), at ``rate``, peak 0.95, trimmed.

    ``native_rates``, when given, receives each file's original sample rate.
    """
    import random

    from audio.decode import AudioDecodeError, decode_audio
    from detectors.voice_clone.sources import BONAFIDE_SOURCES

    out: list[np.ndarray] = []
    for src in BONAFIDE_SOURCES:
        if src.split != split:
            continue
        files = src.files()
        random.Random(f"{seed}:{src.name}").shuffle(files)
        n = 0
        for p in files:
            if max_files_per_source is not None and n >= max_files_per_source:
                break
            try:
                d = decode_audio(p, target_rate=None, max_duration_s=600)
            except AudioDecodeError:
                continue
            x = _trim(to_rate(d.samples, d.sample_rate, rate), rate)
            peak = float(np.max(np.abs(x))) if x.size else 0.0
            if x.size < rate // 4 or peak <= 1e-4:
                continue
            out.append((x * (0.95 / peak)).astype(np.float32))
            if native_rates is not None:
                native_rates.append(d.sample_rate)
            n += 1
        log(f"  {src.name}: {n} files")
    return out


def load_audio_dir(root: Path, rate: int = 16000) -> list[np.ndarray]:
    """Every audio file under ``root`` (for small experiments and tests)."""
    from audio.decode import decode_audio

    out = []
    for p in sorted(Path(root).rglob("*")):
        if p.suffix.lower() in {".wav", ".flac", ".ogg", ".mp3", ".gsm"}:
            d = decode_audio(p, target_rate=None, max_duration_s=600)
            x = to_rate(d.samples, d.sample_rate, rate)
            peak = float(np.max(np.abs(x))) if x.size else 0.0
            if peak > 1e-4:
                out.append((x * (0.95 / peak)).astype(np.float32))
    return out


def _batch(audio: list[np.ndarray], weights: np.ndarray, cfg: GanTrainConfig, rng: np.random.Generator) -> torch.Tensor:
    seg = cfg.segment
    rows = []
    for _ in range(cfg.batch_size):
        for _try in range(5):  # prefer segments with speech in them
            x = audio[int(rng.choice(len(audio), p=weights))]
            if len(x) < seg:
                x = np.pad(x, (0, seg - len(x)))
            s = int(rng.integers(0, len(x) - seg + 1))
            y = x[s : s + seg]
            if np.sqrt(np.mean(y**2)) > 0.01:
                break
        rows.append(y * rng.uniform(0.5, 1.0))
    return torch.from_numpy(np.stack(rows).astype(np.float32))


# ----------------------------------------------------------------------------- training


def _ckpt(path: Path, g: Generator, d: Discriminators, og, od, step: int, elapsed: float, vcfg: VocoderConfig,
          tcfg: GanTrainConfig, history: list) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"format": FORMAT, "generator": g.state_dict(), "discriminators": d.state_dict(), "opt_g": og.state_dict(),
                "opt_d": od.state_dict(), "step": step, "elapsed_s": elapsed, "vocoder_config": asdict(vcfg),
                "train_config": asdict(tcfg), "history": history}, tmp)
    os.replace(tmp, path)


def train(out_dir: Path, audio: list[np.ndarray], tcfg: GanTrainConfig = GanTrainConfig(),
          vcfg: VocoderConfig = VocoderConfig(), resume: bool = False, log: Callable[[str], None] = print) -> Path:
    """Time-boxed GAN training; writes ``out_dir/ckpt.pt`` every ``checkpoint_minutes`` and at the end."""
    if not audio:
        raise ValueError("no training audio")
    torch.set_num_threads(tcfg.threads)
    torch.manual_seed(tcfg.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    rng = np.random.default_rng(tcfg.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "ckpt.pt"
    g, d, mel = Generator(vcfg), Discriminators(), MelFrontEnd(vcfg)
    og = torch.optim.AdamW(g.parameters(), tcfg.lr, betas=tcfg.betas)
    od = torch.optim.AdamW(d.parameters(), tcfg.lr, betas=tcfg.betas)
    step, elapsed0, history = 0, 0.0, []
    if resume and ckpt_path.is_file():
        ck = torch.load(ckpt_path, weights_only=True)
        g.load_state_dict(ck["generator"])
        d.load_state_dict(ck["discriminators"])
        og.load_state_dict(ck["opt_g"])
        od.load_state_dict(ck["opt_d"])
        step, elapsed0, history = ck["step"], ck["elapsed_s"], ck["history"]
        rng = np.random.default_rng([tcfg.seed, step])
        log(f"resumed at step {step} ({elapsed0 / 60:.1f} min)")
    lengths = np.array([len(x) for x in audio], np.float64)
    weights = lengths / lengths.sum()
    log(f"generator {sum(p.numel() for p in g.parameters())} parameters, discriminators "
        f"{sum(p.numel() for p in d.parameters())}; {len(audio)} files, {lengths.sum() / vcfg.rate / 60:.1f} min of audio")
    budget = tcfg.minutes * 60.0
    t0 = time.monotonic()
    last_ckpt = t0
    acc: dict[str, float] = {}
    n_acc = 0
    while True:
        elapsed = elapsed0 + time.monotonic() - t0
        if elapsed >= budget or (tcfg.max_steps is not None and step >= tcfg.max_steps):
            break
        adversarial = elapsed >= tcfg.warmup_frac * budget
        y = _batch(audio, weights, tcfg, rng)
        m = mel(y)
        y_hat = g(m)[:, : y.shape[1]]
        if adversarial:
            od.zero_grad()
            both = d(torch.cat([y, y_hat.detach()]))
            b = y.shape[0]
            real = [(o[:b], [f[:b].detach() for f in fs]) for o, fs in both]  # reused for feature matching
            ld = d_loss(real, [(o[b:], [f[b:] for f in fs]) for o, fs in both])
            ld.backward()
            od.step()
        l_mel = F.l1_loss(mel(y_hat), m)
        l_stft = mr_stft_loss(y, y_hat)
        lg = tcfg.lambda_mel * l_mel + tcfg.lambda_stft * l_stft
        if adversarial:
            fake = d(y_hat)
            l_adv, l_fm = g_adv_loss(fake), feature_loss(real, fake)
            lg = lg + l_adv + tcfg.lambda_fm * l_fm
        og.zero_grad()
        lg.backward()
        og.step()
        step += 1
        for k, v in {"mel_l1": l_mel.item(), "mr_stft": l_stft.item(), **({"d": ld.item(), "g_adv": l_adv.item(),
                                                                          "fm": l_fm.item()} if adversarial else {})}.items():
            acc[k] = acc.get(k, 0.0) + v
        n_acc += 1
        if step % 100 == 0:
            row = {"step": step, "minutes": round((elapsed0 + time.monotonic() - t0) / 60, 2), "adversarial": adversarial,
                   **{k: round(v / n_acc, 4) for k, v in acc.items()}}
            history.append(row)
            log(json.dumps(row))
            acc, n_acc = {}, 0
        if time.monotonic() - last_ckpt >= tcfg.checkpoint_minutes * 60:
            _ckpt(ckpt_path, g, d, og, od, step, elapsed0 + time.monotonic() - t0, vcfg, tcfg, history)
            last_ckpt = time.monotonic()
    elapsed = elapsed0 + time.monotonic() - t0
    _ckpt(ckpt_path, g, d, og, od, step, elapsed, vcfg, tcfg, history)
    log(f"done: {step} steps, {elapsed / 60:.1f} min -> {ckpt_path}")
    return ckpt_path


def export_half(ckpt: Path, out: Path) -> str:
    """Write the generator alone as float16 (+ configs and training summary); returns its SHA-256."""
    ck = torch.load(ckpt, weights_only=True)
    bundle = {
        "format": FORMAT,
        "generator": {k: v.half() for k, v in ck["generator"].items()},
        "vocoder_config": ck["vocoder_config"],
        "train_config": ck["train_config"],
        "step": ck["step"],
        "elapsed_s": ck["elapsed_s"],
    }
    torch.save(bundle, out)
    return hashlib.sha256(Path(out).read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- inference


def _vcfg(d: dict) -> VocoderConfig:
    d = dict(d)
    for k in ("upsample", "dilations"):
        d[k] = tuple(d[k])
    return VocoderConfig(**d)


_CACHE: dict[str, tuple[Generator, MelFrontEnd]] = {}


def load_generator(path: Path = WEIGHTS_PATH) -> tuple[Generator, MelFrontEnd]:
    """Float32 generator and its front end from a float16 bundle (``export_half``) or a training checkpoint."""
    key = str(Path(path).resolve())
    if key not in _CACHE:
        b = torch.load(path, weights_only=True, map_location="cpu")
        if b.get("format") != FORMAT:
            raise ValueError(f"{path}: not a GAN vocoder bundle ({b.get('format')!r})")
        vcfg = _vcfg(b["vocoder_config"])
        g = Generator(vcfg)
        g.load_state_dict({k: v.float() for k, v in b["generator"].items()})
        g.eval()
        _CACHE[key] = (g, MelFrontEnd(vcfg))
    return _CACHE[key]


def resynthesize(x: np.ndarray, rate: int, path: Path = WEIGHTS_PATH) -> np.ndarray:
    """Mel analysis + GAN generator at 16 kHz; returns ``len(x)`` samples at ``rate``, RMS matched to ``x``."""
    g, mel = load_generator(path)
    r = g.cfg.rate
    x = np.asarray(x, np.float32)
    n = len(x)
    if n == 0:
        return x.copy()
    x16 = to_rate(x, rate, r)
    peak = float(np.max(np.abs(x16)))
    if peak <= 1e-6:
        return np.zeros(n, np.float32)
    with torch.inference_mode():
        y16 = g(mel(torch.from_numpy(x16 * (0.95 / peak))[None]))[0, : len(x16)].numpy()
    y = to_rate(y16, r, rate)[:n]
    if len(y) < n:
        y = np.pad(y, (0, n - len(y)))
    rms_x, rms_y = float(np.sqrt(np.mean(x**2))), float(np.sqrt(np.mean(y**2)))
    if rms_y > 1e-9:
        y = y * (rms_x / rms_y)
    return np.nan_to_num(y).astype(np.float32)


def quality(items: Iterable[tuple[np.ndarray, np.ndarray, int]], rate: int = 16000) -> dict[str, float]:
    """Mean distances between references and resyntheses, both at ``rate``, over (x, y, native_rate) items.

    Only the band the recording had (below 0.9 x its native Nyquist, at most
    ``rate`` / 2) and its speech frames (frames within 40 dB of the loudest)
    count: ``mel_l1`` is the mean absolute difference of the training front end's
    log-mel (natural log) over those bands, ``lsd_db`` the log-spectral distance
    (512-point STFT, hop 128, dB, RMS over bins then mean over frames).
    """
    cfg = VocoderConfig(rate=rate)
    mel = MelFrontEnd(cfg)
    centres = mel_to_hz_centres(cfg)
    l1s, lsds = [], []
    for x, y, native in items:
        top = 0.9 * min(native, rate) / 2
        with torch.inference_mode():
            mx, my = mel(torch.from_numpy(x)[None])[0], mel(torch.from_numpy(y)[None])[0]
            band = torch.from_numpy(centres < top)
            ex = torch.logsumexp(2 * mx[band], 0)  # log power per frame (natural log)
            frames = ex > ex.max() - 40 / (10 / math.log(10))  # within 40 dB of the loudest frame
            l1s.append(float(torch.mean(torch.abs(mx - my)[band][:, frames])))
            w = torch.hann_window(512)
            sx = torch.stft(torch.from_numpy(x), 512, 128, 512, w, return_complex=True).abs() ** 2
            sy = torch.stft(torch.from_numpy(y), 512, 128, 512, w, return_complex=True).abs() ** 2
            bins = torch.from_numpy(np.linspace(0, rate / 2, 257) < top)
            sx, sy = sx[bins], sy[bins]
            e = 10 * torch.log10(sx.sum(0) + 1e-10)
            keep = e > e.max() - 40  # speech frames
            d = (10 * torch.log10(sx + 1e-10) - 10 * torch.log10(sy + 1e-10))[:, keep]
            lsds.append(float(torch.mean(torch.sqrt(torch.mean(d**2, 0)))))
    return {"files": len(l1s), "mel_l1": round(float(np.mean(l1s)), 4), "lsd_db": round(float(np.mean(lsds)), 3)}


def mel_to_hz_centres(cfg: VocoderConfig) -> np.ndarray:
    from audio.features import hz_to_mel, mel_to_hz

    return mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), cfg.n_mels + 2))[1:-1]


# ----------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m detectors.voice_clone.gan_vocoder", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train on bona fide TRAIN-split speech (sources.BONAFIDE_SOURCES), time-boxed")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--minutes", type=float, default=60.0)
    t.add_argument("--max-steps", type=int, default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--batch-size", type=int, default=GanTrainConfig.batch_size)
    t.add_argument("--segment", type=int, default=GanTrainConfig.segment)
    t.add_argument("--max-files-per-source", type=int, default=GanTrainConfig.max_files_per_source)
    t.add_argument("--checkpoint-minutes", type=float, default=GanTrainConfig.checkpoint_minutes)
    t.add_argument("--warmup-frac", type=float, default=GanTrainConfig.warmup_frac)
    t.add_argument("--audio-dir", type=Path, default=None, help="train on the audio files under this directory instead")
    t.add_argument("--resume", action="store_true", help="continue from OUT/ckpt.pt (the time budget counts the earlier run)")
    t.add_argument("--upsampler", choices=UPSAMPLERS, default=VocoderConfig.upsampler)
    t.add_argument("--factors", default=",".join(map(str, VocoderConfig.upsample)),
                   help="upsampling factors, comma-separated; their product is the hop (default 5,5,4,2 = 200)")
    e = sub.add_parser("export", help="float16 generator bundle from a training checkpoint")
    e.add_argument("ckpt", type=Path)
    e.add_argument("out", type=Path)
    v = sub.add_parser("evaluate", help="mel L1 / log-spectral distance of resynthesised held-out (dev-split) speech")
    v.add_argument("weights", type=Path, nargs="?", default=WEIGHTS_PATH)
    v.add_argument("--split", default="dev")
    v.add_argument("--max-files-per-source", type=int, default=40)
    v.add_argument("--griffinlim", action="store_true", help="also measure the griffinlim family on the same files")
    a = ap.parse_args(argv)
    if a.cmd == "train":
        tcfg = GanTrainConfig(seed=a.seed, minutes=a.minutes, max_steps=a.max_steps, batch_size=a.batch_size,
                              segment=a.segment, max_files_per_source=a.max_files_per_source,
                              checkpoint_minutes=a.checkpoint_minutes, warmup_frac=a.warmup_frac)
        factors = tuple(int(f) for f in a.factors.split(","))
        vcfg = VocoderConfig(upsample=factors, hop=math.prod(factors), upsampler=a.upsampler)
        Generator(vcfg)  # refuse a bad configuration before minutes of loading audio
        torch.set_num_threads(tcfg.threads)
        audio = load_audio_dir(a.audio_dir) if a.audio_dir else load_training_audio("train", tcfg.max_files_per_source, tcfg.seed)
        train(a.out, audio, tcfg, vcfg, resume=a.resume, log=lambda s: print(s, flush=True))
    elif a.cmd == "export":
        sha = export_half(a.ckpt, a.out)
        print(f"{a.out}: {Path(a.out).stat().st_size} bytes, sha256 {sha}")
    elif a.cmd == "evaluate":
        torch.set_num_threads(1)
        rates: list[int] = []
        audio = load_training_audio(a.split, a.max_files_per_source, seed=1, log=lambda s: None, native_rates=rates)
        t0 = time.monotonic()
        res = {"split": a.split, "weights": str(a.weights),
               "audio_s": round(sum(len(x) for x in audio) / 16000, 1),
               "native_rates": {str(r): rates.count(r) for r in sorted(set(rates))},
               "neural": quality((x, resynthesize(x, 16000, a.weights), r) for x, r in zip(audio, rates))}
        res["neural"]["seconds"] = round(time.monotonic() - t0, 1)
        if a.griffinlim:
            from detectors.voice_clone.vocoders import griffinlim_resynth

            res["griffinlim"] = quality((x, griffinlim_resynth(x, 16000, np.random.default_rng(0)), r)
                                        for x, r in zip(audio, rates))
        print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
