"""Decode the audio of any media file PyAV can open to mono float32.

Every audio model and every corpus item goes through this one function, so
the bona fide and the spoofed class see exactly the same decoder, resampler
and down-mix: a difference introduced here would be a shortcut a detector
could learn instead of the artefacts of synthesis.

Hostile or odd inputs must end in a typed exception with a message a user can
act on, never in a crash deep in FFmpeg or an unbounded allocation: the
``max_duration_s`` guard stops decoding before memory grows without limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from audio.hum import filter_chunked, remove_hum

TARGET_RATE = 16_000
DEFAULT_MAX_DURATION_S = 3 * 3600.0


class AudioDecodeError(RuntimeError):
    """The file could not be decoded as audio; the message says why."""


# Largest picture any decoder may allocate: Pillow's refusal threshold, ~179
# megapixels (three bytes each, ~0.5 GB as RGB). The biggest phone and camera
# sensors are ~100-150 MP; beyond this a file is more likely a decompression
# bomb than a photo. Defined here, at the bottom of the stack, so the still-image
# reader, the probe and every FFmpeg decoder share one limit. Opening a file
# already decodes a first frame when the container does not give the pixel
# format (a PNG file, PNG frames in a MOV): a 2 MB PNG declaring 16000 x 16000
# 16-bit RGBA pixels took 2 GB and 8 s there, before any check of ours could
# run. FFmpeg's ``max_pixels`` makes the decoder refuse such a frame before
# allocating it (the stream then reads as having no dimensions).
MAX_PIXELS = 2 * 89_478_485  # 2 x PIL.Image.MAX_IMAGE_PIXELS (Pillow's bomb-error threshold)
DECODER_LIMITS = {"max_pixels": str(MAX_PIXELS)}


def open_media(path: str | Path | BinaryIO, options: dict[str, str] | None = None) -> av.container.InputContainer:
    """Open ``path`` for reading with tags that are not UTF-8 dropped, not fatal.

    PyAV decodes every tag as UTF-8 and by default fails the whole open on one
    Latin-1 or CP1251 byte: real recordings carry such tags (a Russian
    ``ENGINEER`` field in CP1251), and a forger could add one to make a file
    un-examinable by every detector. Tags are not evidence here; the streams are.
    Every read-side open in the project goes through this function, so every
    one probes under ``DECODER_LIMITS``; ``options`` adds FFmpeg options.
    """
    source = path if hasattr(path, "read") else str(path)  # a file object (bytes in memory) as is
    return av.open(source, mode="r", metadata_errors="ignore", options={**DECODER_LIMITS, **(options or {})})


def cap_decoder(stream) -> None:
    """Put ``DECODER_LIMITS`` on the decoder that will decode ``stream``'s
    frames: the options given when opening reach only the probe's decoders,
    and PyAV opens a fresh one for ``container.decode``."""
    ctx = stream.codec_context
    if ctx is not None:
        ctx.options = {**(ctx.options or {}), **DECODER_LIMITS}


def best_stream(container: av.container.InputContainer, kind: str):
    """The ``kind`` ("audio" or "video") stream a player would present, or None.

    FFmpeg's choice (``av_find_best_stream``): the default-flagged stream
    first, then the one with real frames over a cover picture. The first
    stream of a kind is the file writer's choice, not the viewer's: a 64x64
    decoy track placed first hid a clip's real video from every face
    detector. Every detector picks its streams here, so all of them judge
    what the viewer sees. A stream FFmpeg has no decoder for (no codec
    context: an unknown or mangled codec tag) is never presented.
    """
    candidates = [s for s in container.streams if s.type == kind and s.codec_context is not None]
    if not candidates:
        return None
    try:
        best = container.streams.best(kind)
    except (av.error.FFmpegError, ValueError):
        best = None
    return best if best is not None and best in candidates else candidates[0]


PLAUSIBLE_FPS = (1.0, 1000.0)


def stream_frame_rate(stream, default: float = 25.0) -> float:
    """The video stream's frame rate: the first plausible of the container's
    average rate, FFmpeg's guess and the base rate, else ``default``.

    The container's figure is only a claim: a mangled sample table (found
    by fuzzing) declared 0.00003 fps, and every per-frame grid and filter
    downstream assumes a real frame rate. Frame timestamps are used wherever
    frames carry them; this rate only fills in where they do not."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and PLAUSIBLE_FPS[0] <= float(rate) <= PLAUSIBLE_FPS[1]:
            return float(rate)
    return default


