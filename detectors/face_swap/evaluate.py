"""``verifier eval faces``: frame- and video-level error rates on a data set.

Each item is scored exactly as the detector scores it (``scoring``), so the
numbers describe the shipped behaviour. Frame level: every sampled frame's
max-over-faces logit, labelled with its video's label. Video level: the
aggregated logit and calibrated LLR. Items without a usable face are
counted and left out (the detector would say "not applicable" for them).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from detectors import metrics
from detectors.face_swap import crops as C
from detectors.face_swap.datasets import DatasetItem, walk
from detectors.face_swap.scoring import DEFAULT_WEIGHTS, LoadedModel, load_model, score_media


@dataclass
class ItemScore:
    path: str
    label: int
    manipulation: str
    group: str
    applicable: bool
    reason: str = ""
    raw: float | None = None
    llr: float | None = None
    frame_times: list[float] = field(default_factory=list)
    frame_logits: list[float] = field(default_factory=list)


def score_items(items: list[DatasetItem], lm: LoadedModel, options: C.CropOptions,
                log: Callable[[str], None] = lambda m: None) -> list[ItemScore]:
    out = []
    for k, it in enumerate(items):
        try:
            vs = score_media(it.path, lm, options)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop an evaluation
            out.append(ItemScore(str(it.path), it.label, it.manipulation, it.group, False, f"{type(exc).__name__}: {exc}"))
            continue
        if not vs.applicable:
            out.append(ItemScore(str(it.path), it.label, it.manipulation, it.group, False, vs.scan.reason or ""))
        else:
            out.append(ItemScore(str(it.path), it.label, it.manipulation, it.group, True, "", vs.raw, vs.llr,
                                 vs.frame_times.round(3).tolist(), vs.frame_logits.round(4).tolist()))
        log(f"[{k + 1}/{len(items)}] {Path(it.path).name}: "
            + (f"llr {out[-1].llr:+.2f}" if out[-1].applicable else f"n/a ({out[-1].reason})"))
    return out


def _safe_summary(scores, labels, llr=None) -> dict:
    try:
        return metrics.summary(scores, labels, llr)
    except metrics.MetricsError as exc:
        return {"error": str(exc), "n": int(len(scores))}


def frame_arrays(scores: list[ItemScore]) -> tuple[np.ndarray, np.ndarray]:
    z = [v for s in scores if s.applicable for v in s.frame_logits]
    y = [s.label for s in scores if s.applicable for _ in s.frame_logits]
    return np.asarray(z, float), np.asarray(y, int)


def window_scores(scores: list[ItemScore], lm: LoadedModel, window_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut each video into ``window_s`` windows (the detector's aggregation
    per window): more trials from few clips. Not independent trials."""
    raws, labels = [], []
    for s in scores:
        if not s.applicable:
            continue
        t = np.asarray(s.frame_times)
        z = np.asarray(s.frame_logits)
        for b in np.unique(np.floor(t / window_s)):
            sel = np.floor(t / window_s) == b
            if sel.sum() >= max(2, int(0.5 * window_s)):  # skip stubs at the end
                raws.append(float(z[sel].mean()))
                labels.append(s.label)
    r = np.asarray(raws)
    return r, lm.calibration.llr10(r), np.asarray(labels, int)


