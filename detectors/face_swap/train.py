"""``verifier train faces``: the SBI network, trained on real crops only.

Every step takes B/2 real training crops and makes each one's self-blended
twin on the fly, so a batch holds both versions of every face: the only
difference the network can use is the blend (the SBI paper's pairing).
Global augmentations (flip, brightness, blur, resize, JPEG, noise) hit both
halves alike so that image quality is never the cue.

Model selection and calibration use the calibration split (identities
never trained on) with a fixed-seed set of pseudo-fakes; the bundle is
re-written at every evaluation so a run stopped by ``max_minutes`` still
leaves its best model behind.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from detectors import metrics
from detectors.face_swap import calibration as cal
from detectors.face_swap import sbi
from detectors.face_swap.corpus import Corpus, CorpusError, CropRecord, read_corpus
from detectors.face_swap.net import Bundle, FaceSwapNet, NetConfig, n_params, to_tensor


class TrainError(RuntimeError):
    """Training cannot start or produced no usable model; the message says why."""


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    steps: int = 1800
    batch_size: int = 32  # half real, half their SBI twins
    lr: float = 2e-3
    weight_decay: float = 1e-4
    eval_every: int = 200
    max_minutes: float | None = None
    threads: int = 1
    widths: tuple[int, ...] = (16, 32, 64, 128)
    blocks: tuple[int, ...] = (1, 1, 2, 2)
    eval_variants: int = 2  # pseudo-fakes per calibration crop
    highpass: bool = True  # the shipped recipe; see MODEL_CARD.md for the comparison
    strong_aug: bool = True
    # Share of the pseudo-fakes that are cross-identity blends (Face X-ray's
    # "blended images", ``sbi.cross_blend``) instead of self-blends; the
    # calibration set gets the same share, donors from other calibration groups.
    cross_blend: float = 0.0


@dataclass
class TrainResult:
    bundle: Bundle
    path: Path
    sha256: str


def _load(corpus: Corpus, recs: list[CropRecord]) -> tuple[np.ndarray, np.ndarray]:
    imgs = np.stack([corpus.load_crop(r) for r in recs])
    lms = np.asarray([r.landmarks for r in recs], np.float64)
    return imgs, lms


class DonorPicker:
    """Donor faces for cross-identity blends: another group's crop, of a
    similar pose (closest landmarks among a few random candidates), so the
    pasted face lines up as a swap tool's would."""

    def __init__(self, lms: np.ndarray, groups: list[str], candidates: int = 12) -> None:
        self.lms = np.asarray(lms, np.float64).reshape(len(lms), -1)
        self.groups = np.asarray(groups)
        self.candidates = candidates

    def usable(self) -> bool:
        return len(set(self.groups.tolist())) >= 2

    def __call__(self, i: int, rng: np.random.Generator) -> int:
        others = np.flatnonzero(self.groups != self.groups[i])
        cand = rng.choice(others, size=min(self.candidates, len(others)), replace=False)
        return int(cand[np.argmin(np.abs(self.lms[cand] - self.lms[i]).sum(axis=1))])


def make_fake(i: int, imgs: np.ndarray, lms: np.ndarray, rng: np.random.Generator,
              donors: DonorPicker | None, cross_share: float) -> np.ndarray:
    """The pseudo-fake twin of crop ``i``: a self-blend, or with probability
    ``cross_share`` (when donors exist) another person's face blended in."""
    if donors is not None and cross_share > 0 and rng.random() < cross_share:
        j = donors(i, rng)
        return sbi.cross_blend(imgs[i], lms[i], imgs[j], lms[j], rng)[0]
    return sbi.self_blend(imgs[i], lms[i], rng)[0]


