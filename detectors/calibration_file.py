"""Reading a detector's shipped calibration JSON.

Every hand-made detector ships its calibration as a JSON file whose SHA-256
is the detector's ``weights_sha256`` (the exact bytes read, so the hash in a
finding is the hash of what computed it). A missing or malformed file must
name the command that writes it again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def load_calibration_json(path: Path, build: Callable[[dict[str, Any], str], T], error: type[Exception],
                          what: str, regenerate: str) -> T:
    """``build(document, sha256_of_the_bytes)``; any missing key, wrong type
    or unreadable file becomes ``error`` with a message that says what to run."""
    try:
        raw = path.read_bytes()
        return build(json.loads(raw), hashlib.sha256(raw).hexdigest())
    except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise error(f"{path}: cannot load the {what} ({exc}); rerun `{regenerate}`") from exc
