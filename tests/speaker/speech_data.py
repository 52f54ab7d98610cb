"""Real speech for the speaker tests: FSDD digits from the shared media folder
(read in place; concatenated into temporary files), or skip cleanly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED

FSDD = SHARED / "media/audio/fsdd/recordings"


def fsdd_speech(speaker: str, takes: range) -> np.ndarray:
    """The ten digits of each take, concatenated (16 kHz float32)."""
    from audio.decode import decode_audio

    files = [FSDD / f"{d}_{speaker}_{t}.wav" for t in takes for d in range(10)]
    if not all(f.is_file() for f in files):
        pytest.skip(f"shared FSDD recordings not present at {FSDD}")
    return np.concatenate([decode_audio(f).samples for f in files])


def write_wav(path: Path, x: np.ndarray, rate: int = 16_000) -> Path:
    from audio.encode import write_audio

    return write_audio(path, x, rate, "wav")


def fsdd_wav(tmp_path: Path, speaker: str, takes: range, name: str | None = None) -> Path:
    return write_wav(tmp_path / (name or f"{speaker}_{takes.start}_{takes.stop}.wav"), fsdd_speech(speaker, takes))
