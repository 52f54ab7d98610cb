"""The registered ``face_identity_claim`` detector: is the face the person
the media claims to show (an enrolled reference)?

Runs only when the caller names the person: ``ctx.options`` must hold
``claimed_person`` and ``reference_dir`` (where ``ReferenceStore`` keeps
references). Hp: the face is not the claimed person (impersonation, swap);
Hd: it is. The best match decides, among the faces whose lips move with
the speech when the video has speech (``speaking.py``: a photograph held up
beside an impostor does not speak; with nobody shown speaking, the claim is
not judged). The LLR comes from a logistic
regression on the same/different person distance distributions measured in
``evaluate.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from detectors.base import DetectorContext, not_applicable, register
from detectors.face_swap.faces import FaceScan, audiovisual_scan_or_reason, time_guard_note
from detectors.identity.detector import load_calibration
from detectors.identity.embeddings import embed_ahead, embed_face, embed_track, find_faces
from detectors.identity.enroll import EnrolmentError, Reference, ReferenceStore, claim_distance, reference_used
from detectors.identity.speaking import (
    MIN_SPEAKING_LIPS,
    SPEAKING_LIPS,
    SPEAKING_SHARE,
    FaceSpeech,
    SpeakerUnknown,
    face_speech,
)
from detectors.still_image import ImageReadError, load_image_rgb
from verifier.evidence import Finding, MediaInfo, MediaKind

PROMINENT_SHARE = 0.5  # faces at least half the main (or, in a photo, the largest) face's size


class FaceIdentityClaimDetector:
    name: ClassVar[str] = "face_identity_claim"
    version: ClassVar[str] = "0.3.0"  # 0.3: in a video with speech, only faces that speak are judged
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
        judged = self.judge(ctx, ref)
        if isinstance(judged, str):
            return self._na(judged)
        if judged.chosen is None:
            return self._na(judged.who + judged.note)
        cal = load_calibration()
        d = judged.chosen.distance
        closer = [f for f in judged.faces if f.distance < d]
        reference = (used[0].model_copy(update={"silent_closer_face": min(closer, key=lambda f: f.distance).label})
                     if closer else used[0])
        llr = cal.claim_llr(d)
        verdict = "matches" if d <= cal.match_threshold else "does not match"
        return Finding(
            detector=self.name, version=self.version, modality="video", weights_sha256=cal.sha256, applicable=True,
            reason=(f"{judged.who} {verdict} the enrolled reference for {person!r} "
                    f"(distance {d:.3f}; same-person threshold {cal.match_threshold}; {len(ref.embeddings)} reference photo(s); "
                    f"{used[1]})" + judged.note),
            raw_score=round(d, 6), llr=llr, validation=cal.validation, supports_h0=False, reference=reference,
        )

    def judge(self, ctx: DetectorContext, ref: Reference) -> FaceJudgement | str:
        """The faces measured and the one the claim is judged on; or why there are none."""
        got = self._candidates(ctx)
        if isinstance(got, str):
            return got
        candidates, note, scan = got
        measured = [FaceCandidate(label, tid, claim_distance(vectors, ref)) for label, tid, vectors in candidates]
        speech = None
        if scan is not None:
            tracks = [t for t in scan.prominent_tracks(PROMINENT_SHARE) if t.track_id in {f.track_id for f in measured}]
            speech = face_speech(ctx.path, scan, tracks, ctx.options) if ctx.media.has_audio else "no sound"
        chosen = choose_face(measured, speech)
        if isinstance(chosen, str):
            return FaceJudgement(None, chosen, note, measured, speech)
        return FaceJudgement(chosen[0], chosen[1], note, measured, speech)

    def _candidates(self, ctx: DetectorContext) -> tuple[list[tuple[str, int | None, np.ndarray]], str, FaceScan | None] | str:
        """(label, track id, embeddings) of every face the media shows
        prominently, a note on what was not examined, and the video's face
        scan; or why there are none.

        Every prominent face, not only the main one: a call recording shows
        the claimed person beside others, and the largest face need not be
        theirs (a gallery of two genuine clips read "does not match", LLR
        +4.0, when the claimed person was the smaller face). Which of them
        decides is ``choose_face``'s question. Faces under half the main
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
            return [(f"face {i + 1}", None, embed_face(rgb, b)[None, :]) for i, b in enumerate(shown)], "", None
        scan = audiovisual_scan_or_reason(ctx.path)
        if isinstance(scan, str):
            return scan
        out = []
        for t in scan.prominent_tracks(PROMINENT_SHARE):
            emb = embed_track(t)
            if len(emb.vectors):
                out.append((f"track {t.track_id}", t.track_id, emb.vectors))
        if not out:
            return "the face track yielded no identity samples"
        return out, time_guard_note(scan.stopped_at_s), scan


@dataclass(frozen=True)
class FaceCandidate:
    label: str
    track_id: int | None  # None: a face in a still image
    distance: float  # to the nearest reference photo


@dataclass(frozen=True)
class FaceJudgement:
    chosen: FaceCandidate | None  # the face the claim is judged on; None: not judged (why in ``who``)
    who: str  # how the reason names it, or why no face is judged
    note: str  # what was not examined
    faces: list[FaceCandidate]  # every prominent face measured
    speech: FaceSpeech | SpeakerUnknown | str | None  # how much each face's lips move in the speech, or why not read


def choose_face(faces: list[FaceCandidate], speech: FaceSpeech | SpeakerUnknown | str | None) -> tuple[FaceCandidate, str] | str:
    """The face the claim is judged on and how to name it in the reason; or,
    when the video has speech but no face shown speaks, why it is not judged.

    With speech, only the faces whose lips move like speech count
    (``speaking.py``): a closer match that does not speak is named, not
    counted, since a photograph held up beside the person talking looks like
    that; with no face speaking, the claim is not judged. Without speech (a
    still image, a silent video) the best match decides."""
    best = min(faces, key=lambda f: f.distance)
    shown = "the main face" if len(faces) == 1 else f"the best match of the {len(faces)} faces shown ({best.label})"
    if speech is None or isinstance(speech, str):
        return best, shown + (f"; no speech to tell who speaks: {speech}" if isinstance(speech, str) and len(faces) > 1 else "")
    if isinstance(speech, SpeakerUnknown):
        return f"someone speaks, but {speech.why}: a face that matches is not known to be the one speaking"
    speaking = [f for f in faces if f.track_id in speech.speakers]
    if not speaking:
        moves = ", ".join(f"{f.label} {speech.lips.get(f.track_id, 0.0):.2f} px" for f in faces)
        return (f"someone speaks, but no face shown moves its lips with the speech (the most over 1.5 s of it: {moves}; "
                f"nobody speaks unless some face reaches {MIN_SPEAKING_LIPS} px): the speaker is off screen, hidden or too small to judge, or the face "
                "is a picture; the claim is not judged on a face that does not speak")
    said = min(speaking, key=lambda f: f.distance)
    if said is best:
        return best, shown
    return said, (f"the best match among the faces that speak ({said.label}; {best.label} is closer, distance "
                  f"{best.distance:.3f}, but over the speech its lips move at most "
                  f"{speech.lips.get(best.track_id, 0.0):.2f} px, {100 * speech.share(best.track_id):.0f} % of the most "
                  f"moving face's, under both {SPEAKING_LIPS} px and {100 * SPEAKING_SHARE:.0f} %: a face that does not "
                  "speak, as a photograph held up beside the speaker would not, is not counted)")


@register("face_identity_claim")
def _factory() -> FaceIdentityClaimDetector:
    return FaceIdentityClaimDetector()
