"""A trained model bundle and how it scores audio: windows over a feature matrix.

The bundle is one ``.pt`` file holding the model config, weights, the feature
normalisation and the calibration, loaded with ``weights_only=True`` (no
pickled code runs). Scoring slides 4 s windows with a 1 s hop, so a long
file gives a timeline and a short one a single window.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from audio.features import LfccConfig, LogSpecConfig, MgdConfig, StftConfig
from detectors.voice_clone.calibration import Calibration
from detectors.voice_clone.models import GE2E_MODELS, ModelConfig, create_model, extract_features, window_batch_logits

WINDOW_S = 4.0
HOP_S = 1.0


class BundleError(RuntimeError):
    pass


def window_starts(n: int, win: int, hop: int) -> np.ndarray:
    """Start frames of the windows over ``n`` frames; the last window ends at the last frame."""
    if n <= win:
        return np.array([0])
    starts = np.arange(0, n - win + 1, hop)
    if starts[-1] + win < n:
        starts = np.append(starts, n - win)
    return starts


@dataclass
class ModelBundle:
    config: ModelConfig
    model: torch.nn.Module
    mean: np.ndarray
    std: np.ndarray
    calibration: Calibration | None
    record: dict = field(default_factory=dict)
    sha256: str | None = None

    def features(self, x: np.ndarray, rate: int) -> np.ndarray:
        return self.normalise(extract_features(x, rate, self.config))

    def normalise(self, feats: np.ndarray) -> np.ndarray:
        return ((feats - self.mean) / self.std).astype(np.float32)

    def window_logits(self, feats: np.ndarray, window_s: float = WINDOW_S, hop_s: float = HOP_S) -> tuple[np.ndarray, np.ndarray]:
        """Logit per window and the window start frames."""
        fps = self.config.frames_per_s
        win, hop = int(window_s * fps), int(hop_s * fps)
        starts = window_starts(feats.shape[0], win, hop)
        return self.logits_at(feats, starts, win), starts

    def logits_at(self, feats: np.ndarray, starts, win: int) -> np.ndarray:
        """Logit of each window [start, start + win) of one normalised feature matrix.

        Windows are clipped to the matrix (a window never reaches past its end,
        and a matrix shorter than ``win`` is one window).
        """
        return self.logits_at_many([(feats, starts, win)])[0]

    def logits_at_many(self, items: list[tuple[np.ndarray, object, int]]) -> list[np.ndarray]:
        """``logits_at`` for several feature matrices (e.g. the speech segments of one call);
        models that see whole signals score them all in one batch."""
        clipped = []
        for feats, starts, win in items:
            n = feats.shape[0]
            w = min(win, n)
            clipped.append((feats, np.clip(np.asarray(starts, int), 0, n - w), w))
        self.model.eval()
        if hasattr(self.model, "score_windows_many"):  # models that see the whole signal once
            return self.model.score_windows_many(clipped)
        return [window_batch_logits(self.model, feats, starts, win) for feats, starts, win in clipped]

    def score(self, x: np.ndarray, rate: int) -> float:
        """File-level raw score: mean window logit."""
        logits, _ = self.window_logits(self.features(x, rate))
        return float(logits.mean())

    def save(self, path: Path) -> str:
        payload = {
            "format": "av-verifier/voice-model/v1",
            "config": _config_to_dict(self.config),
            "state_dict": self.model.state_dict(),
            "mean": torch.from_numpy(self.mean),
            "std": torch.from_numpy(self.std),
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "record": self.record,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, path)
        return hashlib.sha256(path.read_bytes()).hexdigest()


def _config_to_dict(cfg: ModelConfig) -> dict:
    d = cfg.to_dict()
    d["channels"] = list(cfg.channels)
    return d


def _with_stft(cls, d: dict):
    """A feature config (LfccConfig, LogSpecConfig) from its dict, whose ``stft`` is nested."""
    d = dict(d)
    return cls(stft=StftConfig(**d.pop("stft")), **d)


def _config_from_dict(d: dict) -> ModelConfig:
    return ModelConfig(
        name=d["name"], feature=d["feature"], sample_rate=d["sample_rate"], band=d.get("band", "full"),
        lfcc=_with_stft(LfccConfig, d["lfcc"]),
        # bundles written before the logspec feature existed have no "spec"
        spec=_with_stft(LogSpecConfig, d["spec"]) if "spec" in d else LogSpecConfig(),
        mgd=_with_stft(MgdConfig, d["mgd"]) if "mgd" in d else MgdConfig(),
        channels=tuple(d["channels"]), dropout=d["dropout"], input_norm=d.get("input_norm", "global"),
        head=d.get("head", "linear"),
    )


def _check_ge2e_weights(path: Path, record: dict) -> None:
    """The GE2E encoder is read from the resemblyzer wheel, not the bundle: refuse other weights."""
    from detectors.speaker.encoder import SpeakerModelMissingError
    from detectors.voice_clone.ge2e_features import weights_sha256

    try:
        have = weights_sha256()
    except SpeakerModelMissingError as exc:
        raise BundleError(f"{path}: {exc}") from exc
    if record.get("ge2e_weights_sha256") != have:
        raise BundleError(
            f"{path}: trained on GE2E weights {str(record.get('ge2e_weights_sha256'))[:12]}..., but the installed "
            f"resemblyzer wheel has {have[:12]}...: install resemblyzer==0.1.4 or retrain"
        )


def load_bundle(path: Path) -> ModelBundle:
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: no model file; train one with `verifier train voice --corpus DIR`")
    data = path.read_bytes()
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file, with pages of advice
        raise BundleError(f"{path}: not a voice model bundle (torch cannot read it: {type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("format") != "av-verifier/voice-model/v1":
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise BundleError(f"{path}: unknown bundle format {found!r}")
    cfg = _config_from_dict(payload["config"])
    if cfg.name in GE2E_MODELS:
        _check_ge2e_weights(path, payload.get("record", {}))
    model = create_model(cfg.name, cfg)
    # shipped bundles store float16 weights (half the size); the model runs in float32
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # weights of another layout or version of the model
        raise BundleError(f"{path}: weights do not fit model {cfg.name!r}: {str(exc).splitlines()[0]}") from exc
    model.eval()
    cal = payload.get("calibration")
    return ModelBundle(
        cfg, model, payload["mean"].float().numpy(), payload["std"].float().numpy(),
        Calibration(**cal) if cal else None, payload.get("record", {}), hashlib.sha256(data).hexdigest(),
    )


def export_half(src: Path, dst: Path, validation: str | None = None) -> str:
    """Write ``src`` with float16 weights (normalisation and calibration stay float32); returns the SHA-256.

    ``validation`` is stored in the record: the detector reports it with every
    finding (where the measured error rates of these weights are written).
    """
    payload = torch.load(Path(src), map_location="cpu", weights_only=True)
    if payload.get("format") != "av-verifier/voice-model/v1":
        raise BundleError(f"{src}: not a voice model bundle")
    payload["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    if validation is not None:
        payload["record"] = dict(payload.get("record", {}), validation=validation)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, dst)
    return hashlib.sha256(dst.read_bytes()).hexdigest()
