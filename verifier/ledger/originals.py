"""The received files themselves, checked against the hashes their records carry.

A receipt proves that a record is in the log; the record says which bytes were
received (SHA-256, SHA-512, size). What an evidence intake is asked later is
the step after: *is this file the one you received?*, and *do you still hold
every original you logged, unchanged?* The store keeps originals by SHA-256
and read-only, but a file system is not a signature: an operator with write
access can replace one. So both questions are answered by hashing again, never
by trusting a path or a stored hash.

- :func:`check_media`: one file against one record (``ledger verify-receipt
  --media FILE``, offline, no database).
- :func:`audit_originals`: every verdict record of a ledger against the
  evidence store (``ledger verify --originals``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from verifier.enrolment_log import ENROLMENT_PREFIX
from verifier.errors import InputError
from verifier.evidence import FileHashes
from verifier.intake import EvidenceStore, hash_file
from verifier.ledger.errors import LedgerInputError, ProofError
from verifier.ledger.record import ROTATION_PREFIX

MAX_LISTED = 20  # problems listed by an audit; the counts cover all of them


@dataclass(frozen=True)
class RecordedInput:
    """What a verdict record says was received."""

    hashes: FileHashes
    name: str
    received_at: str
    operator: str


@dataclass(frozen=True)
class MediaMatch:
    """A file found byte-identical to a record's input."""

    path: Path
    recorded: RecordedInput


def recorded_input(record: bytes) -> RecordedInput:
    """The ``verification.input`` of a verdict record's canonical bytes."""
    if record.startswith(ROTATION_PREFIX):
        raise LedgerInputError("this entry is a key-rotation record: no file was received with it")
    if record.startswith(ENROLMENT_PREFIX):
        raise LedgerInputError("this entry records an enrolment: its files were embedded, not received as evidence")
    try:
        rec = json.loads(record)
        given = rec["verification"]["input"]
        hashes = FileHashes.model_validate(given["hashes"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LedgerInputError(f"the record carries no received-file hashes (verification.input.hashes): {exc}") from None
    if not (re.fullmatch(r"[0-9a-f]{64}", hashes.sha256) and re.fullmatch(r"[0-9a-f]{128}", hashes.sha512)):
        # the SHA-256 names a file in the store: never a path of the record's choosing
        raise LedgerInputError("the record's received-file hashes are not lower-case hex SHA-256 / SHA-512")
    return RecordedInput(hashes, str(given.get("name", "")), str(given.get("received_at", "")),
                         str(given.get("operator", "")))


def _differences(found: FileHashes, recorded: FileHashes) -> list[str]:
    return [f"{name} {getattr(found, attr)}, recorded {getattr(recorded, attr)}"
            for name, attr in (("size", "size"), ("SHA-256", "sha256"), ("SHA-512", "sha512"))
            if getattr(found, attr) != getattr(recorded, attr)]


def compare_media(record: bytes, media: Path) -> tuple[RecordedInput, list[str]]:
    """What the record says was received, and how ``media`` differs from it (empty: the same bytes)."""
    recorded = recorded_input(record)
    try:
        found = hash_file(media)  # a FIFO or a device is refused, not read forever
    except InputError as exc:
        raise LedgerInputError(str(exc)) from None
    return recorded, _differences(found, recorded.hashes)


def check_media(record: bytes, media: Path) -> MediaMatch:
    """Raise :class:`ProofError` unless ``media`` has the size and both hashes the record gives."""
    recorded, diff = compare_media(record, media)
    if diff:
        raise ProofError(f"{media} is not the file this record was made for ({'; '.join(diff)})")
    return MediaMatch(media, recorded)


@dataclass(frozen=True)
class OriginalProblem:
    code: str  # "original_missing" | "original_altered"
    sha256: str
    entries: tuple[int, ...]
    message: str


@dataclass
class OriginalsAudit:
    """Outcome of :func:`audit_originals`; ``ok`` only when every logged original is held unchanged."""

    store: Path
    records: int = 0
    originals: int = 0
    bytes_hashed: int = 0
    missing: int = 0
    altered: int = 0
    problems: list[OriginalProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.altered)

    def summary(self) -> str:
        head = (f"originals in {self.store}: {self.originals} distinct files of {self.records} verdict records, "
                f"{self.bytes_hashed} bytes hashed")
        if self.ok:
            return f"{head}: OK, every one present and unchanged"
        return f"{head}: FAILED, {self.missing} missing, {self.altered} altered"


def audit_originals(records: Iterable[tuple[int, bytes]], store_root: Path) -> OriginalsAudit:
    """Hash every original the verdict records name (once per distinct SHA-256)
    in the content-addressed store at ``store_root`` and compare with the records."""
    store = EvidenceStore(store_root)
    wanted: dict[str, tuple[FileHashes, list[int]]] = {}
    res = OriginalsAudit(store_root)
    for index, raw in records:
        try:
            hashes = recorded_input(raw).hashes
        except LedgerInputError:
            continue  # a key rotation or another kind of record: no file was received with it
        res.records += 1
        wanted.setdefault(hashes.sha256, (hashes, []))[1].append(index)
    for sha256, (recorded, indices) in wanted.items():
        res.originals += 1
        path = store.path_for(sha256)
        entries = tuple(indices)
        if not path.is_file():
            res.missing += 1
            _note(res, OriginalProblem("original_missing", sha256, entries,
                                       f"{_span(entries)}: the original {sha256} is not in the store ({path})"))
            continue
        found = hash_file(path)
        res.bytes_hashed += found.size
        diff = _differences(found, recorded)
        if diff:
            res.altered += 1
            _note(res, OriginalProblem("original_altered", sha256, entries,
                                       f"{_span(entries)}: {path} has changed since it was logged "
                                       f"({'; '.join(diff)})"))
    return res


def _note(res: OriginalsAudit, problem: OriginalProblem) -> None:
    if len(res.problems) < MAX_LISTED:
        res.problems.append(problem)


def _span(indices: tuple[int, ...]) -> str:
    if len(indices) == 1:
        return f"entry {indices[0]}"
    shown = ", ".join(str(i) for i in indices[:5])
    return "entries " + shown + (f" and {len(indices) - 5} more" if len(indices) > 5 else "")
