"""Which of the faces on screen is the one speaking?

The face claim asks "is the claimed person shown?", and with several faces
on screen the best match used to decide. Someone who is not the CFO could
then hold the CFO's photograph up beside their own face (or paste a still of
them into a call's gallery) and talk: the photo "matched" and cancelled the
mismatch of the person talking (red team, session 24: LLR +4.0 alone, 0
with the photo).

A photograph's lips do not move. So when the video has speech and more than
one face, each face's lip motion during the speech is read from the picture
(``av_sync.turns.lip_motion``: the RMS lip opening over half a second, in
pixels of the aligned crop, so faces of any size are on one scale), and the
claim is judged on the faces whose lips move at least ``SPEAKING_SHARE`` as
much as the most moving face's (or ``SPEAKING_LIPS`` pixels): the question a finance team asks of a call
is whether the person talking to them is the CFO. A closer match by a face
whose lips stay still is reported, not counted. Nothing changes unless some
face's lips move like speech (``MIN_SPEAKING_LIPS``): two pictures, or a
call where nobody on screen talks, are judged as before.

The lip sync detector's turn reading (which face's lips move twice as much
as every other's, frame by frame) was tried first: in a genuine two-person
gallery a swaying listener's crop jitter took the turns from the speaker
(d20 + d6: 0.5 s of 16 s), and the speaker read as silent.

What it costs: in a genuine call where the claimed person only listens,
still, while someone else talks, the claim reads "does not match", which is
what a request made in the CFO's name by somebody else should read.
``photo_eval`` measures both sides.
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

# A face speaks when over some 1.5 s of the speech its lips move at least this share
# of the most moving face's, or at least SPEAKING_LIPS aligned-crop pixels whatever the
# others do (people differ: d11 moves its lips twice as much as d10). Measured in
# ``photo_eval``: genuine two-person galleries read shares >= 0.35 and >= 0.19 px;
# photographs beside a talking impostor <= 0.23 and <= 0.094 px.
SPEAKING_SHARE = 0.3
SPEAKING_LIPS = 0.15
# Nothing is set aside unless the most moving face's lips move like speech at all
# (the talking impostors read 0.37-1.2 px; still pictures 0-0.09).
MIN_SPEAKING_LIPS = 0.2


@dataclass(frozen=True)
class FaceSpeech:
    lips: dict[int, float]  # track id -> the most its lips move over 1.5 s of the speech, aligned-crop px

    @property
    def most(self) -> float:
        return max(self.lips.values(), default=0.0)

    @property
    def speakers(self) -> set[int]:
        """The faces whose lips move like the speaker's; empty when no face's lips move like speech."""
        if self.most < MIN_SPEAKING_LIPS:
            return set()
        return {tid for tid, v in self.lips.items() if v >= min(SPEAKING_SHARE * self.most, SPEAKING_LIPS)}

    def share(self, track_id: int | None) -> float:
        return self.lips.get(track_id, 0.0) / self.most if track_id is not None and self.most > 0 else 0.0


def face_speech(path: str | Path, scan: FaceScan, tracks: list[FaceTrack], options: dict[str, str]) -> FaceSpeech | str:
    """How much each face's lips move while someone speaks; or why that cannot be read."""
    if len(tracks) < 2:
        return "one face on screen"
    frames = sync_frames(scan, tracks[0])
    if frames.fps < MIN_SYNC_FPS:
        return f"the video runs at {frames.fps:.2g} fps, too few frames to follow the lips"
    try:
        speech = speech_track(path, vad_backend(options))
    except (AudioDecodeError, ValueError) as exc:
        return f"no speech to read the lips against ({exc})"
    if speech.vad.speech_s < MIN_SPEECH_S:
        return f"less than {MIN_SPEECH_S} s of speech"
    env = speech_envelope(speech.audio.samples, frames.times, frames.fps, stream_start_gap(path), speech.vad.segments)
    lips = {}
    for t in tracks:
        mouth = sync_frames(scan, t).mouth()
        motion = lip_motion(mouth, frames.fps)
        n = min(motion.size, env.active.size)
        during = mouth.observed[:n] & env.active[:n]
        use = during if during.sum() >= MIN_SPEECH_S * frames.fps else mouth.observed
        lips[t.track_id] = round(most_over_speech(motion[: use.size][use], frames.fps), 4)
    return FaceSpeech(lips)


def most_over_speech(motion: np.ndarray, fps: float) -> float:
    """The most the lips move, on average, over any ``MIN_SPEECH_S`` of speech
    (frames of speech taken in order, gaps closed): a face that speaks in
    only one turn of a long conversation still reads as speaking there."""
    if motion.size == 0:
        return 0.0
    k = max(1, int(round(MIN_SPEECH_S * fps)))
    if motion.size <= k:
        return float(motion.mean())
    return float(uniform_filter1d(motion, k, mode="nearest")[k // 2: motion.size - k // 2].max())
