"""Untrusted text made safe to show: file names, tags and manifest strings.

A manifest's claim generator, a certificate's subject or a file name is written by
whoever made the file. Shown raw, a control character can move a terminal's cursor
and overwrite the verdict line, a newline (or U+2028, which log viewers and Python's
``splitlines`` break on) can forge an extra row, a bidi override (U+202E) can make
``photo‮gnp.exe`` read as another name, and a run of spaces can push text to the start
of the next screen line. Control, format (bidi, zero-width) and line/paragraph separator
characters are shown as ``\\uXXXX`` escapes and runs of spaces are counted, so the text
stays unambiguous and nothing it holds acts on the reader's screen. Markup (rich's
``[...]``, HTML) is the caller's to escape.
"""

from __future__ import annotations

import re
import unicodedata

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_SPACE_RUN = re.compile(r" {3,}")


def _escape(ch: str) -> str:
    if unicodedata.category(ch) not in _ESCAPED_CATEGORIES:
        return ch
    return f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}"


def visible(text: str) -> str:
    shown = "".join(_escape(ch) for ch in text) if not text.isascii() or not text.isprintable() else text
    return _SPACE_RUN.sub(lambda m: f" ({len(m.group())} spaces) ", shown)
