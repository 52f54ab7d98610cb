"""dlib face embeddings in a second process, so they run beside the rest.

dlib's ResNet holds the GIL for its whole ~0.1 s per chip (dlib-bin has no
BLAS and releases nothing), so a thread cannot overlap it with the other
detectors; a process can. ``verify`` asks for the embeddings as soon as the
shared face scan is done (``embeddings.embed_ahead``), and by the time the
identity detector needs them the lip-sync, voice and face-swap work has run
on the other core.

The worker is a plain child process (``python -m
detectors.identity.embed_worker MODEL``) talking length-prefixed pickles over
its stdin/stdout, not a multiprocessing pool: spawn-based pools re-import the
caller's main module, which breaks scripts without a ``__main__`` guard. It
is started once and kept; it exits when its stdin closes (the parent is
gone). If it dies, the caller computes in-process instead.

Set ``VERIFIER_EMBED_WORKER=0`` to keep everything in one process.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

import numpy as np

_HEADER = struct.Struct("<Q")


class WorkerError(RuntimeError):
    """The embedding process is gone or answered nonsense."""


def _send(stream: BinaryIO, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: BinaryIO) -> object:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("stream closed")
    (n,) = _HEADER.unpack(head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("stream closed mid-message")
    return pickle.loads(data)  # noqa: S301 - our own child process, over its private pipe


def embed_chips(model, chips: list[np.ndarray]) -> np.ndarray:
    """(n, 128) float64, exactly what ``embeddings.embed_chip`` gives in-process."""
    return np.array([np.asarray(model.compute_face_descriptor(np.ascontiguousarray(c)), dtype=np.float64)
                     for c in chips]).reshape(len(chips), 128)


def enabled() -> bool:
    return os.environ.get("VERIFIER_EMBED_WORKER", "1") != "0" and (os.cpu_count() or 1) > 1


class EmbeddingWorker:
    """One child process with the embedding model loaded, started on first use.
    Requests are served one at a time by a single thread, which waits on the
    pipe (releasing the GIL) while the child computes."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-worker")

    def _process(self) -> subprocess.Popen:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                from detectors.face_swap.models import FACE_EMBEDDING, model_path

                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "detectors.identity.embed_worker", str(model_path(FACE_EMBEDDING))],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                )
            return self._proc

    def warm(self) -> None:
        """Start the process now; it loads the model while the scan runs."""
        self._process()

    def submit(self, chips: list[np.ndarray]) -> Future:
        proc = self._process()
        return self._io.submit(self._roundtrip, proc, [np.ascontiguousarray(c) for c in chips])

    @staticmethod
    def _roundtrip(proc: subprocess.Popen, chips: list[np.ndarray]) -> np.ndarray:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            _send(proc.stdin, chips)
            out = _receive(proc.stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise WorkerError(f"embedding process failed: {exc}") from exc
        if isinstance(out, str):
            raise WorkerError(f"embedding process: {out}")
        if not isinstance(out, np.ndarray) or out.shape != (len(chips), 128):
            raise WorkerError("embedding process answered with the wrong shape")
        return out

    def reset(self) -> None:
        """Drop a broken process; the next call starts a fresh one."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


WORKER = EmbeddingWorker()


def _serve(model_file: str) -> int:
    import dlib

    model = dlib.face_recognition_model_v1(model_file)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            chips = _receive(stdin)
        except EOFError:
            return 0  # the parent closed the pipe: done
        try:
            answer: object = embed_chips(model, chips)  # type: ignore[arg-type]
        except Exception as exc:  # a bad chip must not kill the worker
            answer = f"{type(exc).__name__}: {exc}"
        _send(stdout, answer)


if __name__ == "__main__":
    raise SystemExit(_serve(sys.argv[1]))
