"""Score a video (or image) with the face-swap model: crops -> logits -> LLR.

Aggregation (the SBI paper's, and why): for each sampled frame take the
*maximum* logit over its faces - a swap usually replaces one face, and
averaging with the untouched faces around it would dilute the evidence -
then the *mean* over frames - a swap is present for the whole shot, while
single-frame spikes come from motion blur, occlusion or a codec glitch, and
the mean damps them. The video logit is then mapped to a log10 LR by the
calibration fitted on held-out identities. Per-track timelines keep the
local picture for the report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from detectors.face_swap import crops as C
from detectors.face_swap.calibration import Calibration
from detectors.face_swap.net import Bundle, FaceSwapNet, file_sha256, to_tensor

DEFAULT_WEIGHTS = Path(__file__).with_name("face_swap_sbi.pt")


@dataclass(frozen=True)
class LoadedModel:
    model: FaceSwapNet
    calibration: Calibration
    sha256: str
    record: dict


@lru_cache(maxsize=2)
def load_model(path: str = str(DEFAULT_WEIGHTS)) -> LoadedModel:
    import torch

    torch.set_num_threads(1)
    b = Bundle.load(Path(path))
    sha = file_sha256(Path(path))
    record = dict(b.record)
    # the held-out validation is written after training, next to the weights,
    # and only counts when it names these exact weights
    vfile = Path(path).with_suffix(".validation.json")
    if vfile.is_file():
        import json

        v = json.loads(vfile.read_text())
        if v.get("weights_sha256") == sha:
            record["validation"] = v.get("summary", "")
    return LoadedModel(b.model(), Calibration.from_dict(b.calibration), sha, record)


def crop_logits(model: FaceSwapNet, crops: list[np.ndarray], batch: int = 32) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(crops), batch):
            out.append(model(to_tensor(crops[i:i + batch])).numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


@dataclass
class TrackScore:
    track_id: int
    times: np.ndarray
    logits: np.ndarray
    llrs: np.ndarray
    median_size: float


@dataclass
class VideoScore:
    path: str
    scan: C.CropScan
    tracks: list[TrackScore] = field(default_factory=list)
    frame_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    frame_logits: np.ndarray = field(default_factory=lambda: np.zeros(0))  # max over faces
    raw: float | None = None  # mean over frames of the per-frame max logit
    llr: float | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def applicable(self) -> bool:
        return self.raw is not None


def aggregate(times_and_logits: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray, float | None]:
    """(frame times, per-frame max logit, mean over frames)."""
    per_frame: dict[float, float] = {}
    for t, z in times_and_logits:
        per_frame[t] = max(per_frame.get(t, -np.inf), z)
    if not per_frame:
        return np.zeros(0), np.zeros(0), None
    ts = np.array(sorted(per_frame))
    zs = np.array([per_frame[t] for t in ts])
    return ts, zs, float(zs.mean())


def score_scan(scan: C.CropScan, lm: LoadedModel) -> VideoScore:
    vs = VideoScore(scan.path, scan, timings=dict(scan.timings))
    crops = [o.crop for t in scan.tracks for o in t.obs]
    t0 = time.perf_counter()
    logits = crop_logits(lm.model, crops)
    vs.timings["cnn"] = time.perf_counter() - t0
    k = 0
    pairs: list[tuple[float, float]] = []
    for t in scan.tracks:
        n = len(t.obs)
        z = logits[k:k + n]
        k += n
        times = np.array([o.time_s for o in t.obs])
        vs.tracks.append(TrackScore(t.track_id, times, z, lm.calibration.llr10(z), t.median_size))
        pairs += list(zip(times.tolist(), z.tolist()))
    vs.frame_times, vs.frame_logits, vs.raw = aggregate(pairs)
    if vs.raw is not None:
        vs.llr = float(lm.calibration.llr10(vs.raw))
    return vs


def score_media(path: str | Path, lm: LoadedModel, options: C.CropOptions = C.CropOptions()) -> VideoScore:
    return score_scan(C.scan_crops(path, options), lm)
