"""Build the bundles that use the frozen GE2E encoder: ``ge2e_head`` and ``lfcc_ge2e``.

Fits, each on data the next never reuses for its own choice:

1. the head: L2 logistic regression on standardised pooled GE2E statistics of
   every 4 s window of the train split (speaker-weighted like the CNN's
   sampling); its L2 strength is picked among ``HEAD_L2`` by dev EER;
2. ``lfcc_ge2e`` only: the CNN, trained by ``train.train`` or taken from an
   existing ``lfcc_lcnn`` bundle (``cnn_from``, so a comparison isolates what
   the head adds), and fusion weights (CNN logit, head logit) fitted on dev;
   with ``lofo_cnns`` (CNNs each trained without one spoof family), the fusion
   is fitted for families the models never saw as well (``_stacked_folds``);
3. the usual calibration on dev. ``eval`` is never touched.

No gradient training beyond the CNN: the head fits in seconds once the
features are read, so leave-one-family-out runs for it are cheap.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
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


def _cnn_bundle(path: Path) -> ModelBundle:
    b = load_bundle(path)
    want = MODEL_CONFIGS["lfcc_lcnn"]
    if b.config.name != "lfcc_lcnn" or b.config.lfcc != want.lfcc or b.config.band != want.band:
        raise TrainError(f"{path}: lfcc_ge2e takes CNNs from lfcc_lcnn bundles with the shipped LFCC settings")
    return b


@dataclass
class _HeadData:
    """Window statistics of every train and dev file, computed once: the head and
    every fold's head (``_stacked_folds``) are fitted from the same numbers."""

    train: list[Example]
    train_stats: list[np.ndarray]
    train_weights: np.ndarray  # per file, speaker-weighted like the CNN's sampling
    dev: list[Example]
    dev_stats: list[np.ndarray]


@dataclass
class _HeadFit:
    mean: np.ndarray
    std: np.ndarray
    coef: np.ndarray
    bias: float

    def file_scores(self, stats: list[np.ndarray]) -> np.ndarray:
        """Mean window logit per file, as the detector and ``eval`` score a file."""
        return np.array([float((((s - self.mean) / self.std) @ self.coef + self.bias).mean()) for s in stats])

    def copy_into(self, head: Ge2eHead) -> None:
        with torch.no_grad():
            head.stat_mean.copy_(torch.from_numpy(self.mean.astype(np.float32)))
            head.stat_std.copy_(torch.from_numpy(self.std.astype(np.float32)))
            head.head.weight.copy_(torch.from_numpy(self.coef.astype(np.float32))[None])
            head.head.bias.fill_(self.bias)


def _head_data(tr: list[Example], dev: list[Example], cfg: TrainConfig, win: int, hop: int) -> _HeadData:
    return _HeadData(tr, [_window_stats(e, win, hop) for e in tr], speaker_weights(tr, cfg.speaker_weight_power),
                     dev, [_window_stats(e, win, hop) for e in dev])


def _fit_head_at(data: _HeadData, l2: float, skip_family: str | None = None) -> _HeadFit:
    keep = [i for i, e in enumerate(data.train) if e.family != skip_family]
    stats = [data.train_stats[i] for i in keep]
    X = np.concatenate(stats)
    labels = np.concatenate([[data.train[i].label] * len(s) for i, s in zip(keep, stats)])
    weights = np.concatenate([[data.train_weights[i] / len(s)] * len(s) for i, s in zip(keep, stats)])
    mu, sd = X.mean(0), X.std(0) + 1e-5
    coef, b = fit_l2_logistic((X - mu) / sd, labels, l2=l2, weights=weights)
    return _HeadFit(mu, sd, coef, b)


def _fit_head(data: _HeadData, log: Callable[[str], None]) -> tuple[_HeadFit, np.ndarray, dict]:
    """The head at the L2 strength with the lowest dev EER; returns it, its dev file scores and what was chosen."""
    dev_labels = np.array([e.label for e in data.dev])
    best = None
    for l2 in HEAD_L2:
        fit = _fit_head_at(data, l2)
        dev_head = fit.file_scores(data.dev_stats)
        d_eer = eer(dev_head, dev_labels)
        log(f"GE2E head l2 {l2}: dev EER {d_eer:.4f}")
        if best is None or d_eer < best[0]:
            best = (d_eer, l2, fit, dev_head)
    assert best is not None
    head_eer, l2, fit, dev_head = best
    n_windows = sum(len(s) for s in data.train_stats)
    return fit, dev_head, {"l2": l2, "train_windows": int(n_windows), "dev_eer": head_eer}


