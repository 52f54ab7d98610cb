"""verdict_eval's summary: the verdict a user gets when detectors disagree."""

from __future__ import annotations

import pytest

from detectors.face_swap.verdict_eval import VerdictRow, summarise

DETS = ("face_swap", "face_motion")


def row(swap: bool, cnn: float | None, motion: float | None, label: str = "inconclusive") -> VerdictRow:
    parts = [v for v in (cnn, motion) if v is not None]
    return VerdictRow("x", swap, "t", "poisson" if swap else "-", label, sum(parts) if parts else None,
                      {"face_swap": cnn, "face_motion": motion})


def test_a_detector_that_ranks_swaps_backwards_drags_the_verdict_down():
    """Motion separates perfectly; the CNN ranks every swap below every real
    clip and, being stronger, reverses the verdict's ranking."""
    rows = [row(False, 0.5, -1.0), row(False, 0.6, -0.8), row(True, -2.0, 1.0), row(True, -2.5, 1.2)]
    s = summarise(rows, DETS)
    assert s["auc_face_motion"] == 1.0
    assert s["auc_face_swap"] == 0.0
    assert s["auc_verdict"] == 0.0
    assert (s["real"], s["swaps"]) == (2, 2)


def test_a_declined_file_counts_as_no_evidence_and_labels_are_counted():
    rows = [row(False, None, None, "no_manipulation_detected"), row(False, -1.0, -1.0, "no_manipulation_detected"),
            row(True, None, 1.5, "likely_manipulated")]
    s = summarise(rows, DETS)
    assert s["auc_face_swap"] == pytest.approx(0.75)  # the swap's 0 ties the declined real clip's 0, beats -1
    assert s["labels_real"] == {"no_manipulation_detected": 2}
    assert s["labels_swaps"] == {"likely_manipulated": 1}


def test_one_side_missing_gives_counts_only():
    assert summarise([row(False, 0.1, 0.1)], DETS) == {"real": 1, "swaps": 0}


def test_without_the_shared_clips_it_says_so(tmp_path, capsys):
    from detectors.face_swap.verdict_eval import main

    assert main(["--media", str(tmp_path), "--work", str(tmp_path / "work")]) == 2
    assert "need at least 4 talking-head clips" in capsys.readouterr().err


def _f(detector: str, llr: float, kind: str, supports_h0: bool = True) -> dict:
    return dict(detector=detector, version="1", modality="video", applicable=True, llr=llr, manipulation=kind,
                supports_h0=supports_h0)


def test_a_swap_keeping_its_targets_soundtrack_is_judged_with_that_clips_audio_findings():
    """The swap keeps its own face findings and borrows its target's voice and soundtrack
    findings; the product of all LRs lets that genuine audio cancel the face evidence, the
    shipped fusion weighs the kinds as alternatives."""
    from detectors.face_swap.verdict_eval import with_target_audio

    target = VerdictRow("t", False, "t", "-", "", None, {}, [
        _f("face_swap", -0.5, "face"), _f("face_identity_consistency", -1.5, "face", supports_h0=False),
        _f("voice_clone", -1.0, "voice"), _f("av_sync", -0.8, "soundtrack")])
    swap = VerdictRow("t__from__d", True, "t", "alpha", "", None, {}, [_f("face_motion", 1.6, "face")])
    real_row, swap_row = with_target_audio([target, swap])
    assert swap_row.by_detector == {"face_motion": 1.6, "voice_clone": -1.0, "av_sync": -0.8,
                                    "product_of_all": pytest.approx(-0.2)}
    assert swap_row.llr == pytest.approx(__import__("math").log10((10 ** 1.6 + 0.1 + 10 ** -0.8) / 3))
    assert swap_row.label == "likely_manipulated"  # +1.13; the product says -0.2, inconclusive
    assert real_row.by_detector["product_of_all"] == pytest.approx(-2.3)  # the steady identity is not counted
