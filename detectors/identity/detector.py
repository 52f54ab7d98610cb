"""The registered ``face_identity_consistency`` detector: does each face
track keep one identity from start to end?

Embeds dlib chips taken every 0.5 s along each track (the same scan the lip
sync detector uses, so one decode serves both) and scores the track by how far
its chips stray from the track's own median identity. The worst track
decides. Not applicable without a face track of at least ``MIN_CHIPS`` chips.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from detectors.base import DetectorContext, not_applicable, register
from detectors.calibration_file import load_calibration_json
from detectors.face_swap.faces import AUDIOVISUAL_SCAN, audiovisual_scan_or_reason, time_guard_note
from detectors.identity.consistency import track_consistency
from detectors.identity.embeddings import embed_ahead, embed_track
from verifier.evidence import Finding, MediaInfo, MediaKind, Segment

CALIBRATION_PATH = Path(__file__).with_name("calibration.json")
MIN_CHIPS = 5
LLR_CLIP = 4.0


class IdentityCalibrationError(RuntimeError):
    """calibration.json is missing or malformed; rerun ``python -m detectors.identity.evaluate --write``."""


@dataclass(frozen=True)
class IdentityCalibration:
    coef: float
    bias: float
    match_threshold: float
    sha256: str
    validation: str
    claim_coef: float  # the claim check's fit on same/different-person distances
    claim_bias: float

    def llr(self, score: float) -> float:
        return float(np.clip((score * self.coef + self.bias) / np.log(10), -LLR_CLIP, LLR_CLIP))

    def claim_llr(self, distance: float) -> float:
        """log10 LR(not the claimed person : the claimed person)."""
        return float(np.clip((distance * self.claim_coef + self.claim_bias) / np.log(10), -LLR_CLIP, LLR_CLIP))


@lru_cache(maxsize=2)
def load_calibration(path: Path = CALIBRATION_PATH) -> IdentityCalibration:
    def build(d: dict, sha256: str) -> IdentityCalibration:
        m = d.get("metrics_heldout", {})
        return IdentityCalibration(
            coef=float(d["coef"][0]), bias=float(d["bias"]), match_threshold=float(d["match_threshold"]),
            claim_coef=float(d["claim_coef"]), claim_bias=float(d["claim_bias"]), sha256=sha256,
            validation=(f"shared clips + dlib johns: {m.get('consistency_genuine_tracks')} genuine vs "
                        f"{m.get('consistency_switched_tracks')} identity-switched tracks, held out by clip: "
                        f"AUC {m.get('consistency_auc_heldout', float('nan')):.3f}; pairwise same/different AUC "
                        f"{m.get('auc_same_vs_different', float('nan')):.3f}, FMR {m.get('false_match_rate', float('nan')):.3f} "
                        f"at {d['match_threshold']}; see detectors/av_sync/MODEL_CARD.md"),
        )

    return load_calibration_json(path, build, IdentityCalibrationError, "identity calibration",
                                 "python -m detectors.identity.evaluate --write")


class FaceIdentityConsistencyDetector:
    """Identity flicker within a face track. Only flicker counts (``supports_h0`` False): a pasted
    face swap shows one steady identity too, so steadiness is no evidence of capture. Measured on
    the 56 pasted swaps and 14 real clips of ``face_swap.verdict_eval``: AUC 0.55 (0.48 held
    out), every swap at about the real clips' LLR of -1.5, which cleared 13 of 16 held-out swaps
    when counted (twenty-first session, docs/av_sync.md)."""

    name: ClassVar[str] = "face_identity_consistency"
    version: ClassVar[str] = "0.1.0"
    modality: ClassVar[str] = "video"
    examines: ClassVar[str] = "face"
    needs: ClassVar[str] = "a video stream (a still image holds no face track)"

    @property
    def weights_sha256(self) -> str | None:
        return load_calibration().sha256

    def applies_to(self, media: MediaInfo) -> bool:
        # A still image probes as a one-frame "video" stream: not a track.
        return media.kind == MediaKind.video and media.has_video

    def _na(self, reason: str) -> Finding:
        return not_applicable(self, reason)

    def prepare(self, ctx: DetectorContext) -> None:
        embed_ahead(ctx.path)

    def analyze(self, ctx: DetectorContext) -> Finding:
        cal = load_calibration()
        scan = audiovisual_scan_or_reason(ctx.path)
        if isinstance(scan, str):
            return self._na(scan)
        results = []
        for t in scan.tracks:
            emb = embed_track(t)
            if len(emb.vectors) >= MIN_CHIPS:
                results.append(track_consistency(emb))
        if not results:
            return self._na(f"no face track long enough for {MIN_CHIPS} identity samples "
                            f"({AUDIOVISUAL_SCAN.chip_every_s} s apart)")
        worst = max(results, key=lambda r: r.score)
        llr = cal.llr(worst.score)
        segs = [Segment(start_s=round(s, 3), end_s=round(e, 3), score=round(d, 4),
                        label=f"track {worst.track_id}: identity differs from the track's own (distance {d:.2f})")
                for s, e, d in worst.outlier_spans(cal.match_threshold, AUDIOVISUAL_SCAN.chip_every_s or 0.5)]
        reason = (f"{len(results)} face track(s); worst track {worst.track_id}: 90% of its {worst.chips} samples within "
                  f"{worst.score:.3f} of its median identity (same-person threshold {cal.match_threshold})"
                  + time_guard_note(scan.stopped_at_s))
        return Finding(detector=self.name, version=self.version, modality="video", weights_sha256=cal.sha256,
                       applicable=True, reason=reason, raw_score=round(worst.score, 6), llr=llr, segments=segs,
                       validation=cal.validation, supports_h0=False)


@register("face_identity_consistency")
def _factory() -> FaceIdentityConsistencyDetector:
    return FaceIdentityConsistencyDetector()
