"""Train the spectral voice-spoofing model on a corpus built by ``corpus``.

Sized for two shared CPU cores: one torch thread, 2 s random crops of LFCC
(the model pools over time, so it scores 4 s windows at inference), a ~40k
parameter network, a handful of epochs. Deterministic for a given seed
(torch deterministic algorithms, seeded crops and batches).

Model selection and calibration both use ``dev`` (speakers never seen in
training); ``eval`` is never touched here. ``exclude_families`` removes
spoof families from train and dev, for leave-one-family-out runs.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from audio.decode import decode_audio
from audio.resample import resample
from detectors.metrics import auc, eer
from detectors.voice_clone.calibration import fit_calibration
from detectors.voice_clone.corpus import corpus_audio_path, read_metadata
from detectors.voice_clone.models import (
    GE2E_MODELS,
    HEADS,
    INPUT_NORMS,
    MODEL_CONFIGS,
    ONE_CLASS_MIDPOINT,
    ONE_CLASS_REAL_MARGIN,
    ONE_CLASS_SCALE,
    ModelConfig,
    create_model,
    extract_features,
)
from detectors.voice_clone.scoring import ModelBundle


@dataclass(frozen=True)
class TrainConfig:
    model: str = "lfcc_lcnn"
    seed: int = 0
    epochs: int = 8
    batch_size: int = 32
    crop_s: float = 2.0
    lr: float = 1e-3
    weight_decay: float = 1e-4
    exclude_families: tuple[str, ...] = ()
    max_train_files: int | None = None
    threads: int = 1
    # Within each class, a speaker's n files are drawn with total weight n ** power
    # (1: every file alike, so the 600-prompt voice talent dominates; 0: every speaker alike).
    speaker_weight_power: float = 0.5
    # Calibration (on dev) weighs every speaker of a class equally, so that one
    # prompt talent does not set the bona fide score distribution on its own.
    calibration_speaker_balance: bool = True
    # ModelConfig.input_norm: "window" removes each window's mean over time (CMN).
    input_norm: str = "global"
    # Speed perturbation of train files (both classes alike), e.g. (0.9, 1.1):
    # resampling moves pitch and formants by the factor, like a shorter or
    # longer vocal tract, so the model meets more "speakers" than the corpus
    # has. No vocoder is involved, so it adds no spoofing artefact. Each crop
    # draws the original or one of these versions.
    speed_perturb: tuple[float, ...] = ()
    # Channel multiplier of the CNN (1: the shipped size; 2: four times the
    # parameters, about twice the training time).
    width: int = 1
    # ModelConfig.head: "linear" (cross-entropy) or "one_class" (OC-softmax).
    head: str = "linear"


@dataclass
class Example:
    file_id: str
    label: int
    family: str
    speaker: str
    feats: np.ndarray
    # the same file speed-perturbed (TrainConfig.speed_perturb), same normalisation
    variants: list[np.ndarray] = field(default_factory=list)


@dataclass
class TrainResult:
    bundle: ModelBundle
    history: list[dict] = field(default_factory=list)


class TrainError(RuntimeError):
    pass


def load_split(
    corpus_dir: Path, split: str, cfg: ModelConfig, exclude_families: tuple[str, ...] = (), limit: int | None = None,
    seed: int = 0, speed_perturb: tuple[float, ...] = (),
) -> list[Example]:
    """Features (un-normalised) of every file of ``split``, and of its speed-perturbed versions."""
    rows = [r for r in read_metadata(corpus_dir) if r["split"] == split and r["family"] not in exclude_families]
    if limit is not None and len(rows) > limit:
        random.Random(seed).shuffle(rows)
        rows = rows[:limit]
    out = []
    for r in rows:
        d = decode_audio(corpus_audio_path(corpus_dir, r))
        # rate rounded to 100 Hz keeps the polyphase ratio small (0.9 -> 17800/16000 = 89/80)
        variants = [
            extract_features(resample(d.samples, d.sample_rate, round(d.sample_rate / f / 100) * 100), d.sample_rate, cfg)
            for f in speed_perturb
        ]
        feats = extract_features(d.samples, d.sample_rate, cfg)
        out.append(Example(r["file_id"], int(r["key"] == "spoof"), r["family"], r["speaker"], feats, variants))
    return out


def _draw(e: Example, rng: np.random.Generator) -> np.ndarray:
    """The original features or, with speed perturbation, one of the versions (all equally likely)."""
    if not e.variants:
        return e.feats
    k = int(rng.integers(0, len(e.variants) + 1))
    return e.feats if k == 0 else e.variants[k - 1]


def _crop(f: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if f.shape[0] < n:  # tile short files (both classes alike)
        f = np.tile(f, (math.ceil(n / f.shape[0]), 1))
    start = int(rng.integers(0, f.shape[0] - n + 1))
    return f[start : start + n]


def speaker_weights(examples: list[Example], power: float) -> np.ndarray:
    """Per-example sampling weights: each class keeps its share, each speaker gets mass n_speaker ** power."""
    w = np.ones(len(examples), np.float64)
    for label in (0, 1):
        idx = [i for i, e in enumerate(examples) if e.label == label]
        if not idx:
            continue
        counts: dict[str, int] = {}
        for i in idx:
            counts[examples[i].speaker] = counts.get(examples[i].speaker, 0) + 1
        mass = np.array([counts[examples[i].speaker] ** (power - 1.0) for i in idx])
        w[idx] = mass * len(idx) / mass.sum()  # class total unchanged
    return w / w.sum()


def one_class_loss(pos_weight: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """OC-softmax on the one-class head's logit z = s * (midpoint - cos):
    bona fide pays softplus(s * (m_real - cos)), a spoof softplus(s * (cos - m_spoof)),
    i.e. softplus(z + margin) and softplus(-z + margin); spoofs weighted like
    the cross-entropy's ``pos_weight`` so both classes count alike."""
    margin = ONE_CLASS_SCALE * (ONE_CLASS_REAL_MARGIN - ONE_CLASS_MIDPOINT)

    def loss(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        per = torch.where(y > 0.5, pos_weight * nn.functional.softplus(margin - z), nn.functional.softplus(z + margin))
        return per.mean()

    return loss


def train(
    corpus_dir: Path, cfg: TrainConfig = TrainConfig(), log: Callable[[str], None] = print
) -> TrainResult:
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(cfg.seed)
    if cfg.input_norm not in INPUT_NORMS:
        raise TrainError(f"input_norm must be global or window, got {cfg.input_norm!r}")
    if any(not 0.5 <= f <= 2.0 for f in cfg.speed_perturb):
        raise TrainError(f"speed perturbation factors must lie in 0.5-2.0, got {cfg.speed_perturb}")
    if cfg.width < 1:
        raise TrainError(f"width must be a positive integer, got {cfg.width}")
    if cfg.head not in HEADS:
        raise TrainError(f"head must be one of {', '.join(HEADS)}, got {cfg.head!r}")
    if cfg.model not in MODEL_CONFIGS or cfg.model in GE2E_MODELS:
        hint = " (GE2E models are built by train_ge2e.train_ge2e_model)" if cfg.model in GE2E_MODELS else ""
        raise TrainError(f"cannot train {cfg.model!r} by gradient descent here{hint}; models: {', '.join(MODEL_CONFIGS)}")
    base = MODEL_CONFIGS[cfg.model]
    mcfg = replace(base, input_norm=cfg.input_norm, channels=tuple(c * cfg.width for c in base.channels), head=cfg.head)
    t0 = time.monotonic()
    tr = load_split(corpus_dir, "train", mcfg, cfg.exclude_families, cfg.max_train_files, cfg.seed, cfg.speed_perturb)
    dev = load_split(corpus_dir, "dev", mcfg, cfg.exclude_families)
    if not tr or len({e.label for e in tr}) < 2:
        raise TrainError(f"{corpus_dir}: the train split needs both bona fide and spoof files")
    if len({e.label for e in dev}) < 2:
        raise TrainError(f"{corpus_dir}: the dev (calibration) split needs both bona fide and spoof files")
    log(f"features: {len(tr)} train, {len(dev)} dev files in {time.monotonic() - t0:.0f} s")
    allf = np.concatenate([e.feats for e in tr])
    mean, std = allf.mean(0).astype(np.float32), (allf.std(0) + 1e-5).astype(np.float32)
    for e in tr + dev:
        e.feats = ((e.feats - mean) / std).astype(np.float32)
        e.variants = [((v - mean) / std).astype(np.float32) for v in e.variants]
    model = create_model(cfg.model, mcfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(len(tr) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.15)
    n_pos = sum(e.label for e in tr)
    pos_weight = torch.tensor((len(tr) - n_pos) / max(1, n_pos))
    loss_fn = one_class_loss(pos_weight) if cfg.head == "one_class" else nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    bundle = ModelBundle(mcfg, model, mean, std, None)
    crop = int(cfg.crop_s * mcfg.frames_per_s)
    best: tuple[float, dict] | None = None
    history = []
    p_sample = speaker_weights(tr, cfg.speaker_weight_power)
    for epoch in range(cfg.epochs):
        model.train()
        if cfg.speaker_weight_power == 1.0:  # plain epochs (each file once)
            order = rng.permutation(len(tr))
        else:
            order = rng.choice(len(tr), size=len(tr), replace=True, p=p_sample)
        total = 0.0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            x = torch.from_numpy(np.stack([_crop(_draw(tr[j], rng), crop, rng) for j in idx]))
            y = torch.tensor([float(tr[j].label) for j in idx])
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        dev_scores = np.array([bundle.window_logits(e.feats)[0].mean() for e in dev])
        dev_labels = np.array([e.label for e in dev])
        h = {
            "epoch": epoch + 1,
            "train_loss": total / len(tr),
            "dev_eer": eer(dev_scores, dev_labels),
            "dev_auc": auc(dev_scores, dev_labels),
            "elapsed_s": round(time.monotonic() - t0, 1),
        }
        history.append(h)
        log(f"epoch {h['epoch']}: loss {h['train_loss']:.4f} dev EER {h['dev_eer']:.4f} AUC {h['dev_auc']:.4f} ({h['elapsed_s']} s)")
        if best is None or h["dev_eer"] < best[0]:
            best = (h["dev_eer"], {k: v.clone() for k, v in model.state_dict().items()})
    assert best is not None
    model.load_state_dict(best[1])
    model.eval()
    dev_scores = np.array([bundle.window_logits(e.feats)[0].mean() for e in dev])
    dev_labels = np.array([e.label for e in dev])
    cal_w = speaker_weights(dev, 0.0) if cfg.calibration_speaker_balance else None
    bundle.calibration = fit_calibration(dev_scores, dev_labels, weights=cal_w)
    bundle.record = {
        "train_config": asdict(cfg),
        "corpus": str(corpus_dir),
        "train_files": len(tr),
        "train_spoof": n_pos,
        "dev_files": len(dev),
        "history": history,
        "selected_epoch": int(np.argmin([h["dev_eer"] for h in history]) + 1),
        "calibration": bundle.calibration.to_dict(),
        "torch": str(torch.__version__),
    }
    return TrainResult(bundle, history)
