"""The CNN, its bundle and Grad-CAM."""

from pathlib import Path

import numpy as np
import pytest

from detectors.face_swap.explain import grad_cam
from detectors.face_swap.net import Bundle, BundleError, FaceSwapNet, NetConfig, file_sha256, n_params
from tests.faces_swap.helpers import tiny_bundle


def test_default_network_size_is_in_budget() -> None:
    assert 0.5e6 <= n_params(FaceSwapNet(NetConfig(widths=(16, 32, 64, 128), blocks=(1, 1, 2, 2)))) <= 2e6


def test_bundle_round_trip(tmp_path: Path) -> None:
    p = tiny_bundle(tmp_path / "m.pt")
    b = Bundle.load(p)
    assert b.calibration == {"a": 1.0, "b": 0.0} and b.record["note"] == "test"
    x = np.random.default_rng(0).integers(0, 255, (2, 112, 112, 3), dtype=np.uint8)
    from detectors.face_swap.net import to_tensor

    assert b.model()(to_tensor(x)).shape == (2,)
    assert len(file_sha256(p)) == 64


def test_bad_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not found"):
        Bundle.load(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(BundleError, match="not a face-swap weight bundle"):
        Bundle.load(tmp_path / "junk.pt")


def test_grad_cam_shape(tmp_path: Path) -> None:
    m = Bundle.load(tiny_bundle(tmp_path / "m.pt")).model()
    crop = np.random.default_rng(1).integers(0, 255, (112, 112, 3), dtype=np.uint8)
    cam, logit = grad_cam(m, crop)
    assert cam.shape == (112, 112) and 0 <= cam.min() and cam.max() <= 1 and np.isfinite(logit)


def test_shipped_weights_load_and_are_documented() -> None:
    import json

    from detectors.face_swap.scoring import DEFAULT_WEIGHTS, load_model

    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped weights in this checkout")
    assert DEFAULT_WEIGHTS.stat().st_size < 5e6
    lm = load_model(str(DEFAULT_WEIGHTS))
    assert lm.calibration.a > 0
    card = DEFAULT_WEIGHTS.with_name("MODEL_CARD.md")
    assert card.is_file() and lm.sha256 in card.read_text()
    v = DEFAULT_WEIGHTS.with_suffix(".validation.json")
    assert json.loads(v.read_text())["weights_sha256"] == lm.sha256 and lm.record["validation"]
