"""CBOR (RFC 8949) decoded as it is written, for reading signature headers an attacker writes.

Why not a general CBOR library: one interprets tags (a decimal fraction with a huge exponent
raised ``decimal.Overflow`` from an unsigned COSE header nobody checks) and keeps one value per
map key, so a header carrying ``x5chain`` twice showed the reader a different certificate than
the one c2pa verified. Here maps are lists of (key, value) pairs in the order written, tags are
kept as ``Tagged`` without meaning, and every length is checked against the bytes there are.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 512  # deeper than c2pa's own CBOR reader goes (it took 250): what it reads, this reads
_BREAK = 0xFF


class CborError(ValueError):
    """The bytes are not one well-formed CBOR item."""


@dataclass(frozen=True)
class Tagged:
    tag: int
    value: Any


class Pairs(list):
    """A CBOR map: its (key, value) pairs in the order written, duplicates kept."""

    def values_of(self, *keys: Any) -> list[Any]:
        return [v for k, v in self if any(type(k) is type(want) and k == want for want in keys)]


def decode(data: bytes) -> Any:
    value, end = _item(data, 0, 0)
    if end != len(data):
        raise CborError(f"{len(data) - end} bytes after the CBOR item")
    return value


def _head(data: bytes, at: int) -> tuple[int, int | None, int]:
    if at >= len(data):
        raise CborError("truncated")
    major, info = data[at] >> 5, data[at] & 31
    at += 1
    if info < 24:
        return major, info, at
    if info in (24, 25, 26, 27):
        width = 1 << (info - 24)
        if at + width > len(data):
            raise CborError("truncated")
        return major, int.from_bytes(data[at:at + width], "big"), at + width
    if info == 31 and major in (2, 3, 4, 5, 7):
        return major, None, at  # indefinite length (or, major 7, a break)
    raise CborError(f"reserved additional information {info}")


def _item(data: bytes, at: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise CborError("nested too deeply")
    start = at
    major, arg, at = _head(data, at)
    if major == 0:
        return arg, at
    if major == 1:
        return -1 - arg, at
    if major in (2, 3):
        if arg is None:
            chunks = []
            while data[at:at + 1] != bytes([_BREAK]):
                chunk_major, size, at = _head(data, at)
                if chunk_major != major or size is None:
                    raise CborError("bad chunk in an indefinite-length string")
                chunks.append(_slice(data, at, size))
                at += size
            raw, at = b"".join(chunks), at + 1
        else:
            raw, at = _slice(data, at, arg), at + arg
        if major == 2:
            return raw, at
        try:
            return raw.decode("utf-8"), at
        except UnicodeDecodeError:
            raise CborError("text string is not UTF-8") from None
    if major in (4, 5):
        items: list[Any] = []
        per = 2 if major == 5 else 1
        count = None if arg is None else arg * per
        if count is not None and count > len(data) - at:  # every item takes at least one byte
            raise CborError("more items declared than bytes remain")
        while (count is None and data[at:at + 1] != bytes([_BREAK])) or (count is not None and len(items) < count):
            value, at = _item(data, at, depth + 1)
            items.append(value)
        if count is None:
            if at >= len(data) or len(items) % per:
                raise CborError("truncated indefinite-length container")
            at += 1
        if major == 4:
            return items, at
        return Pairs(zip(items[0::2], items[1::2])), at
    if major == 6:
        value, at = _item(data, at, depth + 1)
        return Tagged(arg, value), at
    # major 7: simple values and floats
    if arg is None:
        raise CborError("break outside an indefinite-length item")
    info = data[start] & 31
    if info in (25, 26, 27):
        return struct.unpack({25: ">e", 26: ">f", 27: ">d"}[info], data[start + 1:at])[0], at
    return {20: False, 21: True, 22: None, 23: None}.get(arg, Tagged(-1, arg)), at  # other simple values


def _slice(data: bytes, at: int, size: int) -> bytes:
    if size > len(data) - at:
        raise CborError("string longer than the bytes that remain")
    return data[at:at + size]