class NoAudioStreamError(AudioDecodeError):
    """The container opened but holds no audio stream (e.g. a still image)."""


class AudioTooLongError(AudioDecodeError):
    """Decoding stopped at the duration guard, to bound memory and time."""


@dataclass(frozen=True)
class DecodedAudio:
    """Mono float32 samples in [-1, 1] at ``sample_rate``.

    ``native_rate`` and ``native_channels`` describe the stream before
    resampling: a 8 kHz source upsampled to 16 kHz has no energy above 4 kHz,
    and detectors and shortcut checks need to know that.
    """

    samples: np.ndarray
    sample_rate: int
    native_rate: int
    native_channels: int
    codec: str
    stream_index: int
    # Set when the channels cancel in a mono mix and one channel was read
    # instead (see CANCELLED_MIX); says which and by how much.
    channel_note: str | None = None
    # Set when samples no player plays as stored were repaired (see ``_repair_samples``).
    sample_note: str | None = None
    # Set when ``examine_s`` ended the decode here: the file's audio goes on.
    stopped_at_s: float | None = None

    @property
    def reading_clause(self) -> str:
        """How the audio was read, when it was not read plainly, as a clause to
        append to a finding's reason ("" when it was)."""
        return "".join(f"; {n}" for n in (self.channel_note, self.sample_note, self.time_guard_note) if n)

    @property
    def time_guard_note(self) -> str | None:
        """What a finding must say when only the start of the audio was read:
        a forger could otherwise put the manipulation after it (worded as
        the video scans' time guard, ``faces.time_guard_note``)."""
        if self.stopped_at_s is None:
            return None
        return (f"only the first {self.stopped_at_s:g} s of the audio were examined (time guard): "
                "anything later was not looked at")

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.sample_rate)


