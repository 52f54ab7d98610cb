"""Folder walking of the public data-set layouts, on tiny synthetic trees."""

import json
from pathlib import Path

import pytest

from detectors.face_swap.datasets import DatasetLayoutError, walk


def _touch(root: Path, rel: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"\x00")


def test_ffpp(tmp_path: Path) -> None:
    for rel in ["original_sequences/youtube/c23/videos/000.mp4", "original_sequences/youtube/c23/videos/001.mp4",
                "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4",
                "manipulated_sequences/FaceSwap/c23/videos/001_870.mp4"]:
        _touch(tmp_path, rel)
    items = walk(tmp_path, "ffpp")
    assert [(i.label, i.manipulation, i.group) for i in items] == [
        (0, "none", "ffpp:000"), (0, "none", "ffpp:001"), (1, "Deepfakes", "ffpp:000"), (1, "FaceSwap", "ffpp:001")]


def test_celebdf_with_test_list(tmp_path: Path) -> None:
    for rel in ["Celeb-real/id0_0000.mp4", "Celeb-synthesis/id0_id16_0000.mp4", "YouTube-real/00170.mp4"]:
        _touch(tmp_path, rel)
    (tmp_path / "List_of_testing_videos.txt").write_text("1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id0_id16_0000.mp4\n")
    items = {i.path.name: i for i in walk(tmp_path, "celebdf")}
    assert items["id0_0000.mp4"].group == items["id0_id16_0000.mp4"].group == "celebdf:id0"
    assert items["id0_id16_0000.mp4"].label == 1 and items["id0_id16_0000.mp4"].split == "test"
    assert items["id0_0000.mp4"].split == "train"
    assert items["00170.mp4"].label == 0 and items["00170.mp4"].split == "test"


def test_dfdc_groups_fakes_with_their_original(tmp_path: Path) -> None:
    part = tmp_path / "dfdc_train_part_0"
    for n in ["aaa.mp4", "bbb.mp4", "ccc.mp4"]:
        _touch(part, n)
    (part / "metadata.json").write_text(json.dumps({
        "aaa.mp4": {"label": "REAL", "split": "train"},
        "bbb.mp4": {"label": "FAKE", "original": "aaa.mp4", "split": "train"},
        "missing.mp4": {"label": "FAKE", "original": "aaa.mp4"},
        "ccc.mp4": {"label": "REAL"}}))
    items = {i.path.name: i for i in walk(tmp_path, "dfdc")}
    assert set(items) == {"aaa.mp4", "bbb.mp4", "ccc.mp4"}
    assert items["bbb.mp4"].label == 1 and items["bbb.mp4"].group == items["aaa.mp4"].group == "dfdc:aaa"


def test_folder_layout(tmp_path: Path) -> None:
    for rel in ["real/alice/a.jpg", "real/b.png", "fake/poisson/alice/x.mp4", "fake/y.mp4"]:
        _touch(tmp_path, rel)
    items = {i.path.name: i for i in walk(tmp_path, "folder")}
    assert items["a.jpg"].group == "folder:alice" and items["b.png"].group == "folder:b"
    assert items["x.mp4"].manipulation == "poisson" and items["x.mp4"].group == "folder:alice"
    assert items["y.mp4"].manipulation == "unknown" and items["y.mp4"].label == 1


def test_wrong_layout_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="FaceForensics"):
        walk(tmp_path, "ffpp")
    with pytest.raises(DatasetLayoutError, match="unknown dataset format"):
        walk(tmp_path, "kinetics")
