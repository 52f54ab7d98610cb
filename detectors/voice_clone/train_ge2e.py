"""Build the bundles that use the frozen GE2E encoder: ``ge2e_head`` and ``lfcc_ge2e``.

Fits, each on data the next never reuses for its own choice:

1. the head: L2 logistic regression on standardised pooled GE2E statistics of
   every 4 s window of the train split (speaker-weighted like the CNN's
   sampling); its L2 strength is picked among ``HEAD_L2`` by dev EER;
2. ``lfcc_ge2e`` only: the CNN, trained by ``train.train`` or taken from an
   existing ``lfcc_lcnn`` bundle (``cnn_from``, so a comparison isolates what
   the head adds), and fusion weights (CNN logit, head logit) fitted on dev;
3. the usual calibration on dev. ``eval`` is never touched.

No gradient training beyond the CNN: the head fits in seconds once the
features are read, so leave-one-family-out runs for it are cheap.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from detectors.logistic import fit_l2_logistic
from detectors.metrics import eer
from detectors.voice_clone import ge2e_features
from detectors.voice_clone.calibration import fit_calibration
from detectors.voice_clone.models import GE2E_MODELS, MODEL_CONFIGS, Ge2eHead, LfccGe2e, create_model
from detectors.voice_clone.scoring import HOP_S, WINDOW_S, ModelBundle, load_bundle, window_starts
from detectors.voice_clone.train import Example, TrainConfig, TrainError, load_split, speaker_weights, train

# L2 strengths tried for the head (per unit of class-balanced mean loss, on
# standardised features).
HEAD_L2 = (0.01, 0.03, 0.1, 0.3, 1.0)


def _window_stats(e: Example, win: int, hop: int) -> np.ndarray:
    mel = e.feats[:, -ge2e_features.N_MELS :]
    starts = window_starts(mel.shape[0], win, hop)
    return ge2e_features.window_stats(ge2e_features.frame_states(mel), starts, win)


def _cnn_bundle(corpus_dir: Path, cfg: TrainConfig, cnn_from: Path | None, log: Callable[[str], None]) -> ModelBundle:
    if cnn_from is None:
        return train(corpus_dir, replace(cfg, model="lfcc_lcnn"), log).bundle
    b = load_bundle(cnn_from)
    want = MODEL_CONFIGS["lfcc_lcnn"]
    if b.config.name != "lfcc_lcnn" or b.config.lfcc != want.lfcc or b.config.band != want.band:
        raise TrainError(f"{cnn_from}: --cnn-from needs an lfcc_lcnn bundle with the shipped LFCC settings")
    return b


def _fit_head(head: Ge2eHead, tr: list[Example], dev: list[Example], cfg: TrainConfig, win: int, hop: int,
              log: Callable[[str], None]) -> tuple[np.ndarray, dict]:
    """Fit ``head`` in place; returns the dev files' head scores and what was chosen."""
    stats, labels, weights = [], [], []
    for e, w in zip(tr, speaker_weights(tr, cfg.speaker_weight_power)):
        s = _window_stats(e, win, hop)
        stats.append(s)
        labels += [e.label] * len(s)
        weights += [w / len(s)] * len(s)
    X = np.concatenate(stats)
    mu, sd = X.mean(0), X.std(0) + 1e-5
    Z = (X - mu) / sd
    dev_stats = [(_window_stats(e, win, hop) - mu) / sd for e in dev]
    dev_labels = np.array([e.label for e in dev])
    best = None
    for l2 in HEAD_L2:
        coef, b = fit_l2_logistic(Z, labels, l2=l2, weights=weights)
        dev_head = np.array([float((s @ coef + b).mean()) for s in dev_stats])
        d_eer = eer(dev_head, dev_labels)
        log(f"GE2E head l2 {l2}: dev EER {d_eer:.4f}")
        if best is None or d_eer < best[0]:
            best = (d_eer, l2, coef, b, dev_head)
    assert best is not None
    head_eer, l2, coef, b, dev_head = best
    with torch.no_grad():
        head.stat_mean.copy_(torch.from_numpy(mu.astype(np.float32)))
        head.stat_std.copy_(torch.from_numpy(sd.astype(np.float32)))
        head.head.weight.copy_(torch.from_numpy(coef.astype(np.float32))[None])
        head.head.bias.fill_(b)
    return dev_head, {"l2": l2, "train_windows": int(len(X)), "dev_eer": head_eer}