def _cnn_file_scores(cnn: ModelBundle, examples: list[Example]) -> np.ndarray:
    n_mel = ge2e_features.N_MELS
    return np.array([cnn.window_logits(cnn.normalise(e.feats[:, :-n_mel]))[0].mean() for e in examples])


@dataclass
class _FusionBlock:
    """(CNN, head) dev scores of one situation, for the fusion fit."""

    scores: np.ndarray  # (files, 2)
    labels: np.ndarray
    weights: np.ndarray  # sums to 1


def _load_lofo_cnns(paths: dict[str, Path]) -> dict[str, ModelBundle]:
    """Each CNN loaded and checked before any feature is computed, so a wrong path fails at once."""
    out = {}
    for family, path in sorted(paths.items()):
        cnn = _cnn_bundle(path)
        if family not in cnn.record.get("train_config", {}).get("exclude_families", ()):
            raise TrainError(f"{path}: a stacked-fusion CNN for {family} must be trained with --exclude-family {family}")
        out[family] = cnn
    return out


def _stacked_folds(data: _HeadData, lofo_cnns: dict[str, ModelBundle], l2: float, log: Callable[[str], None]
                   ) -> tuple[list[_FusionBlock], dict]:
    """Dev scores of models that never saw a family, on that family.

    Why: fusion weights fitted on dev alone reward the CNN for the families it
    was trained on; on a family it never saw it can be confidently wrong and drag
    the fusion with it (the neural family left out: CNN AUC 0.05, head 0.91;
    docs/voice.md, tenth session). For each family F with a CNN trained without
    it, the head is refitted without F too, and both score dev bona fide and dev
    F spoofs: the situation of an attack unlike the training data.
    """
    blocks, record = [], {}
    train_families = {e.family for e in data.train if e.label == 1}
    for family, cnn in sorted(lofo_cnns.items()):
        if family not in train_families:
            log(f"stacked fusion: no {family} spoofs in train (excluded or absent); its CNN is not used")
            continue
        rows = [i for i, e in enumerate(data.dev) if e.label == 0 or e.family == family]
        dev = [data.dev[i] for i in rows]
        labels = np.array([e.label for e in dev])
        if labels.sum() == 0:
            log(f"stacked fusion: no {family} spoofs in dev; its CNN is not used")
            continue
        head = _fit_head_at(data, l2, skip_family=family).file_scores([data.dev_stats[i] for i in rows])
        cnn_scores = _cnn_file_scores(cnn, dev)
        record[family] = {"cnn_sha256": cnn.sha256, "dev_eer_cnn": eer(cnn_scores, labels), "dev_eer_head": eer(head, labels)}
        log(f"stacked fusion, {family} unseen: dev EER CNN {record[family]['dev_eer_cnn']:.4f}, "
            f"head {record[family]['dev_eer_head']:.4f}")
        blocks.append(_FusionBlock(np.stack([cnn_scores, head], 1), labels, speaker_weights(dev, 0.0)))
    if lofo_cnns and not blocks:
        raise TrainError("stacked fusion: none of the given CNNs left out a family that has train and dev spoofs")
    return blocks, record


def _fit_fusion(seen: _FusionBlock, unseen: list[_FusionBlock]) -> tuple[np.ndarray, float]:
    """Logistic fusion; with unseen-family blocks, half the weight is on families the
    models saw (dev as it is) and half on families they never saw, shared equally."""
    blocks = [(seen, 1.0 if not unseen else 0.5)] + [(b, 0.5 / len(unseen)) for b in unseen]
    X = np.concatenate([b.scores for b, _ in blocks])
    y = np.concatenate([b.labels for b, _ in blocks])
    # fit_l2_logistic balances the classes over all rows; the block's share goes on each of its classes
    w = np.concatenate([
        share * b.weights / np.where(b.labels == 1, b.weights[b.labels == 1].sum(), b.weights[b.labels == 0].sum())
        for b, share in blocks])
    return fit_l2_logistic(X, y, l2=1e-3, weights=w)


