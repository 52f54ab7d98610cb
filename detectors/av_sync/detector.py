"""The registered ``av_sync`` detector: lip sync between the visible mouth
and the speech.

Two ways a video's audio can be wrong, and the finding says which:
- offset: speech matches the mouth, but shifted by more than the tolerance
  (a re-mux, a dub, a careless edit);
- no match: speech matches the mouth at no offset (the audio was replaced
  with other speech, or the face was re-rendered without it).
Not applicable, with the reason, without a face on screen long enough or
without enough speech.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from audio.speech import speech_track, unrecognised_sound_note, vad_backend
from detectors.av_sync.calibration import load_calibration
from detectors.av_sync.envelope import AudioDecodeError, speech_envelope, stream_start_gap
from detectors.av_sync.features import SyncFeatures, peak_z, sync_features
from detectors.av_sync.mouth import MouthSignal, mouth_signal
from detectors.av_sync.plot import plot_sync_curve
from detectors.av_sync.sync import SyncResult, fisher_z, sync_search
from detectors.av_sync.turns import Turns, own_turns
from detectors.base import DetectorContext, not_applicable, register
from detectors.face_swap.ahead import ScanAhead
from detectors.face_swap.faces import FaceScan, FaceTrack, audiovisual_scan_or_reason, time_guard_note
from detectors.face_swap.frame_grid import FrameGrid, display_grid
from verifier.evidence import Artifact, Finding, MediaInfo, MediaKind, Segment

MIN_FACE_S = 2.0
MIN_SPEECH_S = 1.5
# Syllables open and close the mouth 3-8 times a second; below this frame rate
# the mouth signal cannot follow them (the lowest rate calibrated is 12.5 fps).
MIN_SYNC_FPS = 10.0
# Another face counts as a second talking head when it is at least half the
# size of the main one and on screen beside it (boxes apart) for this long,
# or for this share of the main face's time if that is longer.
COMPANION_SIZE = 0.5
COMPANION_MIN_S = MIN_FACE_S
COMPANION_SHARE = 0.2
# Speech during which a face must hold the turn (``turns.py``) to be read
# when faces share the screen: twice the single-head minimum of speech, as
# each face is read on its own turns only.
MIN_TURN_S = 2 * MIN_SPEECH_S

# The mouth signal depends on the scan alone; its optical flow (OpenCV) and
# SVD release the GIL, so a thread started when the scan is done overlaps
# it with the voice detector's work.
_MOUTH_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mouth-signal")


@dataclass(frozen=True)
class SyncFrames:
    """The frame times the sync search uses: the scan's own when its frames
    are one period apart, else a regular grid at the nominal rate (variable
    frame rate; see ``frame_grid``)."""

    scan: FaceScan
    track: FaceTrack
    grid: FrameGrid | None

    @property
    def times(self) -> np.ndarray:
        return self.scan.frame_times if self.grid is None else self.grid.times

    @property
    def fps(self) -> float:
        return self.scan.fps if self.grid is None else self.grid.fps

    @property
    def face_seconds(self) -> float:
        return len(self.track) / self.scan.fps

    def mouth(self) -> MouthSignal:
        return mouth_signal(self.track, self.scan.frames, self.fps, grid=self.grid)

    @property
    def note(self) -> str:
        if self.grid is None:
            return ""
        return (f"; the frame rate varies (frames more than one period apart): mouth and speech read on a "
                f"steady {self.fps:.2f} fps grid, and offsets are in its frames")


def sync_frames(scan: FaceScan, track: FaceTrack) -> SyncFrames:
    return SyncFrames(scan, track, display_grid(scan.frame_times))


def companions(scan: FaceScan, track: FaceTrack) -> list[tuple[FaceTrack, float]]:
    """The other faces that share the screen with ``track``, and for how
    long, longest first. A second talking head - a call recording's gallery,
    an interview - breaks the single-head statistic: each mouth follows only
    its own turns, so a genuine conversation read on one face looked like
    substituted audio (two people taking turns, made from the shared clips:
    LLR +0.65 and +0.78, where each clip alone reads -0.15 and +0.45). Such a
    video is judged face by face on their own turns (``turns.py``). A second
    detection of the same face (boxes overlapping) is not a companion."""
    mine = {o.frame_index: o.box for o in track.observations}
    found: list[tuple[FaceTrack, float]] = []
    for other in scan.prominent_tracks(COMPANION_SIZE):
        if other is track:
            continue
        together = sum(1 for o in other.observations
                       if (box := mine.get(o.frame_index)) is not None and box.iou(o.box) < 0.1)
        seconds = together / scan.fps
        if seconds >= max(COMPANION_MIN_S, COMPANION_SHARE * len(track) / scan.fps):
            found.append((other, seconds))
    return sorted(found, key=lambda c: -c[1])


@dataclass(frozen=True)
class TurnSpeaker:
    track: FaceTrack
    mouth: MouthSignal
    turns: Turns
    own_s: float  # speech seconds in its own turns
    shared_s: float  # speech seconds where it moves but another mouth moves as much


def turn_speakers(scan: FaceScan, tracks: list[FaceTrack], main_mouth: MouthSignal, speech: np.ndarray,
                  fps: float) -> list[TurnSpeaker]:
    """The faces on screen together with their own turns, the one that holds
    the turn during the most speech first: its own turns are where its lips
    are read against the sound. The order uses the picture and the speech
    detector, never how well any mouth matches the sound, so substituted
    audio gets no second chance to match."""
    mouths = [main_mouth] + [sync_frames(scan, t).mouth() for t in tracks[1:]]
    found = []
    for i, (t, m) in enumerate(zip(tracks, mouths)):
        turns = own_turns(m, mouths[:i] + mouths[i + 1:], fps)
        shared = float((turns.shared & speech[: turns.shared.size]).sum()) / fps
        found.append(TurnSpeaker(t, m, turns, turns.seconds(fps, speech), shared))
    return sorted(found, key=lambda c: -c.own_s)


def _start_mouth(scan: FaceScan, track: FaceTrack) -> Future | None:
    if track is not scan.main_track():
        return None
    frames = sync_frames(scan, track)
    if frames.face_seconds < MIN_FACE_S or frames.fps < MIN_SYNC_FPS:
        return None
    return _MOUTH_THREAD.submit(frames.mouth)


MOUTH_AHEAD: ScanAhead[MouthSignal] = ScanAhead("mouth signal", _start_mouth)


class AvSyncDetector:
    name: ClassVar[str] = "av_sync"
    version: ClassVar[str] = "0.4.0"
    modality: ClassVar[str] = "audiovisual"
    examines: ClassVar[str] = "soundtrack"
    needs: ClassVar[str] = "a video stream and an audio stream"

    @property
    def weights_sha256(self) -> str | None:
        return load_calibration().sha256

    def applies_to(self, media: MediaInfo) -> bool:
        return media.kind == MediaKind.video and media.has_video and media.has_audio

    def _na(self, reason: str) -> Finding:
        return not_applicable(self, reason)

    def prepare(self, ctx: DetectorContext) -> None:
        MOUTH_AHEAD.ask(ctx.path)

    def analyze(self, ctx: DetectorContext) -> Finding:
        cal = load_calibration()
        scan = audiovisual_scan_or_reason(ctx.path)
        if isinstance(scan, str):
            return self._na(scan)
        track = scan.main_track()
        assert track is not None
        frames = sync_frames(scan, track)
        if frames.fps < MIN_SYNC_FPS:
            return self._na(f"the video runs at {frames.fps:.2g} fps: too few frames per second to follow the mouth "
                            f"(syllables come 3-8 times a second; need at least {MIN_SYNC_FPS:g} fps)")
        seen_s = frames.face_seconds
        if seen_s < MIN_FACE_S:
            return self._na(f"a face is visible for only {seen_s:.1f} s (need {MIN_FACE_S:.1f} s)")
        others = companions(scan, track)
        try:
            backend = vad_backend(ctx.options)
        except ValueError as exc:
            return self._na(str(exc))
        try:
            speech = speech_track(ctx.path, backend)
        except AudioDecodeError as exc:
            return self._na(f"audio could not be decoded: {exc}")
        if speech.vad.speech_s < MIN_SPEECH_S:
            return self._na(
                f"speech shorter than {MIN_SPEECH_S} s ({speech.vad.speech_s:.1f} s found by the {speech.vad.backend} VAD "
                f"in {speech.audio.duration_s:.1f} s of audio): music, noise or silence give the mouth nothing to follow"
                + unrecognised_sound_note(speech.audio.samples, speech.audio.sample_rate, speech.vad))
        full_rate = cal
        cal = cal.for_fps(frames.fps)
        rate_note = ("" if cal is full_rate else
                     f"; the video runs at {frames.fps:.1f} fps, so it is judged by the calibration made on half-rate "
                     "copies of the clips (the 25/30 fps one reads genuine webcam video as leaning toward substituted)")
        env = speech_envelope(speech.audio.samples, frames.times, frames.fps, stream_start_gap(ctx.path),
                              speech.vad.segments)
        mouth = MOUTH_AHEAD.collect(track, timeout_s=600.0) or frames.mouth()
        turn_note, strength = "", None
        if others:
            speakers = turn_speakers(scan, [track] + [t for t, _ in others], mouth, env.active, frames.fps)
            together = f"{len(others) + 1} faces share the screen (track {track.track_id} with " + ", ".join(
                f"{t.track_id} for {sec:.1f} s" for t, sec in others) + ")"
            judged = [sp for sp in speakers if sp.own_s >= MIN_TURN_S]
            if not judged:
                return self._na(
                    f"{together}, and no face holds the turn during {MIN_TURN_S:.1f} s of speech (the most: track "
                    f"{speakers[0].track.track_id}, {speakers[0].own_s:.1f} s; {speakers[0].shared_s:.1f} s where another "
                    "mouth moves as much): in a conversation each mouth follows only its own turns, and the turns are "
                    "read from the lips alone")
            results = [sync_search(sp.mouth, env.log_energy, env.active, frames.times, frames.fps,
                                   max_offset=cal.max_offset, only=sp.turns.own) for sp in judged]
            zs = [peak_z(r) for r in results]
            result, feats, strength = results[0], SyncFeatures(float(np.mean(zs))), float(np.mean(zs))
            turn_note = (f"; {together}: each face that holds the turn during {MIN_TURN_S:.1f} s of speech or more is "
                         "read on its own turns (from the picture alone), " + ", ".join(
                             f"track {sp.track.track_id} on {sp.own_s:.1f} s ({z:.1f} on Fisher's scale)"
                             for sp, z in zip(judged, zs))
                         + f", and the evidence is their mean, {strength:.1f}; the offset is track "
                         f"{judged[0].track.track_id}'s")
        else:
            result = sync_search(mouth, env.log_energy, env.active, frames.times, frames.fps, max_offset=cal.max_offset)
            feats = sync_features(result)
        llr = cal.llr(feats)
        verdict, reason = _describe(result, cal.tolerance_frames, cal.no_match_peak_z, cal.original_offset_range, strength)
        artifacts = []
        if ctx.artifact_dir is not None:
            png = plot_sync_curve(result, ctx.artifact_dir / "av_sync_curve.png", cal.tolerance_frames,
                                  title=f"lip sync: {verdict.replace('_', ' ')}, best offset {result.offset_frames:+d} frames")
            artifacts.append(Artifact(kind="sync_curve", media_type="image/png", path=str(png),
                                      description="mouth-speech correlation against audio offset, whole clip and per window"))
        return Finding(
            detector=self.name, version=self.version, modality="audiovisual", weights_sha256=cal.sha256,
            applicable=True, reason=f"{verdict}: {reason}{turn_note}{rate_note}{frames.note}{time_guard_note(scan.stopped_at_s)}"
                                    + speech.audio.reading_clause, raw_score=round(feats.peak_z, 6), llr=llr,
            segments=_segments(result, verdict), artifacts=artifacts, validation=cal.validation,
        )


def _describe(result: SyncResult, tol: int, no_match_z: float, seen: tuple[int, int] = (0, 0),
              z: float | None = None) -> tuple[str, str]:
    """``z``: the evidence on Fisher's scale when it is not ``result``'s own
    (the mean over the faces of a conversation)."""
    ms = result.offset_s * 1000.0
    where = "after" if result.offset_frames > 0 else "before"
    own = z is None
    z = peak_z(result) if z is None else z
    strength = (f"best correlation {result.curve.peak:.3f} over {result.frames_used} frames, {z:.1f} on Fisher's scale"
                if own else f"{z:.1f} on Fisher's scale, the mean over the faces")
    calibrated = result.calibrated_range
    if z < no_match_z:
        far = ""
        if result.beyond_calibrated_range:
            far = (f"; over +-{int(np.max(np.abs(result.reported.offsets)))} frames the best match is at {result.offset_frames:+d} frames ({abs(ms):.0f} ms "
                   f"{where} the mouth; {fisher_z(result.reported.peak, result.frames_used):.1f} on Fisher's scale), "
                   f"outside the +-{calibrated} frames the likelihood ratio reads: the audio is either that far out "
                   "of step or substituted")
        return "no_match", (f"speech matches the mouth at no offset within +-{calibrated} frames ({strength} < "
                            f"{no_match_z:.1f}, the 5th percentile of real clips): the audio may have been substituted{far}")
    if abs(result.offset_frames) > tol:
        beyond = (f", beyond the +-{calibrated} frames the likelihood ratio reads" if result.beyond_calibrated_range
                  else "")
        return "offset", (f"audio is {abs(result.offset_frames)} frames ({abs(ms):.0f} ms) {where} the mouth "
                          f"(offset {result.offset_frames:+d} frames{beyond}, tolerance {tol}; {strength}). "
                          f"Reported, not weighed in the likelihood ratio: real clips we measured, as published, "
                          f"ranged from {seen[0]:+d} to {seen[1]:+d} frames")
    return "in_sync", f"audio and mouth in sync (offset {result.offset_frames:+d} frames, {strength})"


def _segments(result: SyncResult, verdict: str) -> list[Segment]:
    """The speech windows, labelled with their own offset; for an offset
    verdict the windows that agree with it are the ones that drove it."""
    out = []
    for w in result.windows:
        if w.speech_fraction < 0.3:
            continue
        agrees = abs(w.curve.best_offset - result.offset_frames) <= 1
        label = f"offset {w.curve.best_offset:+d} frames" + (" (agrees)" if agrees else "")
        if verdict == "offset" and not agrees:
            continue
        out.append(Segment(start_s=round(w.start_s, 3), end_s=round(w.end_s, 3), score=round(w.curve.confidence, 6), label=label))
    return out


@register("av_sync")
def _factory() -> AvSyncDetector:
    return AvSyncDetector()
