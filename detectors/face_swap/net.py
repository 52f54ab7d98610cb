"""The face-swap CNN: a compact ResNet in plain torch, and its weight bundle.

Why this size: it must score >= 30 crops/s on one CPU core and train in an
hour on a shared machine, on a few hundred real crops. A 4-stage ResNet
(~1.2 M parameters) on 112x112 RGB keeps stride-4 features at 28x28 where
blending seams (a few pixels wide) are still resolved, and its last stage
(7x7) is what Grad-CAM explains.

The bundle (``.pt``) holds the architecture config, the state dict, the
input normalisation, the calibration and the training record, so a
detector loads exactly what was measured.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as Fn
from torch import nn

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class BundleError(RuntimeError):
    """A weight bundle is missing or malformed; retrain or reinstall it."""


@dataclass(frozen=True)
class NetConfig:
    widths: tuple[int, ...] = (32, 64, 128, 192)
    blocks: tuple[int, ...] = (1, 2, 2, 2)
    input_size: int = 112
    dropout: float = 0.2
    highpass: bool = False  # frequency branch: also feed x - blur(x), where seams live


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = Fn.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return Fn.relu(y + (x if self.skip is None else self.skip(x)))


class FaceSwapNet(nn.Module):
    """Logit > 0 means 'blended (manipulated) face'."""

    def __init__(self, cfg: NetConfig = NetConfig()):
        super().__init__()
        self.cfg = cfg
        w0 = cfg.widths[0]
        if cfg.highpass:
            g = torch.exp(-((torch.arange(5) - 2.0) ** 2) / 2.0)
            k = (g[:, None] * g[None, :]) / (g.sum() ** 2)
            self.register_buffer("blur", k.expand(3, 1, 5, 5).clone(), persistent=False)
        self.stem = nn.Sequential(
            nn.Conv2d(6 if cfg.highpass else 3, w0, 3, 2, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True),
            nn.Conv2d(w0, w0, 3, 1, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True),
        )  # 56x56
        stages = []
        cin = w0
        for i, (w, n) in enumerate(zip(cfg.widths, cfg.blocks)):
            for j in range(n):
                stages.append(Block(cin, w, 2 if (j == 0 and i > 0) else 1))
                cin = w
        self.features = nn.Sequential(*stages)  # 56 -> 28 -> 14 -> 7
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cin, 1)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.highpass:
            low = Fn.conv2d(Fn.pad(x, (2, 2, 2, 2), mode="reflect"), self.blur, groups=3)
            x = torch.cat([x, (x - low) * 4.0], dim=1)
        return self.features(self.stem(x))

    def classify(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(fmap.mean(dim=(2, 3)))).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.feature_map(x))


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def to_tensor(crops: np.ndarray | list[np.ndarray], for_backward: bool = False) -> torch.Tensor:
    """uint8 RGB (N, H, W, 3) -> normalised float (N, 3, H, W).

    The permuted view is laid out channels-last, which oneDNN scores about
    20 % faster. Gradients through it are another matter: oneDNN 3.12's
    AVX-512 convolution backward on channels-last input crashes the process
    (segfault or abort, most runs) on AMD EPYC (Zen 4) with narrow layers -
    the tests' 8-channel network, Grad-CAM, training. ``for_backward`` gives
    the plain contiguous layout, which takes another code path."""
    arr = np.ascontiguousarray(np.stack(list(crops)) if isinstance(crops, list) else crops)
    t = torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    x = (t - mean) / std
    return x.contiguous() if for_backward else x


@dataclass
class Bundle:
    config: NetConfig
    state: dict[str, torch.Tensor]
    calibration: dict[str, float]  # {"a": .., "b": ..}: llr10 = (a*logit + b)/ln 10
    record: dict[str, Any] = field(default_factory=dict)

    def model(self) -> FaceSwapNet:
        m = FaceSwapNet(self.config)
        m.load_state_dict(self.state)
        m.eval()
        return m

    def save(self, path: Path) -> str:
        """Write the bundle; returns its SHA-256 (recorded in every finding)."""
        buf = io.BytesIO()
        state = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in self.state.items()}
        torch.save({"format": "face_swap_sbi/v1", "config": asdict(self.config), "state": state,
                    "calibration": self.calibration, "record": self.record}, buf)
        data = buf.getvalue()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def load(cls, path: Path) -> "Bundle":
        if not Path(path).is_file():
            raise BundleError(f"{path}: face-swap weights not found; train with `verifier train faces` "
                              "or reinstall the package")
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a bad file
            raise BundleError(f"{path}: not a face-swap weight bundle (torch cannot read it: {type(exc).__name__})") from exc
        if not isinstance(d, dict) or d.get("format") != "face_swap_sbi/v1":
            raise BundleError(f"{path}: unknown bundle format {d.get('format') if isinstance(d, dict) else type(d)}")
        cfg = d["config"]
        config = NetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
        state = {k: v.float() if v.is_floating_point() else v for k, v in d["state"].items()}
        return cls(config, state, dict(d["calibration"]), dict(d.get("record", {})))


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
