"""Byte-level and structure-aware mutations of media files, for fuzzing `verify`.

Why structure-aware as well as random: a random byte flip in a 2 MB MP4 almost
always lands in compressed payload, which decoders are built to survive. The
bugs live where a parser trusts a size or a count - an MP4 box length, a WAV
chunk size, JPEG or PNG dimensions - so some mutators aim at exactly those
fields. Every mutation is a pure function of (data, rng): a case is replayed
from its seed.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np

Mutator = Callable[[bytes, np.random.Generator], bytes]

_BIG_U32 = (0, 1, 7, 8, 0x7FFFFFFF, 0xFFFFFFFF, 0x10000, 0x00FFFFFF)
_BOX_TYPES = (b"ftyp", b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"stsz", b"stco", b"co64",
              b"stts", b"stsc", b"mdat", b"mvhd", b"tkhd", b"mdhd", b"hdlr", b"uuid", b"jumb", b"esds", b"avcC")


def flip_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    for _ in range(int(rng.integers(1, 33))):
        i = int(rng.integers(0, len(b)))
        b[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(b)


def truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(1, len(data)))]


def zero_range(data: bytes, rng: np.random.Generator) -> bytes:
    i = int(rng.integers(0, len(data)))
    n = int(rng.integers(1, max(2, len(data) // 8)))
    return data[:i] + bytes(min(n, len(data) - i)) + data[i + n:]


def random_range(data: bytes, rng: np.random.Generator) -> bytes:
    i = int(rng.integers(0, len(data)))
    n = int(rng.integers(1, 4096))
    return data[:i] + rng.bytes(min(n, len(data) - i)) + data[i + n:]


def duplicate_chunk(data: bytes, rng: np.random.Generator) -> bytes:
    i = int(rng.integers(0, len(data)))
    n = int(rng.integers(1, max(2, len(data) // 4)))
    j = int(rng.integers(0, len(data)))
    return data[:j] + data[i:i + n] + data[j:]


def delete_chunk(data: bytes, rng: np.random.Generator) -> bytes:
    i = int(rng.integers(0, len(data)))
    n = int(rng.integers(1, max(2, len(data) // 4)))
    return data[:i] + data[i + n:]


def keep_header(data: bytes, rng: np.random.Generator) -> bytes:
    """The right magic number, then garbage: passes sniffing, fails everywhere after."""
    head = int(rng.integers(4, 513))
    return data[:head] + rng.bytes(int(rng.integers(0, 65536)))


def _box_offsets(data: bytes) -> list[int]:
    """Offsets of the size fields of ISO-BMFF boxes (anything followed by a known box type)."""
    found: list[int] = []
    for t in _BOX_TYPES:
        start = 0
        while (k := data.find(t, start)) != -1 and len(found) < 4096:
            if k >= 4:
                found.append(k - 4)
            start = k + 1
    return found


def bmff_box_size(data: bytes, rng: np.random.Generator) -> bytes:
    offsets = _box_offsets(data)
    if not offsets:
        return flip_bytes(data, rng)
    b = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        at = offsets[int(rng.integers(0, len(offsets)))]
        if rng.random() < 0.5:
            value = _BIG_U32[int(rng.integers(0, len(_BIG_U32)))]
        else:
            (old,) = struct.unpack(">I", b[at:at + 4])
            value = max(0, min(0xFFFFFFFF, old + int(rng.integers(-64, 65))))
        b[at:at + 4] = struct.pack(">I", value)
    return bytes(b)


def bmff_table_count(data: bytes, rng: np.random.Generator) -> bytes:
    """Entry counts of sample tables (stsz/stco/stts/stsc): the classic allocation bomb."""
    b = bytearray(data)
    hits = [k for t in (b"stsz", b"stco", b"stts", b"stsc", b"co64", b"stss")
            for k in range(len(b)) if b[k:k + 4] == t][:64] if len(b) < 4_000_000 else []
    if not hits:
        return bmff_box_size(data, rng)
    k = hits[int(rng.integers(0, len(hits)))]
    at = k + 8 if b[k:k + 4] != b"stsz" else k + 12  # after version/flags (and stsz's sample size)
    if at + 4 <= len(b):
        b[at:at + 4] = struct.pack(">I", _BIG_U32[int(rng.integers(0, len(_BIG_U32)))])
    return bytes(b)


def riff_fields(data: bytes, rng: np.random.Generator) -> bytes:
    """WAV: the RIFF size, the data size, channels, rate, block align, bits per sample."""
    if data[:4] != b"RIFF":
        return flip_bytes(data, rng)
    b = bytearray(data)
    fmt = data.find(b"fmt ")
    dat = data.find(b"data")
    fields: list[tuple[int, str]] = [(4, "<I")]
    if fmt != -1:
        fields += [(fmt + 4, "<I"), (fmt + 8, "<H"), (fmt + 10, "<H"), (fmt + 12, "<I"), (fmt + 16, "<I"),
                   (fmt + 20, "<H"), (fmt + 22, "<H")]
    if dat != -1:
        fields.append((dat + 4, "<I"))
    at, fmt_code = fields[int(rng.integers(0, len(fields)))]
    limit = 0xFFFF if fmt_code == "<H" else 0xFFFFFFFF
    value = int(rng.choice([0, 1, 3, 255, limit, limit // 2, int(rng.integers(0, limit))]))
    if at + struct.calcsize(fmt_code) <= len(b):
        struct.pack_into(fmt_code, b, at, value)
    return bytes(b)


def image_dimensions(data: bytes, rng: np.random.Generator) -> bytes:
    """JPEG SOF or PNG IHDR width/height set huge or zero: decompression bombs and empty pictures."""
    b = bytearray(data)
    value = int(rng.choice([0, 1, 0xFFFF, 30000, 12000]))
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(b) >= 24:
        struct.pack_into(">I", b, 16 + 4 * int(rng.integers(0, 2)), value)
        return bytes(b)
    if data[:2] == b"\xff\xd8":
        for marker in (b"\xff\xc0", b"\xff\xc2", b"\xff\xc1"):
            k = data.find(marker)
            if k != -1 and k + 9 <= len(b):
                struct.pack_into(">H", b, k + 5 + 2 * int(rng.integers(0, 2)), value)
                return bytes(b)
    return flip_bytes(data, rng)


def splice(data: bytes, rng: np.random.Generator, other: bytes) -> bytes:
    """The head of one file with the tail of another (often another format)."""
    i = int(rng.integers(1, len(data)))
    j = int(rng.integers(0, len(other)))
    return data[:i] + other[j:]


MUTATORS: dict[str, Mutator] = {
    "flip_bytes": flip_bytes,
    "truncate": truncate,
    "zero_range": zero_range,
    "random_range": random_range,
    "duplicate_chunk": duplicate_chunk,
    "delete_chunk": delete_chunk,
    "keep_header": keep_header,
    "bmff_box_size": bmff_box_size,
    "bmff_table_count": bmff_table_count,
    "riff_fields": riff_fields,
    "image_dimensions": image_dimensions,
}