def decode_audio(
    path: str | Path,
    *,
    target_rate: int | None = TARGET_RATE,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    stream_index: int | None = None,
    examine_s: float | None = None,
) -> DecodedAudio:
    """Decode the first (or the given) audio stream of ``path``.

    ``target_rate=None`` keeps the native sample rate. Raises
    ``NoAudioStreamError`` when there is no audio, ``AudioTooLongError`` past
    ``max_duration_s`` and ``AudioDecodeError`` for anything FFmpeg rejects.
    With ``examine_s``, longer audio is not refused: decoding stops after
    that many seconds and ``stopped_at_s`` says so.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioDecodeError(f"{path}: no such file")
    try:
        container = open_media(path)
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise AudioDecodeError(f"{path}: not a readable media file ({exc})") from exc
    with container:
        audio_streams = [s for s in container.streams if s.type == "audio"]
        if not audio_streams:
            raise NoAudioStreamError(
                f"{path}: the file has no audio stream "
                f"(streams: {', '.join(s.type for s in container.streams) or 'none'})"
            )
        if stream_index is None:
            stream = best_stream(container, "audio")
        else:
            matches = [s for s in audio_streams if s.index == stream_index]
            if not matches:
                raise NoAudioStreamError(
                    f"{path}: stream {stream_index} is not an audio stream; audio streams are "
                    f"{[s.index for s in audio_streams]}"
                )
            stream = matches[0]
        if stream is None or stream.codec_context is None:
            raise AudioDecodeError(f"{path}: the audio is in a codec FFmpeg cannot decode "
                                   "(an unknown or damaged codec tag)")
        native_rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        native_channels = int(stream.codec_context.channels or 0)
        if native_rate <= 0:
            raise AudioDecodeError(f"{path}: audio stream {stream.index} declares no sample rate")
        out_rate = int(target_rate or native_rate)
        limit = int(max_duration_s * out_rate) + out_rate  # one second of slack
        guard = _Guard(limit, path, max_duration_s, None if examine_s is None else int(examine_s * out_rate))
        samples, check = _decode_mono(container, stream, out_rate, guard)
        codec = stream.codec_context.name or "unknown"
        index = stream.index
        note = None
        cancel = check.cancellation() if check is not None else None
        if cancel is not None:
            # Channels in opposite phase: a listener hears the voice, a mono mix is silence.
            loudest = check.loudest
            try:
                container.seek(0)
                samples, _ = _decode_mono(container, stream, out_rate, guard, channel=loudest)
                note = f"channel {loudest + 1} of {len(check.power)} was analysed: {cancel}"
            except (av.error.FFmpegError, AudioDecodeError) as exc:  # keep the mix, and say why it is quiet
                note = f"{cancel}; the channels could not be read one at a time ({exc})"
    if samples.size == 0:
        raise AudioDecodeError(f"{path}: the audio stream decoded to zero samples")
    sample_note = _repair_samples(samples, out_rate)
    np.clip(samples, -1.0, 1.0, out=samples)
    return DecodedAudio(
        samples=samples,
        sample_rate=out_rate,
        native_rate=native_rate,
        native_channels=native_channels,
        codec=codec,
        stream_index=index,
        channel_note=note,
        sample_note=sample_note,
        stopped_at_s=examine_s if guard.stopped else None,
    )


# Floating-point audio can hold what no player plays as stored. A handful of
# NaN samples made every audio detector read "0.0 s of speech" (the VAD and
# the noise estimate turn to NaN), and samples at 1e30 clipped to a square
# wave read as "speech -300 dB above the noise": either would let a forger
# switch the audio detectors off. Non-finite samples are read as silence;
# audio peaking beyond OVER_FULL_SCALE is scaled down to full scale instead
# of clipped (a little over full scale is clipped, as a player would).
OVER_FULL_SCALE = 2.0
# Sound below 20 Hz (a DC offset, infrasound) is inaudible, but the blind
# noise estimate counts it as steady noise: an offset of 0.4 or a 5 Hz sine
# under real speech made voice_clone and speaker_claim decline ("speech only
# -6 dB above steady background noise"). When the power of 25 ms block means
# (content under ~20 Hz) exceeds INFRASOUND_SHARE of the total, it is
# removed by a 4th-order Butterworth high-pass at HIGH_PASS_HZ. An offset
# needs about 6 % of the power to push voice_clone's noise estimate under
# its 15 dB gate, so 3 % leaves a margin; of 719 ordinary recordings on this
# machine (shared media, asterisk, KLettres, pocketsphinx) 40 exceed it,
# mostly KLettres home recordings with a DC offset (up to 75 % of their
# power), which the estimate misread as noise too. The rest are left
# bit-identical: most measurements were made on them.
# The filter's corner sits at 40 Hz, not at 20 Hz (session 24): a 20 Hz sine at
# the speech's own level, only halved by a 20 Hz corner, still read as
# "speech 9 dB above the noise" and made the speaker check decline for an
# impostor (found by a red-team helper); at 40 Hz tones up to ~30 Hz at that
# level read 13-27 dB and speech (voices start near 60-80 Hz) loses < 0.2 dB.
INFRASOUND_HZ = 20.0  # what the block means detect (and what the note names)
HIGH_PASS_HZ = 40.0
INFRASOUND_BLOCK_S = 0.025
INFRASOUND_SHARE = 0.03
INFRASOUND_CHUNK = 1 << 22  # samples measured at a time


def _infrasound_share(samples: np.ndarray, rate: int) -> float:
    """Power of 25 ms block means over total power, a chunk at a time (two
    hours whole in float64 would take ~1 GB)."""
    n = max(1, int(INFRASOUND_BLOCK_S * rate))
    m = samples.size // n
    if m == 0:
        return 0.0
    step = max(1, INFRASOUND_CHUNK // n) * n
    total = low = 0.0
    for a in range(0, m * n, step):
        blocks = samples[a:min(a + step, m * n)].reshape(-1, n).astype(np.float64)
        total += float(np.einsum("ij,ij->", blocks, blocks))
        means = blocks.mean(axis=1)
        low += float(means @ means) * n
    return low / total if total > 0 else 0.0


def _remove_infrasound(samples: np.ndarray, rate: int) -> None:
    from scipy.signal import butter

    filter_chunked(samples, butter(4, HIGH_PASS_HZ, btype="highpass", fs=rate, output="sos"), out=samples)


def _repair_samples(samples: np.ndarray, rate: int) -> str | None:
    """Repair ``samples`` in place; what was done, in words, or None."""
    notes = []
    if not np.isfinite(np.sum(samples, dtype=np.float64)):  # a NaN or infinity anywhere (no full-size mask otherwise)
        bad = ~np.isfinite(samples)
        n_bad = int(bad.sum())
        samples[bad] = 0.0
        notes.append(f"{n_bad} samples ({n_bad / rate:.3f} s) were not numbers (NaN or infinite) and were read as "
                     "silence")
    peak = max(float(samples.max()), -float(samples.min()))
    if peak > OVER_FULL_SCALE:
        samples *= np.float32(1.0 / peak)
        notes.append(f"the samples peaked at {peak:.3g} times full scale (floating-point audio far beyond +-1) and "
                     "were scaled down to full scale")
    share = _infrasound_share(samples, rate)
    if share > INFRASOUND_SHARE:
        _remove_infrasound(samples, rate)
        notes.append(f"{100 * share:.0f} % of the signal's power lay below {INFRASOUND_HZ:.0f} Hz (a DC offset or "
                     "infrasound: inaudible) and was filtered out before analysis")
    hum = remove_hum(samples, rate)
    if hum is not None:
        notes.append(hum)
    return "; ".join(notes) or None


# A mono mix this far below the loudest channel's power (-13 dB) means the
# channels cancel: a file whose right channel is the left one inverted sounds
# normal to a listener and is silence to every detector reading a mono mix.
# One silent channel costs a mix only 6 dB, uncorrelated channels 3 dB.
CANCELLED_MIX = 0.05
# The same test per decoded frame catches a cancelled stretch (only the
# spliced sentence inverted): this much audible sound (louder than -40 dBFS)
# cancelling in the mix is enough to read the loudest channel instead.
CANCELLED_MIN_S = 1.0
AUDIBLE_POWER = 1e-4
# Channel powers are measured on every POWER_EVERY-th decoded frame (about
# 85 ms apart for AAC at 48 kHz): that keeps the check to ~+25 ms on a 60 s
# stereo call and still sees a 1 s cancelled stretch.
POWER_EVERY = 4


@dataclass
class _ChannelCheck:
    """Channel powers and the power of their plain average (a mono mix),
    measured on a sample of the decoded frames of a multi-channel stream."""

    power_sum: np.ndarray
    mix_sum: float = 0.0
    n: int = 0
    cancelled_s: float = 0.0  # audible sound whose channels cancel in the mix

    def add(self, sq: np.ndarray, mix_sq: float, n: int, seconds: float) -> None:
        self.power_sum += sq
        self.mix_sum += mix_sq
        self.n += n
        loud = float(sq.max()) / n
        if loud > AUDIBLE_POWER and mix_sq / n < CANCELLED_MIX * loud:
            self.cancelled_s += seconds

    @property
    def power(self) -> np.ndarray:
        return self.power_sum / max(self.n, 1)

    @property
    def loudest(self) -> int:
        return int(np.argmax(self.power_sum))

    def cancellation(self) -> str | None:
        """Why the mono mix hides the channels' content, or None when it does not."""
        top = float(self.power[self.loudest])
        mix = self.mix_sum / max(self.n, 1)
        if top > 0 and mix < CANCELLED_MIX * top:
            where = f"in a mono mix ({10 * np.log10(max(mix, 1e-20) / top):.0f} dB)"
        elif self.cancelled_s >= CANCELLED_MIN_S:
            where = f"in a mono mix for {self.cancelled_s:.1f} s of audible sound"
        else:
            return None
        return (f"the channels cancel each other {where}, which hides their content "
                "from mono analysis - a sign of deliberate processing or of a wiring fault")


