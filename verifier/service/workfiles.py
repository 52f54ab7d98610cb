"""The service's work files: one private directory per upload or bundle, and the sweep that
removes what a killed process left (each crash, an OOM kill say, otherwise leaked up to two
copies of the upload it was handling)."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from verifier.errors import EvidenceStoreError
from verifier.intake import owner_of, owner_token

UPLOAD_PREFIX = "up-"
STALE_AFTER_S = 24 * 3600  # leftovers whose owner cannot be checked are removed after a day


@contextmanager
def upload_dir(incoming: Path) -> Iterator[Path]:
    """A private directory for one upload or bundle, named after this process (``owner_token``)
    so that a sweep can tell a dead process's leftovers; removed on exit (an open file in it
    stays readable)."""
    try:
        incoming.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=incoming, prefix=f"{UPLOAD_PREFIX}{owner_token()}~"))
    except OSError as exc:
        raise EvidenceStoreError(f"upload directory {incoming} cannot be written ({exc.strerror})") from None
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sweep_leftovers(data_dir: Path, *, now: float | None = None) -> list[Path]:
    """Remove what a killed process left behind: upload copies (``uploads/up-PID@HOST~*``) and
    partial store copies (``evidence/incoming/PID@HOST~*.part``). Removed at once when made on
    this host by a process that is gone; otherwise (another host or container, whose processes
    this one cannot see, or a name not made so) only once untouched for ``STALE_AFTER_S``. Each
    crash (an OOM kill, say) otherwise leaked up to two copies of the upload it was handling."""
    now = time.time() if now is None else now
    candidates = [(p, p.name.removeprefix(UPLOAD_PREFIX)) for p in (data_dir / "uploads").glob(f"{UPLOAD_PREFIX}*")]
    candidates += [(p, p.name) for p in (data_dir / "evidence" / "incoming").glob("*.part")]
    removed: list[Path] = []
    for path, named in sorted(candidates):
        owner = owner_of(named)
        try:
            age = now - path.lstat().st_mtime
        except OSError:
            continue
        mine_and_dead = owner is not None and owner[1] == socket.gethostname() and not _alive(owner[0])
        if not (mine_and_dead or age > STALE_AFTER_S):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        if not os.path.lexists(path):
            removed.append(path)
            logging.getLogger(__name__).warning("removed %s, left by a process that ended mid-verification", path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):  # someone else's process, or not a pid: keep
        return True
    return True
