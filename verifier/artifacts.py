"""Evidence images bound to the verdict record by their SHA-256.

A detector writes its spectrogram, heatmap or sync curve as a file beside the
evidence store; the record names the file. A name is not a commitment: whoever
can write the data directory could swap the picture a court is shown. So the
pipeline seals each image (hash into the record, file made read-only) before
the record is signed into the ledger, and every reader (the HTML report, an
evidence bundle) shows an image only if its bytes still hash to the recorded
value.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

from verifier.evidence import Artifact, Finding

MAX_ARTIFACT_BYTES = 8 << 20  # an evidence image; anything larger is not embedded

# Returns an artifact's bytes, or None when it cannot be shown (absent, too large, altered).
ArtifactSource = Callable[[Artifact], bytes | None]


def _read_capped(path: Path) -> bytes | None:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_ARTIFACT_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_ARTIFACT_BYTES else None


def seal(finding: Finding) -> Finding:
    """The finding with each artifact's SHA-256 recorded and its file made read-only.
    An artifact that cannot be read keeps no hash, and so is never shown."""
    sealed = []
    for art in finding.artifacts:
        data = _read_capped(Path(art.path)) if art.path else None
        if data is None:
            sealed.append(art.model_copy(update={"sha256": None}))
            continue
        try:
            os.chmod(art.path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # type: ignore[arg-type]
        except OSError:
            pass  # read-only is a guard against accidents; the hash is the protection
        sealed.append(art.model_copy(update={"sha256": hashlib.sha256(data).hexdigest()}))
    return finding.model_copy(update={"artifacts": sealed}) if finding.artifacts else finding


def matches(art: Artifact, data: bytes | None) -> bool:
    """Whether ``data`` is the image the record sealed (an unsealed artifact matches nothing)."""
    return data is not None and art.sha256 is not None and hashlib.sha256(data).hexdigest() == art.sha256


def from_files(art: Artifact) -> bytes | None:
    """The artifact's bytes from the path the record names, only if they are the sealed ones."""
    data = _read_capped(Path(art.path)) if art.path else None
    return data if matches(art, data) else None