def pseudo_fake_set(imgs: np.ndarray, lms: np.ndarray, seed: int, variants: int = 1,
                    groups: list[str] | None = None, cross_share: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed (seeded) set of real crops and their pseudo-fakes, for evaluation."""
    rng = np.random.default_rng(seed)
    donors = DonorPicker(lms, groups) if groups is not None else None
    donors = donors if donors is not None and donors.usable() else None
    xs, ys = [], []
    for _ in range(variants):
        for i, img in enumerate(imgs):
            xs.append(sbi.global_augment(img, rng) if rng.random() < 0.5 else img)
            ys.append(0)
            fake = make_fake(i, imgs, lms, rng, donors, cross_share)
            xs.append(sbi.global_augment(fake, rng) if rng.random() < 0.5 else fake)
            ys.append(1)
    return np.stack(xs), np.asarray(ys)


def predict_logits(model: FaceSwapNet, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(crops), batch):
            out.append(model(to_tensor(crops[i:i + batch])).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train(corpus_dir: Path, out: Path, cfg: TrainConfig = TrainConfig(),
          log: Callable[[str], None] = lambda m: None) -> TrainResult:
    import torch

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True)
    try:
        corpus = read_corpus(corpus_dir)
    except CorpusError as exc:
        raise TrainError(str(exc)) from exc
    train_recs = [r for r in corpus.split("train") if r.label == 0 and r.train_ok]
    cal_recs = [r for r in corpus.split("calibration") if r.label == 0 and r.train_ok]
    if len(train_recs) < 4:
        raise TrainError(f"only {len(train_recs)} real training crops with a training-compatible licence; "
                         "build a larger corpus")
    if not cal_recs:
        raise TrainError("the calibration split has no real crops; rebuild the corpus with more groups")
    x_train, lm_train = _load(corpus, train_recs)
    x_cal_real, lm_cal = _load(corpus, cal_recs)
    x_cal, y_cal = pseudo_fake_set(x_cal_real, lm_cal, cfg.seed + 1, cfg.eval_variants,
                                   [r.group for r in cal_recs], cfg.cross_blend)
    donors = DonorPicker(lm_train, [r.group for r in train_recs])
    if cfg.cross_blend > 0 and not donors.usable():
        raise TrainError("cross-identity blending needs real crops of at least two identities (groups) in the "
                         "training split")
    log(f"train: {len(train_recs)} real crops from {len({r.group for r in train_recs})} groups; "
        f"calibration: {len(cal_recs)} crops ({len({r.group for r in cal_recs})} groups) -> {len(x_cal)} trials")

    net_cfg = NetConfig(widths=tuple(cfg.widths), blocks=tuple(cfg.blocks), highpass=cfg.highpass)
    model = FaceSwapNet(net_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    rng = np.random.default_rng(cfg.seed)
    half = cfg.batch_size // 2
    t0 = time.perf_counter()
    best: tuple[float, int] = (-1.0, -1)
    result: TrainResult | None = None
    losses: list[float] = []
    history: list[dict[str, float]] = []
    for step in range(1, cfg.steps + 1):
        model.train()
        idx = rng.integers(0, len(x_train), half)
        reals, fakes = [], []
        for i in idx:
            fake = make_fake(int(i), x_train, lm_train, rng, donors, cfg.cross_blend)
            reals.append(sbi.global_augment(x_train[i], rng, cfg.strong_aug))
            fakes.append(sbi.global_augment(fake, rng, cfg.strong_aug))
        x = to_tensor(reals + fakes, for_backward=True)
        y = torch.cat([torch.zeros(half), torch.ones(half)])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        elapsed = (time.perf_counter() - t0) / 60
        stop = cfg.max_minutes is not None and elapsed >= cfg.max_minutes
        if step % cfg.eval_every == 0 or step == cfg.steps or stop:
            logits = predict_logits(model, x_cal)
            a = metrics.auc(logits, y_cal)
            history.append({"step": step, "loss": float(np.mean(losses[-cfg.eval_every:])), "cal_auc": a,
                            "minutes": round(elapsed, 2)})
            log(f"step {step}: loss {history[-1]['loss']:.4f} calibration AUC {a:.4f} ({elapsed:.1f} min)")
            if a > best[0]:
                best = (a, step)
                result = _save(model, net_cfg, logits, y_cal, out, cfg, corpus, train_recs, cal_recs, history, step, log)
        if stop:
            log(f"stopping at step {step}: max_minutes={cfg.max_minutes} reached")
            break
    if result is None:
        raise TrainError("no evaluation happened; use more steps or a smaller eval_every")
    return result


def _save(model, net_cfg, logits, y_cal, out, cfg, corpus, train_recs, cal_recs, history, step, log) -> TrainResult:
    note = ""
    try:
        calib = cal.fit(logits, y_cal)
    except cal.CalibrationError as exc:
        # An uninformative map (LLR ~ 0 for every input): the model is kept
        # for inspection but can never count as evidence.
        calib = cal.Calibration(1e-6, 0.0)
        note = f"calibration failed, LLR fixed at 0: {exc}"
        log(f"step {step}: {note}")
    llr = calib.llr10(logits)
    record = {
        "trained_on": {
            "corpus": str(corpus.root),
            "train_groups": sorted({r.group for r in train_recs}),
            "calibration_groups": sorted({r.group for r in cal_recs}),
            "train_crops": len(train_recs),
            "licences": sorted({r.licence for r in train_recs + cal_recs}),
        },
        "config": asdict(cfg),
        "params": n_params(model),
        "selected_step": step,
        "calibration_note": note,
        "calibration_metrics": metrics.summary(logits, y_cal, llr),
        "history": list(history),
    }
    bundle = Bundle(net_cfg, {k: v.detach().clone() for k, v in model.state_dict().items()}, calib.to_dict(), record)
    sha = bundle.save(out)
    Path(str(out) + ".json").write_text(json.dumps({"sha256": sha, **record}, indent=2))
    log(f"saved {out} (step {step}, sha256 {sha[:16]}...)")
    return TrainResult(bundle, Path(out), sha)