_SAMPLE_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9.223372036854776e18, "flt": 1.0, "dbl": 1.0}


def _channel_square_sums(frame) -> tuple[np.ndarray | None, float, int]:
    """Per-channel sums of squared samples of a decoded frame and that of the
    channels' average (a plain mono mix), in [-1, 1] units, read straight from
    its native format (no resampling: this runs on a sample of the frames of
    every multi-channel file)."""
    name = frame.format.name
    if name == "fltp":  # what AAC, Opus, MP3 and Vorbis decoders give: read the planes in place
        planes = [np.frombuffer(pl, np.float32, count=frame.samples) for pl in frame.planes]
        m = planes[0].copy()
        for pl in planes[1:]:
            m += pl
        m *= 1.0 / len(planes)
        return np.array([float(np.dot(pl, pl)) for pl in planes]), float(np.dot(m, m)), int(frame.samples)
    scale = _SAMPLE_SCALE.get(name.rstrip("p"))
    if scale is None:
        return None, 0.0, 0
    arr = frame.to_ndarray()
    if not frame.format.is_planar:
        arr = arr.reshape(-1, frame.layout.nb_channels).T
    x = arr.astype(np.float32)
    if name.startswith("u8"):
        x -= 128.0
    x /= scale
    m = x.mean(axis=0)
    return np.einsum("ij,ij->i", x, x).astype(np.float64), float(np.dot(m, m)), int(x.shape[1])


