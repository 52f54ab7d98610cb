"""Slow: a real swap made from two shared clips, scored by the shipped model."""

from pathlib import Path

import pytest

from tests.faces_swap.helpers import MEDIA, need

DRIVING = MEDIA / "video/liveportrait/assets/examples/driving"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["poisson", "alpha"])
def test_swap_and_score(tmp_path: Path, method: str) -> None:
    from detectors.face_swap import crops as C
    from detectors.face_swap.manipulate import SwapSpec, make_swap, transcode
    from detectors.face_swap.scoring import DEFAULT_WEIGHTS, load_model, score_media

    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped weights")
    target, source = need(DRIVING / "d11.mp4"), need(DRIVING / "d18.mp4")
    fake = make_swap(SwapSpec(target, source, method, max_seconds=2.0), tmp_path / f"{method}.mp4")  # type: ignore[arg-type]
    low = transcode(fake, tmp_path / "crf32.mp4", crf=32)
    lm = load_model(str(DEFAULT_WEIGHTS))
    for f in (fake, low):
        vs = score_media(f, lm, C.CropOptions(max_seconds=2.0))
        assert vs.applicable and -3.0 <= vs.llr <= 3.0 and len(vs.frame_times) >= 4
