"""The registered ``face_identity_claim`` detector: is the face the person
the media claims to show (an enrolled reference)?

Runs only when the caller names the person: ``ctx.options`` must hold
``claimed_person`` and ``reference_dir`` (where ``ReferenceStore`` keeps
references). Hp: the face is not the claimed person (impersonation, swap);
Hd: it is. The LLR comes from a logistic regression on the same/different
person distance distributions measured in ``evaluate.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from detectors.base import DetectorContext, not_applicable, register
from detectors.face_swap.faces import audiovisual_scan_or_reason, time_guard_note
from detectors.identity.detector import load_calibration
from detectors.identity.embeddings import embed_ahead, embed_face, embed_track, find_faces
from detectors.identity.enroll import EnrolmentError, ReferenceStore, claim_distance
from detectors.still_image import ImageReadError, load_image_rgb
from verifier.evidence import Finding, MediaInfo, MediaKind


class FaceIdentityClaimDetector:
    name: ClassVar[str] = "face_identity_claim"
    version: ClassVar[str] = "0.1.0"
    modality: ClassVar[str] = "video"
    needs: ClassVar[str] = "an image or a video stream"

    @property
    def weights_sha256(self) -> str | None:
        return load_calibration().sha256

    def applies_to(self, media: MediaInfo) -> bool:
        return media.kind in (MediaKind.video, MediaKind.image) and media.has_video

    def _na(self, reason: str) -> Finding:
        return not_applicable(self, reason)

    def prepare(self, ctx: DetectorContext) -> None:
        if ctx.media.kind == MediaKind.video and ctx.options.get("claimed_person"):
            embed_ahead(ctx.path)

    def analyze(self, ctx: DetectorContext) -> Finding:
        person = ctx.options.get("claimed_person")
        ref_dir = ctx.options.get("reference_dir")
        if not person or not ref_dir:
            return self._na("no claimed person given (options claimed_person and reference_dir)")
        try:
            ref = ReferenceStore(Path(ref_dir)).load(person)
        except EnrolmentError as exc:
            return self._na(str(exc))
        got = self._vectors(ctx)
        if isinstance(got, str):
            return self._na(got)
        vectors, note = got
        d = claim_distance(vectors, ref)
        cal = load_calibration()
        llr = cal.claim_llr(d)
        verdict = "matches" if d <= cal.match_threshold else "does not match"
        return Finding(
            detector=self.name, version=self.version, modality="video", weights_sha256=cal.sha256, applicable=True,
            reason=(f"the main face {verdict} the enrolled reference for {person!r} "
                    f"(distance {d:.3f}; same-person threshold {cal.match_threshold}; {len(ref.embeddings)} reference photo(s))"
                    + note),
            raw_score=round(d, 6), llr=llr, validation=cal.validation, supports_h0=False,
        )

    def _vectors(self, ctx: DetectorContext) -> tuple[np.ndarray, str] | str:
        """(embeddings of the main face, a note on what was not examined), or why none."""
        if ctx.media.kind == MediaKind.image:
            try:
                rgb = load_image_rgb(ctx.path)
            except ImageReadError as exc:
                return f"the image could not be decoded for face analysis: {exc}"
            faces = find_faces(rgb)
            if not faces:
                return "no face found in the image"
            return embed_face(rgb, max(faces, key=lambda b: b.size))[None, :], ""
        scan = audiovisual_scan_or_reason(ctx.path)
        if isinstance(scan, str):
            return scan
        emb = embed_track(scan.main_track())
        if not len(emb.vectors):
            return "the face track yielded no identity samples"
        return emb.vectors, time_guard_note(scan.stopped_at_s)


@register("face_identity_claim")
def _factory() -> FaceIdentityClaimDetector:
    return FaceIdentityClaimDetector()