@dataclass
class _Guard:
    """Where a decode ends: refused past ``limit`` samples (``max_duration_s``),
    or cut at ``stop`` samples (``examine_s``), noted in ``stopped``."""

    limit: int
    path: Path
    max_duration_s: float
    stop: int | None = None
    stopped: bool = False

    def reached(self, total: int) -> bool:
        """True when decoding should end; raises past the refusal limit."""
        if self.stop is not None and total > self.stop:
            self.stopped = True
            return True
        if total > self.limit:
            raise AudioTooLongError(
                f"{self.path}: the audio is longer than {_hours(self.max_duration_s)}, the duration guard that bounds "
                "memory and time: cut the recording into parts of at most that length and verify each part"
            )
        return False

    def cut(self, samples: np.ndarray) -> np.ndarray:
        return samples[: self.stop] if self.stopped else samples


def _hours(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} hours ({seconds:.0f} s)"
    return f"{seconds:g} s"


def _decode_mono(container, stream, out_rate: int, guard: _Guard,
                 channel: int | None = None) -> tuple[np.ndarray, _ChannelCheck | None]:
    """Mono samples at ``out_rate`` (FFmpeg's mix, or one ``channel``) and,
    for a multi-channel mix, the channel check (None otherwise)."""
    mono = channel is None
    resampler = av.AudioResampler(format="flt", layout="mono", rate=out_rate) if mono else None
    planar: av.AudioResampler | None = None  # per-channel view at out_rate
    check: _ChannelCheck | None = None
    chunks: list[np.ndarray] = []
    total = frames_seen = 0
    try:
        for frame in container.decode(stream):
            frame.pts = None  # let the resamplers ignore broken timestamps
            frames_seen += 1
            if mono and frame.layout.nb_channels > 1 and frames_seen % POWER_EVERY == 1:  # a sample of the frames is enough
                sq, mix_sq, n = _channel_square_sums(frame)
                if sq is not None and n:
                    check = check or _ChannelCheck(np.zeros(len(sq)))
                    if len(sq) == len(check.power_sum):  # a frame with another channel count is left out
                        # this frame stands for itself and the skipped ones
                        check.add(sq, mix_sq, n, POWER_EVERY * n / float(frame.sample_rate or 1))
            elif not mono:
                if planar is None:
                    planar = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=out_rate)
                for out in planar.resample(frame):
                    arr = out.to_ndarray()
                    chunks.append(np.ascontiguousarray(arr[min(channel, arr.shape[0] - 1)]))
                    total += arr.shape[1]
            if mono:
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
            if guard.reached(total):
                break
        flush = [] if guard.stopped else resampler.resample(None) if mono else planar.resample(None) if planar else []
        for out in flush:
            arr = out.to_ndarray()
            chunks.append(arr.reshape(-1) if mono else np.ascontiguousarray(arr[min(channel, arr.shape[0] - 1)]))
    except AudioDecodeError:
        raise
    except (av.error.FFmpegError, ValueError) as exc:
        raise AudioDecodeError(f"{guard.path}: audio stream {stream.index} failed to decode ({exc})") from exc
    samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    return guard.cut(samples), check
