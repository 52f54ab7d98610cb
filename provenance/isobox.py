"""ISO base media box headers (ISO/IEC 14496-12 §4.2), shared by the BMFF container scan and
the JUMBF manifest-store reader (JUMBF boxes use the same header)."""

from __future__ import annotations

import struct
from typing import NamedTuple


class BoxHeader(NamedTuple):
    kind: bytes
    size: int  # of the whole box, header included
    header: int  # header length: 8, or 16 with a 64-bit size


def box_header(head: bytes, remaining: int) -> BoxHeader | None:
    """The header at the start of ``head`` for a box with ``remaining`` bytes left in its
    container: size 1 means a 64-bit size follows, size 0 means "to the end". None when the
    header is truncated or declares less than itself."""
    if len(head) < 8:
        return None
    size, kind = struct.unpack_from(">I4s", head)
    header = 8
    if size == 1:
        if len(head) < 16:
            return None
        size, header = struct.unpack_from(">Q", head, 8)[0], 16
    elif size == 0:
        size = remaining
    return BoxHeader(kind, size, header) if size >= header else None
