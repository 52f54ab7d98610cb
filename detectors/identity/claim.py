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
from detectors.identity.enroll import EnrolmentError, ReferenceStore, claim_distance, reference_used
from detectors.still_image import ImageReadError, load_image_rgb
from verifier.evidence import Finding, MediaInfo, MediaKind

PROMINENT_SHARE = 0.5  # faces at least half the main (or, in a photo, the largest) face's size


class FaceIdentityClaimDetector:
    name: ClassVar[str] = "face_identity_claim"
    version: ClassVar[str] = "0.2.0"
    modality: ClassVar[str] = "video"
    examines: ClassVar[str] = "face"
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
        used = reference_used(ref, "face", ctx.options, "claimed_person")
        if isinstance(used, str):
            return self._na(used)
        got = self._candidates(ctx)
        if isinstance(got, str):
            return self._na(got)
        candidates, note = got
        distances = [(claim_distance(vectors, ref), label) for label, vectors in candidates]
        d, label = min(distances)
        cal = load_calibration()
        llr = cal.claim_llr(d)
        verdict = "matches" if d <= cal.match_threshold else "does not match"
        who = "the main face" if len(candidates) == 1 else f"the best match of the {len(candidates)} faces shown ({label})"
        return Finding(
            detector=self.name, version=self.version, modality="video", weights_sha256=cal.sha256, applicable=True,
            reason=(f"{who} {verdict} the enrolled reference for {person!r} "
                    f"(distance {d:.3f}; same-person threshold {cal.match_threshold}; {len(ref.embeddings)} reference photo(s); "
                    f"{used[1]})" + note),
            raw_score=round(d, 6), llr=llr, validation=cal.validation, supports_h0=False, reference=used[0],
        )

    def _candidates(self, ctx: DetectorContext) -> tuple[list[tuple[str, np.ndarray]], str] | str:
        """(label, embeddings) of every face the media shows prominently, and
        a note on what was not examined; or why there are none.

        Every prominent face, not only the main one: a call recording shows
        the claimed person beside others, and the largest face need not be
        theirs (a gallery of two genuine clips read "does not match", LLR
        +4.0, when the claimed person was the smaller face). The best match
        decides: "is the claimed person shown?". Faces under half the main
        face's size (background, audience) are left out, so a crowd cannot
        lend a match."""
        if ctx.media.kind == MediaKind.image:
            try:
                rgb = load_image_rgb(ctx.path)
            except ImageReadError as exc:
                return f"the image could not be decoded for face analysis: {exc}"
            faces = find_faces(rgb)
            if not faces:
                return "no face found in the image"
            largest = max(b.size for b in faces)
            shown = sorted((b for b in faces if b.size >= PROMINENT_SHARE * largest), key=lambda b: -b.size)
            return [(f"face {i + 1}", embed_face(rgb, b)[None, :]) for i, b in enumerate(shown)], ""
        scan = audiovisual_scan_or_reason(ctx.path)
        if isinstance(scan, str):
            return scan
        out = []
        for t in scan.prominent_tracks(PROMINENT_SHARE):
            emb = embed_track(t)
            if len(emb.vectors):
                out.append((f"track {t.track_id}", emb.vectors))
        if not out:
            return "the face track yielded no identity samples"
        return out, time_guard_note(scan.stopped_at_s)


@register("face_identity_claim")
def _factory() -> FaceIdentityClaimDetector:
    return FaceIdentityClaimDetector()
