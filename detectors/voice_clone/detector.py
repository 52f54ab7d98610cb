"""The voice-clone detector as a pipeline object: speech -> windows -> timeline -> Finding.

Opt-in (``--detectors voice_clone``), not a default detector: the shipped
weights (``lfcc_ge2e.pt`` next to this file, float16: the LFCC CNN
fused with a head on the frozen GE2E encoder of the resemblyzer wheel) have measured error
rates far from the targets (see ``MODEL_CARD.md`` and ``docs/voice.md``), so
their LLR is not evidence on its own. Another model is used when given as the
``voice_model`` detector option or in ``VERIFIER_VOICE_MODEL``.

The file-level LLR comes from the strongest window's logit (``call_score.py``):
a sentence spliced into a genuine call weighs as much as the window that hears
it, not as its share of the call. The map is fitted for the shipped weights on
genuine calls and recordings, spliced calls and whole TTS files
(``call_calibration.json``), so it knows how high the strongest window of a
genuine call runs; the raw score reported is that logit. A model without one (e.g. retrained by a user) is
judged by the mean window logit, the statistic its own calibration was fitted
on. Window LLRs are given per segment to show *where* the evidence is; they
are not independent and must not be summed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import numpy as np

from audio.decode import AudioDecodeError
from audio.noise import steady_noise_snr_db
from audio.speech import speech_track, unrecognised_sound_note, vad_backend
from detectors.base import DetectorContext, check_llr, register
from detectors.voice_clone.call_score import CallCalibration, CallCalibrationError, call_features, load_call_calibration
from verifier.evidence import Artifact, Finding, MediaInfo, Segment

MIN_SPEECH_S = 1.5
# Below this estimated speech-to-steady-noise ratio the model's score is not
# evidence: on genuine held-out speech with steady noise added at 10 and 5 dB
# (estimated 13.4 and 8.6 dB) its false alarms at LLR >= 1 rose from 0 % to
# 2.1 % and 12.4 % (``noise_eval``). Clean recordings read 20 dB and more
# (median 35 dB; 1 of 60 FSDD home recordings read under 15 dB).
MIN_SNR_DB = 15.0
WINDOW_S = 4.0
HOP_S = 1.0
DEFAULT_WEIGHTS = Path(__file__).parent / "lfcc_ge2e.pt"  # shipped; see MODEL_CARD.md


def _model_path(ctx_options: dict[str, str] | None = None) -> Path:
    if ctx_options and ctx_options.get("voice_model"):
        return Path(ctx_options["voice_model"])
    env = os.environ.get("VERIFIER_VOICE_MODEL")
    return Path(env) if env else DEFAULT_WEIGHTS


class VoiceCloneDetector:
    name: ClassVar[str] = "voice_clone"
    version: ClassVar[str] = "0.4.0"
    modality: ClassVar[str] = "audio"
    examines: ClassVar[str] = "voice"
    needs: ClassVar[str] = "an audio stream"

    def __init__(self, model_path: Path | None = None):
        self._path = model_path
        self._bundle = None

    def _load(self, options: dict[str, str] | None = None):
        from detectors.voice_clone.scoring import load_bundle

        if self._bundle is None:
            self._bundle = load_bundle(self._path or _model_path(options))
        return self._bundle

    @property
    def weights_sha256(self) -> str | None:
        try:
            return self._load().sha256
        except Exception:
            return None

    def applies_to(self, media: MediaInfo) -> bool:
        return media.has_audio

    def _na(self, reason: str, sha: str | None = None) -> Finding:
        return Finding(
            detector=self.name, version=self.version, modality="audio", weights_sha256=sha, applicable=False, reason=reason
        )

    def analyze(self, ctx: DetectorContext) -> Finding:
        from detectors.voice_clone.scoring import BundleError

        try:
            bundle = self._load(ctx.options)
        except BundleError as exc:
            return self._na(f"no trained voice model available: {exc}")
        try:
            backend = vad_backend(ctx.options)
        except ValueError as exc:
            return self._na(str(exc), bundle.sha256)
        try:
            track = speech_track(ctx.path, backend)
        except AudioDecodeError as exc:
            return self._na(f"audio could not be decoded: {exc}", bundle.sha256)
        audio, vad = track.audio, track.vad
        if vad.speech_s < MIN_SPEECH_S:
            return self._na(
                f"speech shorter than {MIN_SPEECH_S} s ({vad.speech_s:.1f} s found by the {vad.backend} VAD); "
                "music, silence or too little speech to judge" + unrecognised_sound_note(audio.samples, audio.sample_rate, vad)
                + audio.reading_clause,
                bundle.sha256,
            )
        snr = steady_noise_snr_db(audio.samples, audio.sample_rate)
        if snr is not None and snr < MIN_SNR_DB:
            return self._na(
                f"the speech stands only about {snr:.0f} dB above steady background noise (estimated; the model "
                f"is judged from {MIN_SNR_DB:.0f} dB): on genuine speech with steady noise at 10 and 5 dB its false "
                "alarms rose from 0 % to 2 % and 12 %, so its score would not be evidence here"
                + audio.reading_clause,
                bundle.sha256,
            )
        windows = speech_windows(vad.segments, audio.duration_s)
        if not windows:
            return self._na(
                f"{vad.speech_s:.1f} s of speech, but in pieces shorter than 1 s; too fragmented to judge"
                + audio.reading_clause,
                bundle.sha256,
            )
        rate = audio.sample_rate
        fps = bundle.config.frames_per_s
        items = []
        for (s0, s1), group in _by_segment(windows, vad.segments):
            # features once per speech segment, every window of it scored from them (windows overlap 4:1)
            f = bundle.features(audio.samples[int(s0 * rate) : int(s1 * rate)], rate)
            starts = [int(round((a - s0) * fps)) for a, _ in group]
            win = int(round((group[0][1] - group[0][0]) * fps))  # windows of a segment share one length
            items.append((f, starts, win))
        logits = [float(v) for seg_logits in bundle.logits_at_many(items) for v in seg_logits]
        cal = bundle.calibration
        seg_llr = cal.llr10(logits) if cal else [None] * len(logits)
        call_cal, call_note = _call_calibration(bundle)
        raw, llr, judged_by, deciding = _file_score(bundle.calibration, call_cal, call_note, logits, windows)
        segments = [
            Segment(start_s=round(a, 3), end_s=round(b, 3), score=s, llr=None if l is None else float(l),
                    label="; ".join(t for t in ("supports synthetic" if (l is not None and l > 0) else "",
                                                "strongest window: the file's LLR comes from it" if i == deciding else "")
                                    if t))
            for i, ((a, b), s, l) in enumerate(zip(windows, logits, seg_llr))
        ]
        artifacts = []
        if ctx.artifact_dir is not None:
            png = spectrogram_png(audio.samples, rate, segments, Path(ctx.artifact_dir) / "voice_clone_spectrogram.png")
            artifacts.append(
                Artifact(kind="spectrogram", media_type="image/png", path=str(png),
                         description="log-mel spectrogram; red bars mark windows whose LLR supports synthetic speech")
            )
        rec = bundle.record.get("validation") or "no validation record in this model bundle: not evidence"
        if call_cal is not None:
            rec = f"{rec}; call level: {call_cal.summary}"
        return Finding(
            detector=self.name, version=self.version, modality="audio", weights_sha256=bundle.sha256, applicable=True,
            reason=f"{len(windows)} windows over {vad.speech_s:.1f} s of speech ({vad.backend} VAD); {judged_by}"
                   + audio.reading_clause,
            raw_score=raw, llr=check_llr(llr), segments=segments, artifacts=artifacts, validation=str(rec),
        )


def _call_calibration(bundle) -> tuple[CallCalibration | None, str]:
    """The call-level map for this bundle, or None and why not."""
    if bundle.calibration is None:
        return None, "the model carries no calibration"
    try:
        cal = load_call_calibration(bundle.sha256)
    except CallCalibrationError as exc:
        return None, f"the call-level calibration is unreadable ({exc})"
    return cal, "" if cal else "no call-level calibration for this model"


def _file_score(window_cal, call_cal: CallCalibration | None, call_note: str, logits: list[float],
                windows: list[tuple[float, float]]) -> tuple[float, float | None, str, int | None]:
    """(raw score, LLR, how the file was judged, the window the LLR comes from or None) from the window logits.

    Without a call-level map the mean window logit, which the bundle's own
    calibration was fitted on, stands in.
    """
    if call_cal is None:
        raw = float(np.mean(logits))
        llr = float(window_cal.llr10([raw])[0]) if window_cal else None
        return raw, llr, f"judged by the mean window score ({call_note})", None
    x = call_features(logits, call_cal.features)
    best = int(np.argmax(logits))
    a, b = windows[best]
    named = " and ".join(STATISTIC_WORDS.get(f, f) for f in call_cal.features)
    return float(x[0]), call_cal.llr10(logits), (
        f"judged by {named} of its {len(windows)} windows (the strongest: {a:.1f}-{b:.1f} s)"), (
        best if "max" in call_cal.features else None)


STATISTIC_WORDS = {"max": "the strongest", "top_quarter": "the top quarter", "mean": "the mean",
                   "log_windows": "the number"}


def _by_segment(windows: list[tuple[float, float]], segments) -> list[tuple[tuple[float, float], list[tuple[float, float]]]]:
    """Windows grouped under the speech segment that holds them, in order."""
    out: list[tuple[tuple[float, float], list[tuple[float, float]]]] = []
    for a, b in windows:
        seg = next(s for s in segments if s.start_s <= a + 1e-6 and b <= s.end_s + 1e-6)
        key = (max(0.0, seg.start_s), seg.end_s)
        if out and out[-1][0] == key:
            out[-1][1].append((a, b))
        else:
            out.append((key, [(a, b)]))
    return out


def speech_windows(segments, duration_s: float, window_s: float = WINDOW_S, hop_s: float = HOP_S,
                   min_s: float = 1.0) -> list[tuple[float, float]]:
    """4 s windows with a 1 s hop inside each speech segment; a shorter segment is one window."""
    out: list[tuple[float, float]] = []
    for s in segments:
        a, b = max(0.0, s.start_s), min(duration_s, s.end_s)
        if b - a < min_s:
            continue
        if b - a <= window_s:
            out.append((a, b))
            continue
        t = a
        while t + window_s <= b + 1e-9:
            out.append((t, t + window_s))
            t += hop_s
        if out[-1][1] < b - 1e-6:
            out.append((b - window_s, b))
    return out


# Palette image: 252 grey levels for the spectrogram, then white, red (flagged), green (not flagged).
# One byte per pixel instead of three: the PNG is smaller and encodes about ten times faster
# than an RGB one (75 ms of a 60 s call's 0.6 s were PNG encoding before).
_GREYS = 252
_WHITE, _RED, _GREEN = _GREYS, _GREYS + 1, _GREYS + 2
_PALETTE = [round(255 * i / (_GREYS - 1)) for i in range(_GREYS) for _ in range(3)] + [
    255, 255, 255, 0xD6, 0x27, 0x28, 0x2C, 0xA0, 0x2C]


def spectrogram_png(x: np.ndarray, rate: int, segments: list[Segment], path: Path, max_width: int = 1400) -> Path:
    from PIL import Image, ImageDraw

    from audio.features import log_mel

    m = log_mel(x, rate).T[::-1]  # low frequencies at the bottom
    lo, hi = np.percentile(m, 5), np.percentile(m, 99.5)
    img = np.round((_GREYS - 1) * np.clip((m - lo) / max(hi - lo, 1e-6), 0, 1)).astype(np.uint8)
    width = min(max_width, max(200, img.shape[1]))
    # bilinear, unlike bicubic, never overshoots past the last grey into the marker colours
    pic = Image.fromarray(img).resize((width, 240), Image.Resampling.BILINEAR)
    pixels = np.full((270, width), _WHITE, np.uint8)
    pixels[30:] = np.asarray(pic)
    canvas = Image.fromarray(pixels)
    canvas.putpalette(_PALETTE)  # makes the grey image a palette one
    d = ImageDraw.Draw(canvas)
    dur = len(x) / rate
    for s in segments:
        x0, x1 = int(s.start_s / dur * width), int(s.end_s / dur * width)
        flagged = s.llr is not None and s.llr > 0
        colour = _RED if flagged else _GREEN
        d.rectangle([x0, 8, max(x0 + 1, x1), 22], outline=colour)
        if flagged:
            d.rectangle([x0 + 1, 9, max(x0 + 2, x1 - 1), 21], fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


@register("voice_clone")
def _factory() -> VoiceCloneDetector:
    return VoiceCloneDetector()