def report(scores: list[ItemScore], lm: LoadedModel, window_s: float = 3.0, llr_threshold: float = 1.0) -> dict:
    ok = [s for s in scores if s.applicable]
    y = np.asarray([s.label for s in ok], int)
    raw = np.asarray([s.raw for s in ok], float)
    llr = np.asarray([s.llr for s in ok], float)
    fz, fy = frame_arrays(scores)
    wr, wl, wy = window_scores(scores, lm, window_s)
    out: dict = {
        "items": len(scores),
        "not_applicable": [{"path": s.path, "reason": s.reason} for s in scores if not s.applicable],
        "video": _safe_summary(raw, y, llr),
        "frame": _safe_summary(fz, fy, lm.calibration.llr10(fz)),
        f"window_{window_s:g}s": _safe_summary(wr, wy, wl),
        "false_alarm_rate_llr_ge_%g" % llr_threshold: {
            "video": float(np.mean(llr[y == 0] >= llr_threshold)) if np.any(y == 0) else None,
            "n_real_videos": int(np.sum(y == 0)),
            "window": float(np.mean(wl[wy == 0] >= llr_threshold)) if np.any(wy == 0) else None,
            "n_real_windows": int(np.sum(wy == 0)),
        },
        "detection_rate_llr_ge_%g" % llr_threshold: float(np.mean(llr[y == 1] >= llr_threshold)) if np.any(y == 1) else None,
        "per_manipulation": {},
    }
    for m in sorted({s.manipulation for s in ok if s.label == 1}):
        sel = np.asarray([(s.label == 0) or (s.manipulation == m) for s in ok])
        sub = [s for s in ok if s.label == 0 or s.manipulation == m]
        sfz, sfy = frame_arrays(sub)
        out["per_manipulation"][m] = {"video": _safe_summary(raw[sel], y[sel], llr[sel]),
                                      "frame": _safe_summary(sfz, sfy)}
    return out


def roc_png(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    for name, (s, y) in curves.items():
        try:
            fpr, tpr, _ = metrics.roc(s, y)
            ax.plot(fpr, tpr, label=f"{name} (AUC {metrics.auc(s, y):.3f})")
        except metrics.MetricsError:
            continue
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false-alarm rate (real flagged)")
    ax.set_ylabel("detection rate (manipulated flagged)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def markdown_table(rep: dict) -> str:
    def f(v):
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else (f"{v:.3f}" if isinstance(v, float) else str(v))

    lines = ["| subset | level | n real | n manip. | AUC | EER | Cllr |", "|---|---|---|---|---|---|---|"]
    rows = [("all", "video", rep["video"]), ("all", "frame", rep["frame"])]
    rows += [(m, lvl, d[lvl]) for m, d in rep["per_manipulation"].items() for lvl in ("video", "frame")]
    for name, lvl, d in rows:
        lines.append(f"| {name} | {lvl} | {f(d.get('n_real'))} | {f(d.get('n_manipulated'))} | {f(d.get('auc'))} | "
                     f"{f(d.get('eer'))} | {f(d.get('cllr'))} |")
    return "\n".join(lines)


def evaluate_dataset(dataset: Path, fmt: str, out_dir: Path, weights: Path = DEFAULT_WEIGHTS,
                     options: C.CropOptions = C.CropOptions(), split: str | None = None, max_items: int | None = None,
                     log: Callable[[str], None] = lambda m: None) -> dict:
    items = walk(dataset, fmt)
    if split is not None:
        items = [i for i in items if i.split == split]
    if max_items is not None:
        items = items[:max_items]
    lm = load_model(str(weights))
    scores = score_items(items, lm, options, log)
    rep = report(scores, lm)
    rep.update({"dataset": str(dataset), "format": fmt, "weights_sha256": lm.sha256,
                "options": asdict(options)})
    out_dir.mkdir(parents=True, exist_ok=True)
    ok = [s for s in scores if s.applicable]
    fz, fy = frame_arrays(scores)
    rep["roc_png"] = str(roc_png({"video": (np.asarray([s.raw for s in ok]), np.asarray([s.label for s in ok])),
                                  "frame": (fz, fy)}, out_dir / "roc.png", f"face_swap on {dataset.name} ({fmt})"))
    (out_dir / "scores.json").write_text(json.dumps([asdict(s) for s in scores], indent=1))
    (out_dir / "report.json").write_text(json.dumps(rep, indent=2))
    (out_dir / "report.md").write_text(markdown_table(rep) + "\n")
    return rep
