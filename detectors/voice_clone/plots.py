"""DET curve, score histogram and reliability diagram as PNG, drawn with Pillow (already a dependency).

Small and plain on purpose: the report needs a picture a person can read,
not a plotting library.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy.stats import norm

from detectors.metrics import ReliabilityBin, rates

W, H, M = 640, 480, 60
TICKS = [0.001, 0.01, 0.05, 0.2, 0.5]


def _axes(draw: ImageDraw.ImageDraw, title: str, xlabel: str, ylabel: str) -> None:
    draw.rectangle([M, M // 2, W - M // 2, H - M], outline="black")
    draw.text((W // 2 - 3 * len(title), 4), title, fill="black")
    draw.text((W // 2 - 60, H - 22), xlabel, fill="black")
    draw.text((4, M // 2 - 12), ylabel, fill="black")


def det_png(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str = "DET") -> Path:
    """``curves``: name -> (scores, labels); axes are probit-scaled P_fa and P_miss."""
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    _axes(d, title, "false alarm rate (bona fide flagged)", "miss rate (spoof passed)")
    lo, hi = norm.ppf(0.0005), norm.ppf(0.6)

    def xy(pfa: np.ndarray, pmiss: np.ndarray):
        u = (norm.ppf(np.clip(pfa, 0.0005, 0.6)) - lo) / (hi - lo)
        v = (norm.ppf(np.clip(pmiss, 0.0005, 0.6)) - lo) / (hi - lo)
        return M + u * (W - 1.5 * M), (H - M) - v * (H - 1.5 * M)

    for t in TICKS:
        x, y = xy(np.array([t]), np.array([t]))
        d.line([(x[0], H - M), (x[0], H - M + 5)], fill="black")
        d.text((x[0] - 10, H - M + 8), f"{t:g}", fill="black")
        d.line([(M - 5, y[0]), (M, y[0])], fill="black")
        d.text((M - 45, y[0] - 5), f"{t:g}", fill="black")
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"]
    for k, (name, (s, y)) in enumerate(curves.items()):
        r = rates(s, y)
        px, py = xy(r.p_fa, r.p_miss)
        c = colours[k % len(colours)]
        d.line(list(zip(px.tolist(), py.tolist())), fill=c, width=2)
        d.text((W - M // 2 - 170, M // 2 + 6 + 14 * k), name, fill=c)
    x0, y0 = xy(np.array([0.0005, 0.6]), np.array([0.0005, 0.6]))
    d.line([(x0[0], y0[0]), (x0[1], y0[1])], fill="#bbbbbb")
    path = Path(path)
    img.save(path)
    return path


def histogram_png(llr: np.ndarray, labels: np.ndarray, path: Path, title: str = "calibrated log10 LLR") -> Path:
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    _axes(d, title, "log10 LLR (positive supports spoof)", "share of files")
    llr = np.clip(np.asarray(llr, np.float64), -6, 6)
    bins = np.linspace(-6, 6, 49)
    h0 = np.histogram(llr[labels == 0], bins)[0] / max(1, int((labels == 0).sum()))
    h1 = np.histogram(llr[labels == 1], bins)[0] / max(1, int((labels == 1).sum()))
    top = max(h0.max(), h1.max(), 1e-9)
    bw = (W - 1.5 * M) / (len(bins) - 1)
    for hist, colour in ((h0, "#1f77b4"), (h1, "#d62728")):
        for i, v in enumerate(hist):
            x = M + i * bw
            y = (H - M) - v / top * (H - 1.5 * M)
            d.rectangle([x + 1, y, x + bw - 1, H - M], outline=colour)
    for t in (-6, -3, 0, 3, 6):
        x = M + (t + 6) / 12 * (W - 1.5 * M)
        d.text((x - 6, H - M + 8), str(t), fill="black")
    d.text((W - 200, M // 2 + 6), "bona fide", fill="#1f77b4")
    d.text((W - 200, M // 2 + 20), "spoof", fill="#d62728")
    path = Path(path)
    img.save(path)
    return path


def reliability_png(bins: list[ReliabilityBin], path: Path, title: str = "reliability at equal priors") -> Path:
    """Observed share of spoofs against the posterior the LLR claims, per LLR
    bin; on the diagonal when the LLRs are calibrated. Dot area ~ trials."""
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    _axes(d, title, "claimed P(spoof) = 1 / (1 + 10^-LLR)", "observed share of spoofs")

    def xy(p: float, q: float) -> tuple[float, float]:
        return M + p * (W - 1.5 * M), (H - M) - q * (H - 1.5 * M)

    d.line([xy(0, 0), xy(1, 1)], fill="#bbbbbb")
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        x, y = xy(t, t)
        d.text((x - 8, H - M + 8), f"{t:g}", fill="black")
        d.text((M - 30, y - 5), f"{t:g}", fill="black")
    total = max(1, sum(b.n_manipulated + b.n_real for b in bins))
    pts = []
    for b in bins:
        x, y = xy(b.predicted, b.observed)
        r = 3 + 12 * ((b.n_manipulated + b.n_real) / total) ** 0.5
        d.ellipse([x - r, y - r, x + r, y + r], outline="#d62728", width=2)
        pts.append((x, y))
    if len(pts) > 1:
        d.line(pts, fill="#d62728", width=1)
    path = Path(path)
    img.save(path)
    return path
