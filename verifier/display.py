"""Untrusted text made safe to show: file names, tags and manifest strings.

A manifest's claim generator, a certificate's subject or a file name is written by
whoever made the file. Shown raw, a control character can move a terminal's cursor
and overwrite the verdict line, a newline can forge an extra row, and a bidi override
(U+202E) can make ``photo‮gnp.exe`` read as another name. Such characters are shown as
``\\uXXXX`` escapes: the text stays unambiguous and nothing it holds acts on the reader's
screen. Markup (rich's ``[...]``, HTML) is the caller's to escape.
"""

from __future__ import annotations

import re

# C0 and C1 controls (newline and tab included: a shown value is one line), DEL, and the
# invisible direction marks, embeddings, overrides and isolates of Unicode's bidi algorithm.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