def train_ge2e_model(
    corpus_dir: Path, cfg: TrainConfig = TrainConfig(model="ge2e_head"), cnn_from: Path | None = None,
    log: Callable[[str], None] = print, lofo_cnns: dict[str, Path] | None = None,
) -> ModelBundle:
    """``lofo_cnns`` maps a spoof family to an lfcc_lcnn bundle trained without it
    (``--exclude-family``): the fusion is then fitted for unseen families too."""
    if cfg.model not in GE2E_MODELS:
        raise TrainError(f"train_ge2e_model builds {', '.join(GE2E_MODELS)}, not {cfg.model!r}")
    if (cnn_from is not None or lofo_cnns) and cfg.model != "lfcc_ge2e":
        raise TrainError("--cnn-from and --lofo-cnn go with --model lfcc_ge2e")
    torch.set_num_threads(cfg.threads)
    t0 = time.monotonic()
    fused = cfg.model == "lfcc_ge2e"
    folds_cnns = _load_lofo_cnns(lofo_cnns or {})
    cnn_bundle = None
    if fused:
        cnn_bundle = _cnn_bundle(cnn_from) if cnn_from else train(corpus_dir, replace(cfg, model="lfcc_lcnn"), log).bundle
    mcfg = MODEL_CONFIGS[cfg.model]
    if cnn_bundle is not None:
        mcfg = replace(mcfg, input_norm=cnn_bundle.config.input_norm, channels=cnn_bundle.config.channels)
    tr = load_split(corpus_dir, "train", mcfg, cfg.exclude_families, cfg.max_train_files, cfg.seed)
    dev = load_split(corpus_dir, "dev", mcfg, cfg.exclude_families)
    if len({e.label for e in tr}) < 2 or len({e.label for e in dev}) < 2:
        raise TrainError(f"{corpus_dir}: train and dev splits both need bona fide and spoof files")
    win, hop = int(WINDOW_S * mcfg.frames_per_s), int(HOP_S * mcfg.frames_per_s)
    data = _head_data(tr, dev, cfg, win, hop)
    log(f"GE2E head: features of {len(tr)} train, {len(dev)} dev files ({time.monotonic() - t0:.0f} s)")

    model = create_model(cfg.model, mcfg)
    head_fit, dev_head, head_record = _fit_head(data, log)
    head_fit.copy_into(model.ge2e if isinstance(model, LfccGe2e) else model)
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
        dev_cnn = _cnn_file_scores(cnn_bundle, dev)
        unseen, folds = _stacked_folds(data, folds_cnns, head_record["l2"], log)
        fw, fb = _fit_fusion(_FusionBlock(np.stack([dev_cnn, dev_head], 1), dev_labels, dev_w), unseen)
        with torch.no_grad():
            model.fusion.weight.copy_(torch.from_numpy(fw.astype(np.float32))[None])
            model.fusion.bias.fill_(fb)
        dev_scores = fw[0] * dev_cnn + fw[1] * dev_head + fb  # linear: the mean of window logits fuses alike
        record.update({
            "cnn": {"from": str(cnn_from) if cnn_from else None, "sha256": cnn_bundle.sha256, "record": cnn_bundle.record},
            "fusion": {"weights": fw.tolist(), "bias": fb,
                       "fitted_on": "dev + stacked leave-one-family-out" if folds else "dev",
                       "unseen_family_folds": folds},
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


def lofo_cnn_paths(specs: list[str]) -> dict[str, Path]:
    """``FAMILY=PATH`` strings (the CLI's ``--lofo-cnn``) as a mapping."""
    out: dict[str, Path] = {}
    for spec in specs:
        family, sep, path = spec.partition("=")
        if not sep or not family or not path:
            raise TrainError(f"--lofo-cnn wants FAMILY=PATH (a CNN trained with --exclude-family FAMILY), got {spec!r}")
        if family in out:
            raise TrainError(f"--lofo-cnn names {family} twice")
        out[family] = Path(path)
    return out
