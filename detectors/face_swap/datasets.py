"""Walk the folder layouts of public face-forgery data sets into typed items.

Users who hold FaceForensics++, Celeb-DF or DFDC (none can be redistributed,
so none ships here) point ``--dataset DIR --format ...`` at their copy. Each
layout is read from its published directory structure; the *group* of an
item is the identity (or source video) it shows, so that splits by group
never put the same person in training and test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
MEDIA_SUFFIXES = VIDEO_SUFFIXES | {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
Format = Literal["ffpp", "celebdf", "dfdc", "folder"]
FORMATS: tuple[str, ...] = ("ffpp", "celebdf", "dfdc", "folder")


class DatasetLayoutError(ValueError):
    """The directory does not look like the named layout; the message says what was expected."""


@dataclass(frozen=True)
class DatasetItem:
    path: Path
    label: int  # 1 manipulated, 0 real
    manipulation: str  # "none" for real
    group: str  # identity / source video: the unit of splitting
    split: str | None = None  # when the data set defines one ("train", "test", ...)


def _media(root: Path, suffixes: set[str] = MEDIA_SUFFIXES) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def walk_ffpp(root: Path) -> list[DatasetItem]:
    """FaceForensics++: ``original_sequences/<source>/<compression>/videos/NNN.mp4``
    and ``manipulated_sequences/<Method>/<compression>/videos/TTT_SSS.mp4``
    (target TTT, source SSS). Group = the target video id."""
    orig, manip = root / "original_sequences", root / "manipulated_sequences"
    if not orig.is_dir() and not manip.is_dir():
        raise DatasetLayoutError(f"{root}: no original_sequences/ or manipulated_sequences/ - not a FaceForensics++ tree")
    items: list[DatasetItem] = []
    if orig.is_dir():
        for p in _media(orig, VIDEO_SUFFIXES):
            items.append(DatasetItem(p, 0, "none", f"ffpp:{p.stem.split('_')[0]}"))
    if manip.is_dir():
        for method in sorted(d for d in manip.iterdir() if d.is_dir()):
            for p in _media(method, VIDEO_SUFFIXES):
                items.append(DatasetItem(p, 1, method.name, f"ffpp:{p.stem.split('_')[0]}"))
    return items


_CELEB_ID = re.compile(r"^(id\d+)_")


def walk_celebdf(root: Path) -> list[DatasetItem]:
    """Celeb-DF (v1/v2): ``Celeb-real/idX_NNNN.mp4``, ``YouTube-real/NNNNN.mp4``,
    ``Celeb-synthesis/idX_idY_NNNN.mp4`` (target X); the official test list
    ``List_of_testing_videos.txt`` ("<1 real|0 fake> <relative path>") marks
    the test split. Group = the celebrity id (YouTube clips: their own)."""
    dirs = {"Celeb-real": 0, "YouTube-real": 0, "Celeb-synthesis": 1}
    if not any((root / d).is_dir() for d in dirs):
        raise DatasetLayoutError(f"{root}: none of {', '.join(dirs)} found - not a Celeb-DF tree")
    test: set[str] = set()
    listing = root / "List_of_testing_videos.txt"
    if listing.is_file():
        for line in listing.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                test.add(parts[1].replace("\\", "/"))
    items = []
    for d, label in dirs.items():
        if not (root / d).is_dir():
            continue
        for p in _media(root / d, VIDEO_SUFFIXES):
            m = _CELEB_ID.match(p.name)
            group = f"celebdf:{m.group(1)}" if m else f"celebdf:yt{p.stem}"
            rel = p.relative_to(root).as_posix()
            split = "test" if rel in test else ("train" if test else None)
            items.append(DatasetItem(p, label, "celebdf_synthesis" if label else "none", group, split))
    return items


def walk_dfdc(root: Path) -> list[DatasetItem]:
    """DFDC: part folders each with ``metadata.json`` mapping a file name to
    ``{"label": "REAL"|"FAKE", "original": <real source>, "split": ...}``.
    Group = the original (real) video the item was made from."""
    metas = sorted(root.rglob("metadata.json"))
    if not metas:
        raise DatasetLayoutError(f"{root}: no metadata.json found - not a DFDC tree")
    items = []
    for meta in metas:
        try:
            table = json.loads(meta.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DatasetLayoutError(f"{meta}: unreadable DFDC metadata ({exc})") from exc
        for name, info in sorted(table.items()):
            p = meta.parent / name
            if not p.is_file():
                continue
            fake = str(info.get("label", "")).upper() == "FAKE"
            original = info.get("original") or name
            items.append(DatasetItem(p, int(fake), "dfdc" if fake else "none",
                                     f"dfdc:{Path(original).stem if fake else Path(name).stem}", info.get("split")))
    return items


def walk_folder(root: Path) -> list[DatasetItem]:
    """A plain tree: ``real/[group/]file`` and ``fake/[manipulation/][group/]file``.
    Under ``real/`` a sub-folder is the identity; under ``fake/`` the first
    sub-folder names the manipulation and a second one the identity."""
    if not (root / "real").is_dir() and not (root / "fake").is_dir():
        raise DatasetLayoutError(f"{root}: expected real/ and/or fake/ sub-folders")
    items = []
    for label, sub in ((0, "real"), (1, "fake")):
        base = root / sub
        if not base.is_dir():
            continue
        for p in _media(base):
            parts = p.relative_to(base).parts
            if label == 0:
                manip = "none"
                group = parts[0] if len(parts) > 1 else p.stem
            else:
                manip = parts[0] if len(parts) > 1 else "unknown"
                group = parts[1] if len(parts) > 2 else p.stem
            items.append(DatasetItem(p, label, manip, f"folder:{group}"))
    return items


WALKERS = {"ffpp": walk_ffpp, "celebdf": walk_celebdf, "dfdc": walk_dfdc, "folder": walk_folder}


def walk(root: Path, fmt: str) -> list[DatasetItem]:
    if fmt not in WALKERS:
        raise DatasetLayoutError(f"unknown dataset format {fmt!r}; use one of {', '.join(FORMATS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: not a directory")
    items = WALKERS[fmt](root)
    if not items:
        raise DatasetLayoutError(f"{root}: no media files found in the {fmt} layout")
    return items


def groups(items: Iterable[DatasetItem]) -> list[str]:
    return sorted({i.group for i in items})
