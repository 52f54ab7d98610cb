"""What a file is, judged from its bytes, and what its container holds.

The extension is only compared with the sniffed type (a mismatch is recorded
as a hint, not trusted). Probing uses PyAV in-process: FFmpeg's demuxers are
bounded on the hostile files in the conformance corpus (nested boxes, RIFF
bombs) and fail fast with an error we map to a typed record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from audio.decode import best_stream, open_media
from detectors.still_image import ImageReadError, ImageTooLargeError, image_size
from verifier.errors import NotMediaError
from verifier.evidence import MediaInfo, MediaKind, StreamInfo

SNIFF_BYTES = 512  # an MPEG transport stream is recognised by sync bytes 188 bytes apart
# FFmpeg's stream-info probe decodes packets until it has read this much. The
# default (5 MB) makes opening a 50 MB MP4 take ~75 ms; 64 KiB gave identical
# stream parameters on every file of the conformance and development corpora.
PROBE_OPTIONS = {"probesize": "65536"}


@dataclass(frozen=True)
class SniffedType:
    kind: MediaKind
    mime_type: str
    extensions: tuple[str, ...]



MAX_TAGS = 64  # per container or stream
MAX_TAG_CHARS = 1024
MAX_STREAMS_WITH_TAGS = 16  # a container may hold 1000 streams: 300 x 64 tags made a 40 MB record


def bounded_tags(metadata) -> dict[str, str]:
    """Container and stream tags as the record keeps them: at most ``MAX_TAGS``, each key and value
    cut to ``MAX_TAG_CHARS`` with the cut said. The file's maker writes them, and an 8 MB tag
    became 8 MB in every JSON line, report and (append-only) ledger entry."""
    out: dict[str, str] = {}
    for k, v in list((metadata or {}).items())[:MAX_TAGS]:
        key, value = str(k)[:MAX_TAG_CHARS], str(v)
        if len(value) > MAX_TAG_CHARS:
            value = f"{value[:MAX_TAG_CHARS]}... ({len(value)} characters, cut)"
        out[key] = value
    return out

def _bmff_type(head: bytes) -> SniffedType | None:
    if head[4:8] == b"styp":
        return SniffedType(MediaKind.video, "video/iso.segment", (".m4s",))
    if head[4:8] != b"ftyp":
        return None
    brand = head[8:12]
    compatible = head[16:64]
    if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis") or b"heic" in compatible:
        return SniffedType(MediaKind.image, "image/heic", (".heic", ".heif"))
    if brand in (b"avif", b"avis"):
        return SniffedType(MediaKind.image, "image/avif", (".avif",))
    if brand in (b"M4A ", b"M4B ", b"F4A "):
        return SniffedType(MediaKind.audio, "audio/mp4", (".m4a", ".m4b", ".mp4"))
    if brand == b"qt  ":
        return SniffedType(MediaKind.video, "video/quicktime", (".mov", ".qt"))
    return SniffedType(MediaKind.video, "video/mp4", (".mp4", ".m4v", ".mov", ".3gp"))


def _is_mpeg_audio_frame(head: bytes) -> bool:
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    version = (head[1] >> 3) & 0x3
    layer = (head[1] >> 1) & 0x3
    bitrate = head[2] >> 4
    srate = (head[2] >> 2) & 0x3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and srate != 3


def _is_adts_frame(head: bytes) -> bool:
    """Raw AAC (ADTS), as phones and recorders export ``.aac``: a 12-bit sync
    word, layer 00, a valid sampling-rate index and a frame length; when the
    head holds the next frame too, its sync word must follow (random bytes
    starting 0xFFF rarely pass both)."""
    if len(head) < 7 or head[0] != 0xFF or (head[1] & 0xF6) != 0xF0:
        return False
    if (head[2] >> 2) & 0xF > 12:
        return False
    length = ((head[3] & 0x3) << 11) | (head[4] << 3) | (head[5] >> 5)
    if length < 7:
        return False
    if len(head) >= length + 2:
        return head[length] == 0xFF and (head[length + 1] & 0xF6) == 0xF0
    return True


_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def _is_transport_stream(head: bytes, offset: int) -> bool:
    """MPEG-TS packets of 188 bytes (``offset`` 4: Blu-ray/AVCHD .m2ts/.mts,
    whose packets carry a 4-byte timestamp): three sync bytes in step."""
    return len(head) > offset + 376 and all(head[offset + k * (188 + offset)] == 0x47 for k in range(3))


def _recorder_type(head: bytes) -> SniffedType | None:
    """Formats that phones, dictaphones, camcorders and desktop recorders
    write: AMR voice notes, AIFF and CAF from Apple software, Windows Media,
    camcorder and broadcast transport streams, MPEG program streams and FLV.
    Refused as "not media" before, though FFmpeg decodes them all."""
    if head.startswith(b"#!AMR-WB\n"):
        return SniffedType(MediaKind.audio, "audio/amr-wb", (".awb", ".amr"))
    if head.startswith(b"#!AMR\n"):
        return SniffedType(MediaKind.audio, "audio/amr", (".amr", ".3ga"))
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return SniffedType(MediaKind.audio, "audio/aiff", (".aif", ".aiff", ".aifc"))
    if head[:4] == b"caff":
        return SniffedType(MediaKind.audio, "audio/x-caf", (".caf",))
    if head[:16] == _ASF_GUID:
        return SniffedType(MediaKind.video, "video/x-ms-asf", (".wmv", ".wma", ".asf"))
    if head[:3] == b"FLV":
        return SniffedType(MediaKind.video, "video/x-flv", (".flv",))
    if head[:4] == b"\x00\x00\x01\xba":
        return SniffedType(MediaKind.video, "video/mpeg", (".mpg", ".mpeg", ".vob", ".mod"))
    if _is_transport_stream(head, 0) or _is_transport_stream(head, 4):
        return SniffedType(MediaKind.video, "video/mp2t", (".ts", ".mts", ".m2ts", ".m2t"))
    return None


def sniff(head: bytes) -> SniffedType | None:
    """Identify the media type from the first bytes; None when it is not media we handle."""
    if head.startswith(b"\xff\xd8\xff"):
        return SniffedType(MediaKind.image, "image/jpeg", (".jpg", ".jpeg", ".jpe"))
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return SniffedType(MediaKind.image, "image/png", (".png",))
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return SniffedType(MediaKind.image, "image/gif", (".gif",))
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return SniffedType(MediaKind.image, "image/tiff", (".tif", ".tiff", ".dng"))
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return SniffedType(MediaKind.image, "image/webp", (".webp",))
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return SniffedType(MediaKind.audio, "audio/wav", (".wav", ".wave"))
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return SniffedType(MediaKind.video, "video/x-msvideo", (".avi",))
    if head[:4] == b"fLaC":
        return SniffedType(MediaKind.audio, "audio/flac", (".flac",))
    if head[:4] == b"OggS":
        return SniffedType(MediaKind.audio, "audio/ogg", (".ogg", ".oga", ".opus"))
    if head[:3] == b"ID3" or _is_mpeg_audio_frame(head):
        return SniffedType(MediaKind.audio, "audio/mpeg", (".mp3",))
    if _is_adts_frame(head):
        return SniffedType(MediaKind.audio, "audio/aac", (".aac", ".adts"))
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return SniffedType(MediaKind.video, "video/x-matroska", (".mkv", ".webm", ".mka"))
    found = _recorder_type(head)
    if found is not None:
        return found
    if len(head) >= 12:
        return _bmff_type(head)
    return None


def sniff_file(path: Path) -> SniffedType:
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head:
        raise NotMediaError(f"{path}: file is empty")
    found = sniff(head)
    if found is None:
        raise NotMediaError(
            f"{path}: not a recognised image, audio or video file (first bytes {head[:8].hex()})"
        )
    return found


def _float(value: object) -> float | None:
    if value is None:
        return None
    try:
        return float(value)  # Fraction, int, float
    except (TypeError, ValueError):
        return None


def _stream_info(stream: av.stream.Stream, keep_tags: bool = True) -> StreamInfo:
    kind = stream.type if stream.type in ("video", "audio", "subtitle", "data", "attachment") else "unknown"
    ctx = getattr(stream, "codec_context", None)
    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    info: dict[str, object] = {
        "index": stream.index,
        "kind": kind,
        "codec": getattr(ctx, "name", None),
        "decodable": ctx is not None,
        "duration_s": duration,
        "tags": bounded_tags(stream.metadata) if keep_tags else {},
    }
    if kind == "video" and ctx is not None:
        rate = stream.average_rate or stream.guessed_rate
        info.update(width=ctx.width or None, height=ctx.height or None, frame_rate=_float(rate))
    if kind == "audio" and ctx is not None:
        info.update(sample_rate=ctx.sample_rate or None, channels=ctx.channels or None)
    return StreamInfo(**info)  # type: ignore[arg-type]


def _too_large_to_decode(path: Path) -> bool:
    """The image's header declares more pixels than any detector decodes
    (``detectors.still_image.MAX_PIXELS``). Read by Pillow without decoding:
    FFmpeg's probe decodes the picture to learn its pixel format, which a
    2 MB PNG declaring 16000 x 16000 16-bit pixels turned into 2 GB. A header
    Pillow cannot read (HEIC, AVIF) is left to FFmpeg, which probes under the
    same limit (``audio.decode.DECODER_LIMITS``)."""
    try:
        image_size(path)
    except ImageTooLargeError:
        return True
    except ImageReadError:
        return False
    return False


def _undecoded_picture() -> StreamInfo:
    """The one picture of an image too large to decode: the file is still
    verified (its provenance does not need the pixels), and each detector
    that needs them says that they were too many."""
    return StreamInfo(index=0, kind="video", presented=True)


def probe(path: Path, sniffed: SniffedType, display_name: str | None = None) -> MediaInfo:
    """Probe the container. A container FFmpeg refuses still yields a MediaInfo
    (from the sniffed type) with ``probe_error`` set: provenance may still be
    readable, and the verdict must say what could not be examined."""
    name = display_name or path.name
    suffix = Path(name).suffix.lower()
    mismatch = bool(suffix) and suffix not in sniffed.extensions
    base = {"kind": sniffed.kind, "mime_type": sniffed.mime_type, "extension_mismatch": mismatch}
    if sniffed.kind == MediaKind.image and _too_large_to_decode(path):
        return MediaInfo(**base, streams=[_undecoded_picture()])
    try:
        with open_media(path, PROBE_OPTIONS) as container:  # under the decoders' pixel limit
            presented = {best.index for kind in ("video", "audio") if (best := best_stream(container, kind)) is not None}
            streams = [_stream_info(s, keep_tags=i < MAX_STREAMS_WITH_TAGS).model_copy(update={"presented": s.index in presented})
                       for i, s in enumerate(container.streams)]
            duration = container.duration / av.time_base if container.duration else None
            tags = bounded_tags(container.metadata)
            fmt = container.format.name
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        # FFmpeg names the file it was given: a temporary copy the user never
        # saw, gone by the time anyone reads the record.
        message = str(exc).replace(str(path), name)
        return MediaInfo(**base, probe_error=f"container could not be parsed: {message}")
    if sniffed.kind == MediaKind.image:
        duration = None  # image2 reports a nominal 0.04 s
    elif sniffed.kind == MediaKind.video and not any(s.kind == "video" for s in streams):
        base["kind"] = MediaKind.audio  # an MP4 holding only audio is an audio file
    return MediaInfo(**base, container=fmt, duration_s=duration, streams=streams, tags=tags)


__all__ = ["SniffedType", "sniff", "sniff_file", "probe"]