def train_ge2e_model(
    corpus_dir: Path, cfg: TrainConfig = TrainConfig(model="ge2e_head"), cnn_from: Path | None = None,
    log: Callable[[str], None] = print,
) -> ModelBundle:
    if cfg.model not in GE2E_MODELS:
        raise TrainError(f"train_ge2e_model builds {', '.join(GE2E_MODELS)}, not {cfg.model!r}")
    if cnn_from is not None and cfg.model != "lfcc_ge2e":
        raise TrainError("--cnn-from goes with --model lfcc_ge2e")
    torch.set_num_threads(cfg.threads)
    t0 = time.monotonic()
    fused = cfg.model == "lfcc_ge2e"
    cnn_bundle = _cnn_bundle(corpus_dir, cfg, cnn_from, log) if fused else None
    mcfg = MODEL_CONFIGS[cfg.model]
    if cnn_bundle is not None:
        mcfg = replace(mcfg, input_norm=cnn_bundle.config.input_norm, channels=cnn_bundle.config.channels)
    tr = load_split(corpus_dir, "train", mcfg, cfg.exclude_families, cfg.max_train_files, cfg.seed)
    dev = load_split(corpus_dir, "dev", mcfg, cfg.exclude_families)
    if len({e.label for e in tr}) < 2 or len({e.label for e in dev}) < 2:
        raise TrainError(f"{corpus_dir}: train and dev splits both need bona fide and spoof files")
    win, hop = int(WINDOW_S * mcfg.frames_per_s), int(HOP_S * mcfg.frames_per_s)
    log(f"GE2E head: features of {len(tr)} train, {len(dev)} dev files ({time.monotonic() - t0:.0f} s)")

    model = create_model(cfg.model, mcfg)
    head = model.ge2e if isinstance(model, LfccGe2e) else model
    dev_head, head_record = _fit_head(head, tr, dev, cfg, win, hop, log)
    model.eval()
    dev_labels = np.array([e.label for e in dev])
    dev_w = speaker_weights(dev, 0.0)
    n_mel = ge2e_features.N_MELS
    record: dict = {"head": head_record}
    if isinstance(model, LfccGe2e):
        assert cnn_bundle is not None
        model.cnn.load_state_dict(cnn_bundle.model.state_dict())
        mean = np.concatenate([cnn_bundle.mean, np.zeros(n_mel, np.float32)])
        std = np.concatenate([cnn_bundle.std, np.ones(n_mel, np.float32)])
        dev_cnn = np.array([cnn_bundle.window_logits(cnn_bundle.normalise(e.feats[:, :-n_mel]))[0].mean() for e in dev])
        fw, fb = fit_l2_logistic(np.stack([dev_cnn, dev_head], 1), dev_labels, l2=1e-3, weights=dev_w)
        with torch.no_grad():
            model.fusion.weight.copy_(torch.from_numpy(fw.astype(np.float32))[None])
            model.fusion.bias.fill_(fb)
        dev_scores = fw[0] * dev_cnn + fw[1] * dev_head + fb  # linear: the mean of window logits fuses alike
        record.update({
            "cnn": {"from": str(cnn_from) if cnn_from else None, "sha256": cnn_bundle.sha256, "record": cnn_bundle.record},
            "fusion": {"weights": fw.tolist(), "bias": fb},
            "dev_eer": {"cnn": eer(dev_cnn, dev_labels), "head": head_record["dev_eer"], "fused": eer(dev_scores, dev_labels)},
        })
        log(f"dev EER: CNN {record['dev_eer']['cnn']:.4f}, GE2E head {head_record['dev_eer']:.4f}, "
            f"fused {record['dev_eer']['fused']:.4f}; fusion {fw.round(3).tolist()} {fb:.3f}")
    else:
        mean, std = np.zeros(n_mel, np.float32), np.ones(n_mel, np.float32)
        dev_scores = dev_head
    bundle = ModelBundle(mcfg, model, mean, std, None)
    bundle.calibration = fit_calibration(dev_scores, dev_labels, weights=dev_w if cfg.calibration_speaker_balance else None)
    bundle.record = {
        "train_config": asdict(cfg),
        "corpus": str(corpus_dir),
        "ge2e_weights_sha256": ge2e_features.weights_sha256(),
        **record,
        "train_files": len(tr),
        "train_spoof": sum(e.label for e in tr),
        "dev_files": len(dev),
        "calibration": bundle.calibration.to_dict(),
        "torch": str(torch.__version__),
        "elapsed_s": round(time.monotonic() - t0, 1),
    }
    return bundle
