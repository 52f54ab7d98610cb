"""Shared bits for the face-swap tests: where the shared media is, tiny bundles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from verifier.shared_dir import shared_dir

MEDIA = shared_dir() / "media"
CLIP = MEDIA / "video/sadtalker/examples/ref_video/WDA_KatieHill_000.mp4"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not available (shared development media)")
    return path


def astronaut() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()


def tiny_bundle(path: Path, seed: int = 0) -> Path:
    """An untrained network with an identity-ish calibration: plumbing only."""
    import torch

    from detectors.face_swap.net import Bundle, FaceSwapNet, NetConfig

    torch.manual_seed(seed)
    cfg = NetConfig(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1))
    Bundle(cfg, FaceSwapNet(cfg).state_dict(), {"a": 1.0, "b": 0.0}, {"note": "test"}).save(path)
    return path
