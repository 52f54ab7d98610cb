"""Unsigned metadata hints: encoder and software tags, IPTC digital source type.

Anyone can write or strip these, so they never decide a verdict; they are
reported as hints (and an unsigned "made by an AI generator" tag is worth
showing an editor). Only the first ``SCAN_BYTES`` of the file are scanned, so
this costs the same on a 1 GB file as on a 1 MB one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from provenance.isobox import box_header
from verifier.evidence import MediaInfo, MetadataHints

SCAN_BYTES = 512 * 1024

_DST_URI = b"/digitalsourcetype/"
# IPTC digital source types that declare synthetic (generated) content; C2PA's own namespace
# adds trainedAlgorithmicData. Signed ones decide a verdict (``c2pa_reader``), these hints do not.
SYNTHETIC_SOURCE_TYPES = frozenset({
    "trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia", "compositeSynthetic",
    "trainedAlgorithmicData",
})
_XMP_TOOL = re.compile(rb"xmp:CreatorTool(?:>|=[\"'])\s*([^<\"']{2,80})")
_EXIF_SOFTWARE_KEYS = ("software", "encoder", "encoded_by", "creation_tool", "comment", "handler_name")
# Strings generators leave in unsigned metadata (PNG text chunks, XMP, tags).
_AI_MARKERS = (
    "stable diffusion", "midjourney", "dall-e", "dall·e", "firefly", "imagen", "novelai",
    "comfyui", "automatic1111", "trainedalgorithmicmedia", "sora", "runway", "elevenlabs",
)


def _ai_marker(text: str) -> str | None:
    low = text.lower()
    return next((m for m in _AI_MARKERS if m in low), None)


# ISO BMFF top-level boxes a C2PA hash leaves out by default (c2pa's own manifest box is one
# uuid box); bytes in them are not signed, and a "free" or "skip" box can hold a whole file.
_BMFF_TYPES = ("video/mp4", "video/quicktime", "video/3gpp", "audio/mp4", "image/heic", "image/heif", "image/avif")
_UNSIGNED_BOXES = {b"free", b"skip", b"mfra"}
_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
MAX_TOP_BOXES = 10_000


def unsigned_box_bytes(path: Path) -> int:
    """Bytes in an ISO BMFF file's top-level boxes that a C2PA hash excludes by default (free,
    skip, mfra, C2PA uuid boxes after the first), not counting the zeros of padding: a signed
    MP4 whose trailing "skip" box held a second, complete video read as authentic."""
    total, seen_c2pa = 0, False
    try:
        with open(path, "rb") as fh:
            end = os.fstat(fh.fileno()).st_size
            at = 0
            for _ in range(MAX_TOP_BOXES):
                fh.seek(at)
                head = fh.read(24)
                if (box := box_header(head, end - at)) is None:
                    break
                kind, size = box.kind, box.size
                if kind == b"uuid":  # only C2PA's own uuid boxes are left out (XMP's is hashed)
                    if head[8:24] == _C2PA_UUID:
                        total += min(size, end - at) if seen_c2pa else 0
                        seen_c2pa = True
                elif kind == b"mfra":
                    total += min(size, end - at)
                elif kind in _UNSIGNED_BOXES:
                    total += _content_bytes(fh, at + 8, min(size, end - at) - 8)
                at += size
    except OSError:
        return 0
    return total


def _content_bytes(fh, start: int, length: int) -> int:
    """Bytes other than zero in a box: encoders reserve zeroed "free" space to rewrite headers in
    place (Premiere leaves 45 KB, a few header bytes in it); that is room, not content."""
    fh.seek(start)
    content = 0
    while length > 0 and (chunk := fh.read(min(length, 1 << 20))):
        content += len(chunk) - chunk.count(0)
        length -= len(chunk)
    return content


def read_hints(path: Path, media: MediaInfo) -> MetadataHints:
    software: list[str] = []
    encoder = None
    tags = dict(media.tags)
    for s in media.streams:
        tags.update({f"stream{s.index}.{k}": v for k, v in s.tags.items()})
    for key, value in tags.items():
        short = key.rsplit(".", 1)[-1].lower()
        if short == "encoder" and encoder is None:
            encoder = value
        elif short in _EXIF_SOFTWARE_KEYS and value and value not in software:
            software.append(value[:120])
    try:
        with open(path, "rb") as fh:
            head = fh.read(SCAN_BYTES)
    except OSError:
        head = b""
    # Every source type named in the head, not the first: a signed file's manifest names its
    # own before the XMP, and a comment segment can be planted ahead of the XMP to hide it.
    # A synthetic one wins. Plain find() on the lowered head: a regex over 512 KiB cost 25 ms.
    named: list[str] = []
    low = head.lower()
    at = low.find(_DST_URI)
    while at >= 0 and len(named) < 64:
        word = re.match(rb"[A-Za-z]+", head[at + len(_DST_URI):at + len(_DST_URI) + 64])
        if word:
            named.append(word.group(0).decode("ascii"))
        at = low.find(_DST_URI, at + 1)
    dst = next((d for d in named if d in SYNTHETIC_SOURCE_TYPES), named[0] if named else None)
    if b"CreatorTool" in head and (m := _XMP_TOOL.search(head)):
        tool = m.group(1).decode("utf-8", "replace").strip()
        if tool and tool not in software:
            software.append(tool)
    marker = None
    if dst in SYNTHETIC_SOURCE_TYPES:
        marker = f"IPTC digital source type {dst}"
    else:
        for text in [*software, encoder or ""]:
            if found := _ai_marker(text):
                marker = f"software tag mentions {found}"
                break
        if marker is None and media.mime_type == "image/png" and b"tEXtparameters\x00" in head:
            marker = "PNG 'parameters' text chunk (written by Stable Diffusion front ends)"
    unsigned = unsigned_box_bytes(path) if media.mime_type in _BMFF_TYPES else 0
    return MetadataHints(encoder=encoder, software=software, iptc_digital_source_type=dst, ai_generator_hint=marker,
                         unsigned_container_bytes=unsigned)
