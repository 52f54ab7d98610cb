"""Start per-track work as soon as a file's shared face scan exists.

In a ``verify`` with several video detectors, the first one to run pays for
the shared scan, and the others then run one after the other. Work that
depends only on the scan (face embeddings, the mouth signal) can start right
then on the other core - in a worker process or a GIL-releasing thread -
while the voice and face-swap detectors run. A detector asks for that in its
``prepare(ctx)`` (called before any detector runs); its ``analyze`` collects
the result, or computes it itself when nothing was started or it failed.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Callable, Generic, TypeVar

from detectors.face_swap.faces import AUDIOVISUAL_SCAN, FaceScan, FaceTrack, ScanOptions, on_cached_scan

T = TypeVar("T")
log = logging.getLogger(__name__)

# start(scan, track) -> a future, or None to leave that track alone.
Starter = Callable[[FaceScan, FaceTrack], "Future[T] | None"]


class ScanAhead(Generic[T]):
    def __init__(self, name: str, start: Starter, keep: int = 8, options: ScanOptions = AUDIOVISUAL_SCAN) -> None:
        self.name = name
        self._start = start
        self._keep = keep
        self._options = options  # only scans made with these (the face-swap light scan is not one)
        self._lock = threading.Lock()
        self._wanted: dict[str, None] = {}  # ordered set of paths
        # id(track) -> (track, future); the track is kept so a recycled id cannot match
        self._pending: dict[int, tuple[FaceTrack, Future]] = {}
        on_cached_scan(self._on_scan)

    def ask(self, path: str | Path) -> None:
        """Start the work when ``path``'s next cached shared scan is returned."""
        with self._lock:
            self._wanted.pop(str(path), None)
            self._wanted[str(path)] = None
            while len(self._wanted) > self._keep:  # asked for, but no detector ever scanned it
                self._wanted.pop(next(iter(self._wanted)))

    def _on_scan(self, path: str, scan: FaceScan) -> None:
        if scan.options != self._options:
            return
        with self._lock:  # the HTTP service verifies on several threads
            if self._wanted.pop(path, False) is False:
                return
            self._start_all(scan)

    def _start_all(self, scan: FaceScan) -> None:
        for t in scan.tracks:
            if id(t) in self._pending:
                continue
            try:
                fut = self._start(scan, t)
            except Exception as exc:  # only a head start: analyze computes it anyway
                log.warning("%s: could not start ahead (%s)", self.name, exc)
                return
            if fut is None:
                continue
            while len(self._pending) >= self._keep:  # asked for, never collected (the detector failed first)
                self._pending.pop(next(iter(self._pending)))
            self._pending[id(t)] = (t, fut)

    def pending(self, track: FaceTrack) -> bool:
        with self._lock:
            entry = self._pending.get(id(track))
        return entry is not None and entry[0] is track

    def collect(self, track: FaceTrack, timeout_s: float) -> T | None:
        """The result started for ``track``, or None (not started, or failed)."""
        with self._lock:
            entry = self._pending.pop(id(track), None)
        if entry is None or entry[0] is not track:
            return None
        try:
            return entry[1].result(timeout=timeout_s)
        except Exception as exc:
            log.warning("%s: the work started ahead failed (%s: %s); computing it here", self.name,
                        type(exc).__name__, exc)
            return None
