"""Face embeddings in the second process: same numbers as in-process, asked
for ahead by ``verify``, and a dead worker costs time, never the answer."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.face_swap import models
from detectors.identity import embed_worker, embeddings
from detectors.identity.embed_worker import EmbeddingWorker, WorkerError, embed_chips
from tests.av_sync.synth import FACE_PHOTO, load_photo, write_talking_video


def _chips(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (150, 150, 3), dtype=np.uint8) for _ in range(n)]


@pytest.fixture
def worker():
    w = EmbeddingWorker()
    yield w
    w.reset()


def test_worker_gives_the_in_process_embeddings(worker):
    chips = _chips(3)
    got = worker.submit(chips).result(timeout=120)
    assert np.array_equal(got, embed_chips(models.embedding_model(), chips))


def test_bad_request_is_an_error_and_the_worker_survives(worker):
    with pytest.raises(WorkerError, match="embedding process"):
        worker.submit([np.zeros((3, 3), np.uint8)]).result(timeout=120)
    assert worker.submit(_chips(1)).result(timeout=120).shape == (1, 128)


def test_dead_worker_is_restarted(worker):
    worker.submit(_chips(1)).result(timeout=120)
    worker._process().kill()
    worker._process().wait()
    with pytest.raises(WorkerError):
        worker._roundtrip(worker._proc, _chips(1))
    # the next submit sees the dead process and starts a fresh one
    assert worker.submit(_chips(1)).result(timeout=120).shape == (1, 128)


@pytest.fixture
def face_clip(tmp_path):
    if not FACE_PHOTO.is_file():
        pytest.skip(f"shared face photo not present at {FACE_PHOTO}")
    return write_talking_video(tmp_path / "still.mp4", load_photo(256), (0, 0), 0.0, np.zeros(150), None)


def test_scan_listener_embeds_ahead_and_embed_track_collects(face_clip, monkeypatch):
    from detectors.face_swap.faces import AUDIOVISUAL_SCAN, scan_faces_cached

    monkeypatch.setenv("VERIFIER_EMBED_WORKER", "1")
    monkeypatch.setattr(embed_worker.os, "cpu_count", lambda: 2)
    embeddings.embed_ahead(face_clip)
    scan = scan_faces_cached(face_clip, AUDIOVISUAL_SCAN)
    track = scan.main_track()
    assert embeddings.AHEAD.pending(track)
    embeddings._recent.clear()
    ahead = embeddings.embed_track(track)
    assert not embeddings.AHEAD.pending(track)
    obs = embeddings._sampled(track, embeddings.MAX_CHIPS)
    assert np.array_equal(ahead.vectors, np.array([embeddings.embed_chip(o.chip) for o in obs]))


def test_failed_worker_falls_back_to_in_process(face_clip, monkeypatch):
    from concurrent.futures import Future

    from detectors.face_swap.faces import AUDIOVISUAL_SCAN, scan_faces_cached

    track = scan_faces_cached(face_clip, AUDIOVISUAL_SCAN).main_track()
    broken: Future = Future()
    broken.set_exception(WorkerError("embedding process failed: gone"))
    embeddings.AHEAD._pending[id(track)] = (track, broken)
    embeddings._recent.clear()
    out = embeddings.embed_track(track)
    assert out.vectors.shape[1] == 128 and len(out.vectors) >= 5
    assert not embeddings.AHEAD.pending(track)


def test_only_the_shared_scan_starts_work_ahead(face_clip):
    """The face-swap light scan has no chips: it must neither start the work
    nor use up the request meant for the shared scan."""
    from concurrent.futures import Future

    from detectors.face_swap.ahead import ScanAhead
    from detectors.face_swap.faces import AUDIOVISUAL_SCAN, FACE_SWAP_SCAN, scan_faces_cached

    started = []

    def start(scan, track):
        started.append(scan.options)
        f: Future = Future()
        f.set_result(len(track))
        return f

    ahead: ScanAhead[int] = ScanAhead("probe", start)
    ahead.ask(face_clip)
    scan_faces_cached(face_clip, FACE_SWAP_SCAN)
    assert started == []
    track = scan_faces_cached(face_clip, AUDIOVISUAL_SCAN).main_track()
    assert started == [AUDIOVISUAL_SCAN] and ahead.collect(track, 1.0) == len(track)
