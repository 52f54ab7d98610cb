"""Enrolment: named reference faces, and comparing a video's faces with the
person it claims to show.

A reference is a small JSON file per person (embeddings of one or more
photos, the photos' SHA-256, the embedding model's SHA-256) in a folder the
caller chooses, e.g. ``<data_dir>/references``. Embeddings, not photos, are
stored: enough to compare, and less sensitive to keep. Re-enrolling a name
adds photos; a model change invalidates old references (the hash is checked).

Not wired into the CLI yet: ``verifier enroll NAME --face PHOTO`` would call
``ReferenceStore(dir).enroll(NAME, [PHOTO])`` and ``verify --claimed-person
NAME`` would pass ``claimed_person`` and ``reference_dir`` in
``DetectorContext.options`` for ``face_identity_claim``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.face_swap import models
from detectors.identity.embeddings import embed_face, find_faces
from detectors.still_image import ImageReadError, load_image_rgb

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


def reference_file(root: Path, name: str) -> Path:
    """Where ``name``'s reference lives under ``root`` (faces and voices use
    the same rule): a hash of the name, so no name can escape the folder."""
    if not _NAME.match(name):
        raise EnrolmentError(f"invalid person name {name!r}: use letters, digits, space, '_', '.', '-' (max 64)")
    return Path(root) / (hashlib.sha256(name.encode()).hexdigest()[:16] + ".json")


class EnrolmentError(ValueError):
    """A reference could not be created or used; the message says what to fix."""


class UnknownPersonError(EnrolmentError):
    """No reference is enrolled under that name."""


class StaleReferenceError(EnrolmentError):
    """A reference exists but was made by another model or preparation: it
    cannot be compared, and enrolling again replaces it."""


@dataclass(frozen=True)
class Reference:
    name: str
    embeddings: np.ndarray  # (n, 128)
    photo_sha256: tuple[str, ...]
    model_sha256: str

    @property
    def center(self) -> np.ndarray:
        return self.embeddings.mean(axis=0)


class ReferenceStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        return reference_file(self.root, name)

    def enroll(self, name: str, photos: list[Path]) -> Reference:
        self._path(name)  # validate the name before the (slow) face analysis
        if not photos:
            raise EnrolmentError("enrol needs at least one face photo")
        embs, shas = [], []
        for p in photos:
            data = Path(p).read_bytes()
            try:
                rgb = load_image_rgb(data)
            except ImageReadError as exc:
                raise EnrolmentError(f"{p}: {exc}") from exc
            found = find_faces(rgb)
            if len(found) != 1:
                raise EnrolmentError(f"{p}: found {len(found)} faces; enrol with a photo showing exactly one face")
            embs.append(embed_face(rgb, found[0]))
            shas.append(hashlib.sha256(data).hexdigest())
        model = models.model_sha256(models.FACE_EMBEDDING)
        try:
            old = self.load(name)
            embs = list(old.embeddings) + embs
            shas = list(old.photo_sha256) + shas
        except UnknownPersonError:
            pass
        ref = Reference(name, np.array(embs), tuple(shas), model)
        self.root.mkdir(parents=True, exist_ok=True)
        self._path(name).write_text(json.dumps(dict(
            name=name, model_sha256=model, photo_sha256=list(shas), embeddings=[[round(float(v), 6) for v in e] for e in embs],
        )) + "\n")
        return ref

    def load(self, name: str) -> Reference:
        p = self._path(name)
        if not p.is_file():
            raise UnknownPersonError(f"no reference enrolled for {name!r} in {self.root}")
        d = json.loads(p.read_text())
        model = models.model_sha256(models.FACE_EMBEDDING)
        if d["model_sha256"] != model:
            raise EnrolmentError(f"{name!r} was enrolled with another face model; enrol again")
        return Reference(d["name"], np.asarray(d["embeddings"], dtype=np.float64), tuple(d["photo_sha256"]), d["model_sha256"])


def claim_distance(track_vectors: np.ndarray, ref: Reference) -> float:
    """Distance between the track's median identity and the nearest reference photo."""
    center = np.median(track_vectors, axis=0)
    return float(np.min(np.linalg.norm(ref.embeddings - center, axis=1)))
