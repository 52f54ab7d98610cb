"""Intake: hash the original bytes before anything else touches them, and keep them.

The file is read once, in chunks. SHA-256 is computed on the reading thread
while the chunk is written to a temporary file in the evidence store; SHA-512
runs on a second thread fed through a bounded queue (hashlib releases the GIL
on large buffers) and may finish while the container is probed, so the two
hashes cost about as much wall time as one and memory stays flat for any file
size. The copy is then linked to its SHA-256 name (content addressing: same
bytes stored once, never overwritten), fsync'd when new, and made read-only.
Every later stage reads the stored copy, so what was verified is exactly what
was hashed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import queue
import stat
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from verifier.config import Settings
from verifier.errors import EvidenceStoreError, FileTooLargeError, InputError
from verifier.evidence import CustodyEvent, FileHashes

CHUNK = 4 << 20
# Chunks the SHA-512 thread may lag behind by (16 x 4 MiB = 64 MiB) lets it finish during
# probing and C2PA validation for files up to ~100 MB while keeping memory
# bounded for any size.
SHA512_BACKLOG = 16
DEFAULT_MAX_BYTES = 64 << 30  # 64 GiB: above this, refuse rather than fill the disk


@dataclass(frozen=True)
class StoredOriginal:
    """The stored copy, named by its SHA-256. The SHA-512 may still be
    finishing on its own thread (it is the slower hash): ``hashes()`` waits
    for it, so callers can probe and validate the file in the meantime."""

    sha256: str
    size: int
    stored_path: Path
    newly_stored: bool
    _sha512: "_Sha512Worker"

    def hashes(self) -> FileHashes:
        self._sha512.join()
        return FileHashes(sha256=self.sha256, sha512=self._sha512.digest.hexdigest(), size=self.size)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def check_input_path(path: Path) -> None:
    """Turn every way a path can be unusable into one clear InputError."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot access ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory (verify walks directories only when given one)")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied")


class _Sha512Worker(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="sha512", daemon=True)
        self.digest = hashlib.sha512()
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=SHA512_BACKLOG)

    def run(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            self.digest.update(chunk)


class EvidenceStore:
    """Content-addressed, read-only store of original files: ``sha256/ab/cd/<hex>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    def ingest(self, source: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> StoredOriginal:
        tmp_dir = self.root / "incoming"
        try:
            tmp_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EvidenceStoreError(f"evidence store {self.root} is not writable: {exc.strerror}") from None
        sha256 = hashlib.sha256()
        worker = _Sha512Worker()
        worker.start()
        size = 0
        tmp = tmp_dir / f"{os.getpid()}-{threading.get_ident()}-{os.urandom(6).hex()}.part"
        try:
            with open(source, "rb") as src, open(tmp, "xb", buffering=0) as dst:
                while chunk := src.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise FileTooLargeError(
                            f"{source}: larger than the {max_bytes} byte limit (set --max-bytes to raise it)"
                        )
                    worker.chunks.put(chunk)
                    sha256.update(chunk)
                    view = memoryview(chunk)
                    while view:  # unbuffered writes may be partial
                        view = view[dst.write(view):]
                hex256 = sha256.hexdigest()
                final = self.path_for(hex256)
                newly = not final.exists()
                if newly:  # only a new original needs to reach the disk
                    os.fsync(dst.fileno())
        except OSError as exc:
            self._abandon(tmp, worker)
            if exc.errno == errno.ENOSPC:
                raise EvidenceStoreError(f"evidence store {self.root}: disk full") from None
            raise InputError(f"{source}: read failed ({exc.strerror})") from None
        except BaseException:
            self._abandon(tmp, worker)
            raise
        worker.chunks.put(None)
        try:
            if newly:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)
                try:
                    # link() fails if the name exists: an existing original is never replaced.
                    os.link(tmp, final)
                except FileExistsError:  # a concurrent intake of the same bytes won the race
                    newly = False
            if not newly and final.stat().st_size != size:
                raise EvidenceStoreError(
                    f"evidence store corrupt: {final} does not hold {size} bytes; refusing to continue"
                )
        finally:
            tmp.unlink(missing_ok=True)
        return StoredOriginal(sha256=hex256, size=size, stored_path=final, newly_stored=newly, _sha512=worker)

    @staticmethod
    def _abandon(tmp: Path, worker: _Sha512Worker) -> None:
        tmp.unlink(missing_ok=True)
        worker.chunks.put(None)
        worker.join()


class CustodyLog:
    """Append-only JSON-lines log of custody events, fsync'd so no event is lost.

    The signed Merkle ledger is the tamper-evident record; this file is the
    operational trail that also covers files whose verification failed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, event: CustodyEvent, *, sync: bool = True) -> CustodyEvent:
        """``sync=False`` defers the fsync to the next synced append (the end
        of the same verification), which then makes all earlier events durable."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(event.model_dump(mode="json"), sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            if sync:
                os.fdatasync(fd)
        finally:
            os.close(fd)
        return event


def custody_event(settings: Settings, action: str, sha256: str, detail: str = "", at: datetime | None = None) -> CustodyEvent:
    return CustodyEvent(at=at or utcnow(), operator=settings.operator, action=action, sha256=sha256, detail=detail)
