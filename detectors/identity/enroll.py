"""Enrolment: named reference faces, and comparing a video's faces with the
person it claims to show.

A reference is a small JSON file per person (embeddings of one or more
photos, the photos' SHA-256, the embedding model's SHA-256) in a folder the
caller chooses (``verifier enroll`` uses ``<data_dir>/references/faces``).
Embeddings, not photos, are stored: enough to compare, and less sensitive to
keep. Re-enrolling a name adds photos; a model change invalidates old
references (the hash is checked).

A reference is read once per use and named by the SHA-256 of the bytes read
(``Reference.sha256``): the verdict states what was compared, and the ledger
(``verifier.enrolment_log``) can say whether those bytes are the ones
enrolled. Enrolments hold a lock on the folder and replace the file
atomically, so two at once never lose one and a reader never sees half a file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

import numpy as np

from detectors.face_swap import models
from detectors.identity.embeddings import embed_face, find_faces
from detectors.still_image import ImageReadError, load_image_rgb

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.()-]{0,63}$")  # the file is named by a hash: no name reaches the path


def reference_file(root: Path, name: str) -> Path:
    """Where ``name``'s reference lives under ``root`` (faces and voices use
    the same rule): a hash of the name, so no name can escape the folder."""
    if not _NAME.fullmatch(name):  # match() with "$" let "CFO\n" through, a second person shown as "CFO"
        raise EnrolmentError(f"invalid person name {name!r}: use letters, digits, space, '_', '.', '-', '(', ')' (max 64)")
    return Path(root) / (hashlib.sha256(name.encode()).hexdigest()[:16] + ".json")


class EnrolmentError(ValueError):
    """A reference could not be created or used; the message says what to fix."""


class UnknownPersonError(EnrolmentError):
    """No reference is enrolled under that name."""


class StaleReferenceError(EnrolmentError):
    """A reference exists but was made by another model or preparation: it
    cannot be compared, and enrolling again replaces it."""


class EnrolmentGuard(Protocol):
    """What an enrolment asks before it changes a reference (see
    ``verifier.enrolment_log.LedgerGuard``): whether the reference it would
    add to is the one enrolled, and to record the new one before it is written.
    Either raises to stop the enrolment with nothing written."""

    def accept_existing(self, reference_sha256: str) -> None: ...

    def commit(self, reference_sha256: str, sources_sha256: list[str], model_sha256: str, replace: bool) -> None: ...


T = TypeVar("T")
MAX_REFERENCE_BYTES = 16 << 20  # thousands of recordings; a bigger file was not written by enroll


def read_reference(path: Path, name: str) -> tuple[dict[str, Any], str]:
    """The reference's JSON and the SHA-256 of exactly the bytes parsed.
    A file that is not a reference (damaged, hand-edited into another shape,
    a directory, huge) is an :class:`EnrolmentError` naming the fix."""
    damaged = f"the reference file of {name!r} ({path}) is damaged or was not written by `verifier enroll`"
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_REFERENCE_BYTES + 1)
    except IsADirectoryError:
        raise EnrolmentError(f"{damaged}: it is a directory; remove it and enrol again") from None
    except OSError as exc:
        raise EnrolmentError(f"the reference file of {name!r} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_REFERENCE_BYTES:
        raise EnrolmentError(f"{damaged}: over {MAX_REFERENCE_BYTES >> 20} MB; remove it and enrol again")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise EnrolmentError(f"{damaged}: not JSON; remove it and enrol again") from None
    if not isinstance(doc, dict):
        raise EnrolmentError(f"{damaged}: not a JSON object; remove it and enrol again")
    return doc, hashlib.sha256(data).hexdigest()


def embedding_rows(doc: dict[str, Any], key: str, dim: int, n: int, name: str) -> np.ndarray:
    """``doc[key]`` as an (n, dim) array of finite numbers, or :class:`EnrolmentError`."""
    try:
        arr = np.asarray(doc[key], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        arr = None
    if arr is None or arr.shape != (n, dim) or n == 0 or not np.isfinite(arr).all():
        raise EnrolmentError(f"the reference file of {name!r} is damaged or was not written by `verifier enroll` "
                             f"({key}: expected {n} finite vectors of {dim} numbers); remove it and enrol again")
    return arr


def string_list(doc: dict[str, Any], key: str, name: str) -> tuple[str, ...]:
    value = doc.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EnrolmentError(f"the reference file of {name!r} is damaged or was not written by `verifier enroll` "
                             f"({key} is not a list of strings); remove it and enrol again")
    return tuple(value)


@contextmanager
def reference_lock(root: Path) -> Iterator[None]:
    """Exclusive lock on a reference folder for one enrolment's read-merge-write."""
    root.mkdir(parents=True, exist_ok=True)
    try:  # never through a symbolic link planted in its place
        fd = os.open(root / ".enrol.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise EnrolmentError(f"the enrolment lock in {root} cannot be opened: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def write_reference(path: Path, data: bytes) -> None:
    """Write beside, flush to disk, then rename over the old file: a reader sees
    the old or the new reference, never a part of one."""
    tmp: Path | None = None
    try:
        # a new file under a random name (O_EXCL): a name planted as a symbolic link is never written through
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        tmp = Path(name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # replaces a symbolic link itself, never the file it points to
    except OSError as exc:
        raise EnrolmentError(f"the reference could not be written at {path}: {exc.strerror or exc} (a directory in its "
                             "place must be removed by hand)") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def save_reference(root: Path, path: Path, load: Callable[[], Any], build: Callable[[Any], tuple[dict[str, Any], T]], *,
                   replace: bool, guard: EnrolmentGuard | None, sources_sha256: list[str], model_sha256: str) -> tuple[T, str]:
    """The one way a reference changes, for faces and voices alike: under the folder's
    lock, the old reference (unless ``replace``; a stale one is replaced) is checked by
    ``guard`` and merged by ``build(old) -> (document, result)``; the new bytes are
    recorded by ``guard``, then written atomically. Returns ``result`` and the SHA-256
    of the bytes written."""
    with reference_lock(root):
        old = None
        if not replace and path.exists():
            try:
                old = load()
            except StaleReferenceError:
                pass  # made by another model: it could not be compared anyway, so it is replaced
        if old is not None and guard is not None:
            guard.accept_existing(old.sha256)
        doc, result = build(old)
        data = (json.dumps(doc) + "\n").encode()
        sha = hashlib.sha256(data).hexdigest()
        if guard is not None:
            guard.commit(sha, sources_sha256, model_sha256, replace)
        write_reference(path, data)
    return result, sha


def finite_round(v: float) -> float:
    if not math.isfinite(v):
        raise EnrolmentError("an embedding came out with non-finite values: the file cannot be enrolled")
    return round(float(v), 6)


@dataclass(frozen=True)
class Reference:
    name: str
    embeddings: np.ndarray  # (n, 128)
    photo_sha256: tuple[str, ...]
    model_sha256: str
    sha256: str = ""  # of the reference file's bytes as read or written

    @property
    def sources_sha256(self) -> tuple[str, ...]:
        return self.photo_sha256

    @property
    def center(self) -> np.ndarray:
        return self.embeddings.mean(axis=0)


class ReferenceStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        return reference_file(self.root, name)

    def enroll(self, name: str, photos: list[Path], *, replace: bool = False, guard: EnrolmentGuard | None = None) -> Reference:
        """Add ``photos`` to ``name``'s reference (``replace``: start a new one).
        Every photo is checked before anything is written."""
        self._path(name)  # validate the name before the (slow) face analysis
        if not photos:
            raise EnrolmentError("enrol needs at least one face photo")
        added: dict[str, np.ndarray] = {}  # SHA-256 -> embedding; a photo given twice counts once
        for p in photos:
            data = Path(p).read_bytes()
            try:
                rgb = load_image_rgb(data)
            except ImageReadError as exc:
                raise EnrolmentError(f"{p}: {exc}") from exc
            found = find_faces(rgb)
            if len(found) != 1:
                raise EnrolmentError(f"{p}: found {len(found)} faces; enrol with a photo showing exactly one face")
            added.setdefault(hashlib.sha256(data).hexdigest(), embed_face(rgb, found[0]))
        model = models.model_sha256(models.FACE_EMBEDDING)

        def build(old: Reference | None) -> tuple[dict[str, Any], tuple[list, list[str]]]:
            embs, shas = list(added.values()), list(added)
            if old is not None:
                keep = [i for i, s in enumerate(old.photo_sha256) if s not in added]  # enrolled again: replaced
                embs = [old.embeddings[i] for i in keep] + embs
                shas = [old.photo_sha256[i] for i in keep] + shas
            doc = dict(name=name, model_sha256=model, photo_sha256=list(shas),
                       embeddings=[[finite_round(v) for v in e] for e in embs])
            return doc, (embs, shas)

        (embs, shas), sha = save_reference(self.root, self._path(name), lambda: self.load(name), build, replace=replace,
                                           guard=guard, sources_sha256=list(added), model_sha256=model)
        return Reference(name, np.array(embs), tuple(shas), model, sha)

    def load(self, name: str) -> Reference:
        p = self._path(name)
        if not p.exists():
            raise UnknownPersonError(f"no reference enrolled for {name!r} in {self.root}")
        d, sha = read_reference(p, name)
        model = models.model_sha256(models.FACE_EMBEDDING)
        if d.get("model_sha256") != model:
            raise StaleReferenceError(f"{name!r} was enrolled with another face model; enrol again")
        photos = string_list(d, "photo_sha256", name)
        if d.get("name") != name:
            raise EnrolmentError(f"the reference file of {name!r} names another person ({str(d.get('name'))[:64]!r}); "
                                 "remove it and enrol again")
        return Reference(name, embedding_rows(d, "embeddings", 128, len(photos), name), photos, model, sha)


def claim_distance(track_vectors: np.ndarray, ref: Reference) -> float:
    """Distance between the track's median identity and the nearest reference photo."""
    center = np.median(track_vectors, axis=0)
    return float(np.min(np.linalg.norm(ref.embeddings - center, axis=1)))


class LoadedReference(Protocol):
    name: str
    sha256: str


def reference_used(ref: LoadedReference, modality: str, options: dict[str, str], key: str) -> tuple[Any, str] | str:
    """The ``ReferenceUsed`` a claim finding carries and a clause for its reason;
    or, when the reference read now is not the one checked at selection (a
    re-enrolment while this file was verified), why the claim is not compared."""
    from verifier.evidence import ReferenceUsed

    sha = ref.sha256
    expected = options.get(f"{key}_sha256")
    if expected is not None and expected != sha:
        return (f"the {modality} reference changed while this file was verified (SHA-256 {sha[:16]}..., "
                f"{expected[:16]}... when checked): verify again")
    index = options.get(f"{key}_enrolment")
    used = ReferenceUsed(person=ref.name, modality=modality, sha256=sha,  # type: ignore[arg-type]
                         enrolment_index=int(index) if index is not None else None)
    where = (f"enrolment recorded in the ledger at entry {index}" if index is not None
             else "not checked against a ledger: none was open")
    return used, f"reference SHA-256 {sha[:16]}..., {where}"
