"""Which of the faces on screen is the one speaking?

The face claim asks whether the claimed person is shown, and with several
faces on screen the best match used to decide. Someone who is not the CFO
could then hold the CFO's photograph up beside their own face (or paste a
still of them into a call's gallery) and talk: the photo "matched" and
cancelled the mismatch of the person talking (red team, session 24: LLR
+4.0 alone, 0 with the photo).

The question a finance team asks of a call is whether the person talking to
them is the CFO. A photograph's lips do not move. So when the video has
speech, each face's lip motion during the speech is read from the picture
(``av_sync.turns.lip_motion``: the RMS band-passed lip opening over half a
second, in pixels of the aligned crop, so faces of any size are on one
scale); a face's figure is the most its lips move over any 1.5 s of the
speech. A face speaks when that figure is at least ``SPEAKING_SHARE`` of the
most moving face's, or ``SPEAKING_LIPS`` pixels whatever the others do. The
claim is judged on the faces that speak; a closer match that does not is
reported, not counted. When the video has speech but no face shown speaks
(the speaker off screen, hidden, too small to be judged, or a picture), or
its frame rate is too low to read lips, the claim is not judged.

Around the edges of a track and wherever its crop jumps (the face hidden
for a frame or two, a cut), the lip opening steps, and the band-pass turns a
step into about 0.3 px of "motion": a photo that blinked off for a few
frames read as speaking (second red-team round). Those stretches
(``UNSTEADY_MARGIN_S`` either side) are left out; the band-pass settles within about half a second.

What it does not tell apart: lips that move but to other words (a muted
replay of real footage of the claimed person, a photo shaken at a syllable
rate) or a mouth animated from the speech. Reading each face's lips against
the speech (the lip sync's correlation) was measured and set aside: genuine
gallery speakers read as low as 3.1 on Fisher's scale and photos as high as
6.1 (``photo_eval``; the lip sync's own limit on these clips).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter1d

from audio.speech import speech_track, vad_backend
from detectors.av_sync.detector import MIN_SPEECH_S, MIN_SYNC_FPS, sync_frames
from detectors.av_sync.envelope import AudioDecodeError, speech_envelope, stream_start_gap
from detectors.av_sync.turns import lip_motion
from detectors.face_swap.faces import FaceScan, FaceTrack

# A face speaks when over some 1.5 s of the speech its lips move at least this share of
# the most moving face's, or at least SPEAKING_LIPS aligned-crop pixels whatever the others
# do (people differ: d11 moves its lips twice as much as d10). Measured in ``photo_eval``:
# genuine two-person galleries read shares >= 0.39 and >= 0.21 px; photographs beside a
# talking impostor <= 0.23 and <= 0.094 px.
SPEAKING_SHARE = 0.3
SPEAKING_LIPS = 0.15
# Nobody speaks unless the most moving face's lips reach this (the talking clips read
# 0.36-1.2 px, photographs 0-0.1): a picture alone is not its own yardstick.
MIN_SPEAKING_LIPS = 0.2
# Frames this close to a track's edge or to a jump of its crop are left out.
UNSTEADY_MARGIN_S = 0.5
# Consecutive aligned crops (grey, 64 px) differing on average by more than JUMP_RATIO times
# the track's median difference, and by at least JUMP_MIN_GREY: a jump. Relative, because
# living faces differ: the shared clips' consecutive crops differ by at most 2.8 (d18) to
# 28.6 grey levels (d12), while a photo's differ by under 1 and jump by 10-30 when it is hidden.
JUMP_RATIO = 6.0
JUMP_MIN_GREY = 8.0


@dataclass(frozen=True)
class FaceSpeech:
    """Per track id, the most its lips move over 1.5 s of the speech (aligned-crop px)."""

    lips: dict[int, float]

    @property
    def speakers(self) -> set[int]:
        most = max(self.lips.values(), default=0.0)
        if most < MIN_SPEAKING_LIPS:
            return set()
        return {tid for tid, v in self.lips.items() if v >= min(SPEAKING_SHARE * most, SPEAKING_LIPS)}

    def share(self, track_id: int | None) -> float:
        most = max(self.lips.values(), default=0.0)
        return self.lips.get(track_id, 0.0) / most if track_id is not None and most > 0 else 0.0


@dataclass(frozen=True)
class SpeakerUnknown:
    """There is speech, but who speaks cannot be read (the frame rate is too low)."""

    why: str


def face_speech(path: str | Path, scan: FaceScan, tracks: list[FaceTrack],
                options: dict[str, str]) -> FaceSpeech | SpeakerUnknown | str:
    """How much each face's lips move while someone speaks; ``SpeakerUnknown``
    when there is speech but lips cannot be read; a string when there is no
    speech to read them against (a silent video: who speaks means nothing)."""
    try:
        speech = speech_track(path, vad_backend(options))
    except (AudioDecodeError, ValueError) as exc:
        return f"no speech to read the lips against ({exc})"
    if speech.vad.speech_s < MIN_SPEECH_S:
        return f"less than {MIN_SPEECH_S} s of speech"
    frames = sync_frames(scan, tracks[0])
    if frames.fps < MIN_SYNC_FPS:
        return SpeakerUnknown(f"the video runs at {frames.fps:.2g} fps, too few frames to read whose lips move "
                              f"(need {MIN_SYNC_FPS:g})")
    env = speech_envelope(speech.audio.samples, frames.times, frames.fps, stream_start_gap(path), speech.vad.segments)
    lips = {}
    for t in tracks:
        own = sync_frames(scan, t)
        mouth = own.mouth()
        motion = lip_motion(mouth, own.fps)
        n = min(motion.size, env.active.size)
        steady = mouth.observed[:n] & ~unsteady(t, scan, own, n)
        lips[t.track_id] = round(most_over_speech(motion[:n][steady & env.active[:n]], own.fps), 4)
    return FaceSpeech(lips)


def unsteady(track: FaceTrack, scan: FaceScan, frames, n: int) -> np.ndarray:
    """Frames (on the lip signal's time base) within ``UNSTEADY_MARGIN_S`` of
    the track's edges, of a gap in it, or of a jump between consecutive crops."""
    marks = np.zeros(scan.frames, dtype=bool)
    seen = [o for o in track.observations if o.crop is not None and o.frame_index < scan.frames]
    if not seen:
        return np.ones(n, dtype=bool)
    pairs = [(a, b) for a, b in zip(seen, seen[1:]) if b.frame_index == a.frame_index + 1]
    diffs = np.array([float(np.abs(b.crop.astype(np.int16) - a.crop.astype(np.int16)).mean()) for a, b in pairs])
    limit = max(JUMP_MIN_GREY, JUMP_RATIO * float(np.median(diffs))) if diffs.size else np.inf
    for (a, b), d in zip(pairs, diffs):
        if d > limit:
            marks[a.frame_index] = marks[b.frame_index] = True
    for a, b in zip(seen, seen[1:]):
        if b.frame_index != a.frame_index + 1:  # a gap in the track
            marks[a.frame_index] = marks[b.frame_index] = True
    marks[seen[0].frame_index] = marks[seen[-1].frame_index] = True  # its edges
    if frames.grid is not None:  # variable frame rate: onto the regular grid the lips are read on
        marks = marks[frames.grid.shown] if marks.size else marks
    marks = marks[:n] if marks.size >= n else np.pad(marks, (0, n - marks.size))
    width = 2 * int(round(UNSTEADY_MARGIN_S * frames.fps)) + 1
    return uniform_filter1d(marks.astype(np.float32), width, mode="constant") > 0.5 / width


def most_over_speech(motion: np.ndarray, fps: float) -> float:
    """The most the lips move, on average, over any ``MIN_SPEECH_S`` of speech
    (frames of speech taken in order, gaps closed): a face that speaks in
    only one turn of a long conversation still reads as speaking there. A
    face seen steadily for less than that reads 0: a photo shown for 1.2 s at
    a time left a few frames, all near a jump, and read 0.43 px."""
    k = max(1, int(round(MIN_SPEECH_S * fps)))
    if motion.size < k:
        return 0.0
    if motion.size == k:
        return float(motion.mean())
    return float(uniform_filter1d(motion, k, mode="nearest")[k // 2: motion.size - k // 2].max())
