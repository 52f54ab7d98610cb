"""The detector protocol and registry.

A detector is created by name from the registry (as timm creates models), says
which modality it needs, its version and the SHA-256 of its weights, and
returns a ``Finding``. It never raises for media it cannot judge: it returns a
finding with ``applicable=False`` and a reason a user can read ("no face
found"). Detectors know nothing about the ledger or the report.

Detector modules register themselves on import; ``load_builtin_detectors``
imports the shipped ones so the registry is populated in one place.
"""

from __future__ import annotations

import importlib
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Iterator, Protocol, runtime_checkable

from verifier.evidence import Finding, MediaInfo, ProvenanceResult

# Shipped detectors and the module that registers each. Modules are imported
# only when their detector is asked for: they pull in torch, dlib and OpenCV,
# which would otherwise cost every verification (and every rejected file) a
# second of start-up.
BUILTIN_DETECTOR_MODULES: dict[str, str] = {
    "voice_clone": "detectors.voice_clone.detector",
    "face_swap": "detectors.face_swap.detector",
    "face_motion": "detectors.face_swap.motion_detector",
    "av_sync": "detectors.av_sync.detector",
    "face_identity_consistency": "detectors.identity.detector",
    "face_identity_claim": "detectors.identity.claim",
    "speaker_claim": "detectors.speaker.claim",
}

# Detectors that run without being asked for. A detector joins this set only
# when its measured held-out error rates meet its issue's targets; until then
# it runs only when named with ``verify --detectors``, and its finding carries
# its validation record. Measured reasons each one is not here yet:
#   voice_clone: unseen-family EER 0.44; 44 % of unseen bona fide speech at LLR > 0, 1/61 likely_manipulated (finance)
#   face_swap: video AUC 0.375 against real pasted-face swaps
#   face_motion: hand-made cue; 1/14 real clips at LLR >= 1 (target <= 2 %), tuned after seeing the held-out result
#   av_sync: substituted-audio AUC 0.81, shift recovery 91 %
#   face_identity_consistency: validated only against synthetic identity switches
#   face_identity_claim: needs --claimed-person and enrolled references
#   speaker_claim: needs --claimed-speaker and enrolled voice references
DEFAULT_DETECTORS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DetectorContext:
    """What a detector may look at: the stored original, what intake and
    provenance found, and where to put its evidence artifacts."""

    path: Path
    media: MediaInfo
    provenance: ProvenanceResult
    artifact_dir: Path | None = None
    options: dict[str, str] = field(default_factory=dict)
    # Every detector of this run: detectors that can share work (one video
    # decode for several) choose how much to compute from it.
    run_detectors: frozenset[str] = frozenset()


@runtime_checkable
class Detector(Protocol):
    name: ClassVar[str]
    version: ClassVar[str]
    modality: ClassVar[str]

    @property
    def weights_sha256(self) -> str | None: ...

    def applies_to(self, media: MediaInfo) -> bool:
        """Cheap check on the probe alone; a False here means 'not run'."""
        ...

    def analyze(self, ctx: DetectorContext) -> Finding: ...

    # Optional: ``prepare(ctx) -> None``, called for every detector that will
    # run before the first one does, to start work that can overlap the others
    # (the identity detectors ask for embeddings in a second process). It may
    # do nothing; a failure there must not stop the run.


class UnknownDetectorError(KeyError):
    pass


_REGISTRY: dict[str, Callable[[], Detector]] = {}


def register(name: str) -> Callable[[Callable[[], Detector]], Callable[[], Detector]]:
    def deco(factory: Callable[[], Detector]) -> Callable[[], Detector]:
        if name in _REGISTRY:
            raise ValueError(f"detector {name!r} registered twice")
        _REGISTRY[name] = factory
        return factory

    return deco


@contextmanager
def registered(name: str, factory: Callable[[], Detector]) -> Iterator[None]:
    """Register a detector for the duration of a block (tests, plug-ins tried once)."""
    register(name)(factory)
    try:
        yield
    finally:
        _REGISTRY.pop(name, None)


def default_detectors() -> list[str]:
    return [n for n in available_detectors() if n in DEFAULT_DETECTORS]


def available_detectors() -> list[str]:
    return sorted(set(_REGISTRY) | set(BUILTIN_DETECTOR_MODULES))


def get_detector(name: str) -> Detector:
    if name not in _REGISTRY and name in BUILTIN_DETECTOR_MODULES:
        importlib.import_module(BUILTIN_DETECTOR_MODULES[name])
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise UnknownDetectorError(
            f"no detector named {name!r}; available: {', '.join(available_detectors())}"
        ) from None


def not_applicable(detector: Detector, reason: str) -> Finding:
    """The finding a detector returns when it cannot judge the media; the
    reason is shown to the user, so it must say what was missing."""
    return Finding(detector=detector.name, version=detector.version, modality=detector.modality,  # type: ignore[arg-type]
                   weights_sha256=detector.weights_sha256, applicable=False, reason=reason)


def check_llr(value: float | None) -> float | None:
    """A finding's LLR must be a finite number or absent; NaN would poison fusion."""
    if value is None:
        return None
    if not math.isfinite(value):
        raise ValueError(f"detector returned a non-finite LLR: {value!r}")
    return float(value)
