"""The registered ``speaker_claim`` detector: is the voice the person the
media claims to be speaking (an enrolled voice reference)?

Runs only when the caller names the speaker: ``ctx.options`` must hold
``claimed_speaker`` and ``voice_reference_dir`` (where ``VoiceStore`` keeps
references). Hp: the voice is not the claimed speaker; Hd: it is. The LLR
comes from a logistic regression on same/different-speaker similarities
measured in ``evaluate.py``, in the band both sides share (``band.py``).

The whole file's speech gives the score and the LLR; windows of about 4 s of
speech are scored too, and those that do not match are reported as segments,
so a reviewer can see where another voice speaks. This is not a spoof
detector: a good voice clone is built to match the speaker's embedding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from audio.decode import AudioDecodeError, NoAudioStreamError
from audio.repeats import find_repeats, repeated_seconds
from detectors.base import DetectorContext, not_applicable, register
from detectors.identity.enroll import reference_used
from detectors.speaker.band import choose_band, is_narrowband, to_telephone
from detectors.speaker.calibration import load_calibration
from detectors.speaker.encoder import PARTIAL_FRAMES, embed_partials
from detectors.speaker.enroll import EnrolmentError, VoiceReference, VoiceStore
from detectors.speaker.score import similarities, similarity, windows
from detectors.speaker.speech import DRY_DECAY_DB, Speech, speech_of_file
from detectors.speaker.voices import voices
from verifier.evidence import Finding, MediaInfo, MediaKind, Segment

MIN_SPEECH_S = 1.5
# Even denoised, speech this close to steady noise is not judged: at 5 dB SNR
# (estimated 8.6 dB) about 20 % of genuine same-speaker trials still read
# LLR >= 1 in a first measurement; at 10 dB (estimated 13.4 dB), denoised,
# none do with the shipped calibration (``evaluate.py``).
DECLINE_BELOW_DB = 11.0
WINDOW_S = 4.0
HOP_S = 2.0


class SpeakerClaimDetector:
    name: ClassVar[str] = "speaker_claim"
    version: ClassVar[str] = "0.4.0"
    modality: ClassVar[str] = "audio"
    examines: ClassVar[str] = "voice"
    needs: ClassVar[str] = "an audio stream"

    @property
    def weights_sha256(self) -> str | None:
        return load_calibration().encoder_sha256

    def applies_to(self, media: MediaInfo) -> bool:
        return media.kind in (MediaKind.audio, MediaKind.video, MediaKind.image)

    def _na(self, reason: str) -> Finding:
        return not_applicable(self, reason)

    def analyze(self, ctx: DetectorContext) -> Finding:
        person = ctx.options.get("claimed_speaker")
        ref_dir = ctx.options.get("voice_reference_dir")
        if not person or not ref_dir:
            return self._na("no claimed speaker given (options claimed_speaker and voice_reference_dir)")
        if ctx.media.kind == MediaKind.image or not ctx.media.has_audio:
            return self._na("the file has no audio stream to compare with the claimed speaker's voice")
        try:
            ref = VoiceStore(Path(ref_dir)).load(person)
        except EnrolmentError as exc:
            return self._na(str(exc))
        used = reference_used(ref, "voice", ctx.options, "claimed_speaker")
        if isinstance(used, str):
            return self._na(used)
        try:
            speech = speech_of_file(ctx.path)
        except NoAudioStreamError:
            return self._na("the file has no audio stream to compare with the claimed speaker's voice")
        except AudioDecodeError as exc:
            return self._na(f"the audio could not be decoded: {exc}")
        if speech.seconds < MIN_SPEECH_S:
            return self._na(f"only {speech.seconds:.1f} s of speech found ({speech.vad_backend} VAD); "
                            f"the speaker check needs at least {MIN_SPEECH_S} s{speech.reading_clause}")
        if speech.snr_db is not None and speech.snr_db < DECLINE_BELOW_DB:
            return self._na(
                f"the speech stands only about {speech.snr_db:.0f} dB above steady background noise (estimated; the "
                f"speaker check is judged from {DECLINE_BELOW_DB:.0f} dB): even denoised, such noise made genuine "
                f"speakers read as someone else{speech.reading_clause}")
        cal = load_calibration()
        band = choose_band(is_narrowband(speech.samples), ref.narrowband)
        dry = speech.dry and ref.dry
        bcal = cal.for_call(band, dry)
        samples = to_telephone(speech.samples) if band == "telephone" else speech.samples
        partials = embed_partials(samples)
        refs = ref.embeddings_for(band)
        heard = voices(partials)
        sims = [similarity(v.embedding, refs, bcal.combine) for v in heard]  # type: ignore[arg-type]
        closest = int(np.argmax(sims))
        score = sims[closest]
        replay = _replayed(speech, partials, heard, closest)
        llr = bcal.llr(score)
        wins = windows(partials, WINDOW_S, HOP_S)
        segments = []
        if len(wins) > 1:
            wsims = similarities(np.array([w.embedding for w in wins]), refs, bcal.combine)  # type: ignore[arg-type]
            voice_of = np.zeros(len(partials.vectors), int)
            for k, v in enumerate(heard):
                voice_of[v.members] = k
            for w, s in zip(wins, wsims):
                wl = bcal.llr(float(s))
                label = "does not match" if wl > 0 else "matches"
                if len(heard) > 1:  # whose speech the window mostly holds
                    label = f"voice {int(np.bincount(voice_of[w.members]).argmax()) + 1}: {label}"
                segments.append(Segment(start_s=round(speech.file_time(w.start_s), 3), end_s=round(speech.file_time(w.end_s), 3),
                                        score=round(float(s), 4), llr=round(wl, 3), label=label))
        off = [s for s in segments if s.llr is not None and s.llr > 0]
        verdict = "matches" if llr <= 0 else "does not match"
        detail = (f"; {len(off)} of {len(segments)} ~{WINDOW_S:.0f} s windows do not match" if segments else "")
        who = "the voice"
        if len(heard) > 1:
            who = f"{'one' if llr <= 0 else 'none'} of the {len(heard)} voices"
            verdict = "matches"
            rest = ", ".join(f"voice {i + 1}, {v.seconds:.0f} s at {sim:.3f}"
                             for i, (v, sim) in enumerate(zip(heard, sims)) if i != closest)
            detail = (f"; {len(heard)} voices heard (the speech's 1.6 s embeddings fall into groups; a call's other party "
                      f"is expected): the closest to the reference, voice {closest + 1} ({heard[closest].seconds:.0f} s of "
                      f"speech), is compared (the others: {rest}; the segments say whose speech each window holds)") + detail
        elif llr <= 0 < len(off):
            detail += ": the recording may hold another voice, see the segments"
        return Finding(
            detector=self.name, version=self.version, modality="audio", weights_sha256=cal.encoder_sha256, applicable=True,
            reason=(f"{who} {verdict} the enrolled reference for {person!r} (cosine similarity {score:.3f}, "
                    f"{band} comparison, same-speaker threshold {bcal.match_threshold:.3f}; {speech.seconds:.1f} s of speech, "
                    f"{len(refs)} reference recording(s), {used[1]}{detail})"
                    + (f"; steady background noise (about {speech.snr_db:.0f} dB below the speech, estimated) was "
                       "removed before comparing" if speech.denoised else "")
                    + speech.reading_clause + replay.clause
                    + f"; {_condition_clause(speech, ref, dry)}. A matching voice can still be a voice clone."),
            raw_score=round(score, 6), llr=llr, segments=segments, validation=cal.validation, supports_h0=False,
            reference=used[0].model_copy(update={"compared_share": replay.compared_share, "repeated_s": replay.repeated_s}),
        )


@dataclass(frozen=True)
class _Replay:
    """What ``audio.repeats`` found in the speech, as the claim reports it."""

    repeated_s: float  # of the compared voice's speech, repeating earlier audio of this recording exactly
    compared_share: float | None  # the compared voice's share of the speech, each repeated stretch counted once
    clause: str


def _replayed(speech: Speech, partials, heard: list, closest: int) -> _Replay:
    """A snippet of the real person replayed several times into an impostor's note made
    their voice "one of the voices" and then most of the speech (red team, session 24).
    A replay repeats the waveform itself, or at least its finest spectral detail; people do
    not (``audio.repeats``)."""
    reps = find_repeats(speech.samples)
    centres = partials.starts_s + PARTIAL_FRAMES * 0.01 / 2  # 10 ms frames
    fresh = ~np.array([any(r.start_s <= c < r.end_s for r in reps) for c in centres], bool)
    mine = np.zeros(len(centres), bool)
    mine[heard[closest].members] = True
    # Only the compared voice's repeats are named: a genuine call's hold announcement, played
    # three times in another voice, is a recording replayed too, but says nothing of the claim.
    repeated = round(repeated_seconds(reps) * float((mine & ~fresh).sum()) / max(1, int((~fresh).sum())), 2)
    share = None
    if len(heard) > 1 or repeated:
        total = int(fresh.sum())
        share = round(int((fresh & mine).sum()) / total, 3) if total else 0.0
    clause = ""
    if repeated:
        spans = ", ".join(f"{speech.file_time(r.start_s):.1f}-{speech.file_time(r.end_s):.1f} s repeats "
                          f"{speech.file_time(r.start_s - r.lag_s):.1f} s" for r in reps[:3])
        clause = (f"; {repeated:.1f} s of the speech is the same recording played again ({spans}: the waveform "
                  "or its finest spectral detail repeats, as no one repeats themselves), counted once")
    return _Replay(repeated, share, clause)


def _condition_clause(speech: Speech, ref: VoiceReference, dry: bool) -> str:
    """Which calibration was used and why, in words: the two give evidence of different strength."""
    if dry:
        return ("the call and every reference recording sound dry (no room echo, no noise removed), so the "
                "calibration measured on clean recordings applies")
    why = []
    if speech.denoised:
        why.append("noise was removed from the call")
    elif speech.decay_db is None:
        why.append("the call holds too little sound to tell whether it was recorded in a room")
    elif speech.decay_db < DRY_DECAY_DB:
        why.append(f"the call sounds like a room (at its steepest its sound falls {speech.decay_db:.0f} dB in 0.12 s; "
                   f"dry recordings fall {DRY_DECAY_DB:.0f} dB or more)")
    if ref.room_unknown:
        why.append("a reference recording has no room reading (enrolled before recordings were checked for rooms: "
                   "enrol the same recordings again to allow the clean-recording calibration)")
    elif not ref.dry:
        why.append("a reference recording sounds like a room or was noisy")
    return (f"{' and '.join(why)}, so the calibration that allows for rooms and noise applies; it gives weaker "
            "evidence against a different speaker than the clean-recording one")


@register("speaker_claim")
def _factory() -> SpeakerClaimDetector:
    return SpeakerClaimDetector()
