"""``verifier corpus faces``: aligned colour face crops, split by identity.

Sources: the shared development media (talking-head videos sampled at a few
fps, photos, identity-labelled crops), images shipped by installed packages
(scikit-image's ``astronaut``), or a user's FaceForensics++ / Celeb-DF /
DFDC / plain-folder copy. Every crop is a PNG under ``OUT/crops/`` and one
line of ``OUT/manifest.jsonl``; ``OUT/corpus.json`` summarises the splits.

Splits are by *group* (identity, or clip when identity is unknown): the
network must never see in training a person it is tested on. Talking-head
clips whose dlib face embeddings are closer than ``same_person`` are merged
into one group, since the clips' own names do not say who is in them.
Non-commercial sources (CodeFormer) are written with ``train_ok=false`` and
only ever land in the test split.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from detectors.face_swap import crops as C
from detectors.face_swap.datasets import DatasetItem, walk

SPLITS = ("train", "calibration", "test")


class CorpusError(RuntimeError):
    """The corpus cannot be built or read; the message says what to fix."""


@dataclass(frozen=True)
class CropRecord:
    crop: str  # path relative to the corpus root
    source: str  # media file the crop came from
    group: str  # identity / clip: the unit of splitting
    split: str
    label: int  # 0 real, 1 manipulated
    manipulation: str
    kind: str  # "video" | "image"
    time_s: float
    track: int
    landmarks: list[list[float]]  # 5 points in crop pixels
    licence: str
    train_ok: bool = True  # False: licence forbids use in a shipped model


@dataclass(frozen=True)
class SourceFile:
    path: Path
    kind: str
    group: str
    licence: str
    label: int = 0
    manipulation: str = "none"
    train_ok: bool = True
    forced_split: str | None = None
    pad: float = 0.0  # reflect-pad tight crops so HOG finds the face


@dataclass
class CorpusConfig:
    fps: float = 2.0
    seed: int = 0
    test_fraction_video: float = 0.35
    calibration_fraction_video: float = 0.2
    test_fraction_image: float = 0.1
    calibration_fraction_image: float = 0.15
    same_person: float = 0.5  # dlib embedding distance under which two clips are one identity
    max_seconds: float | None = None
    include_package_images: bool = True
    include_noncommercial_eval: bool = True
    max_files: int | None = None  # tests: stop after this many source files


@dataclass
class Corpus:
    root: Path
    records: list[CropRecord] = field(default_factory=list)

    def split(self, name: str) -> list[CropRecord]:
        return [r for r in self.records if r.split == name]

    def load_crop(self, rec: CropRecord) -> np.ndarray:
        from PIL import Image

        with Image.open(self.root / rec.crop) as im:
            return np.asarray(im.convert("RGB"))


# --------------------------------------------------------------- sources


def _licence_table(media_root: Path) -> dict[str, str]:
    inv = media_root / "INVENTORY.tsv"
    if not inv.is_file():
        return {}
    with inv.open(newline="") as fh:
        return {row["path"]: row.get("license", "") for row in csv.DictReader(fh, delimiter="\t")}


def shared_media_sources(media_root: Path, cfg: CorpusConfig) -> list[SourceFile]:
    """Real faces in the shared development media folder (see its README)."""
    if not media_root.is_dir():
        raise CorpusError(f"{media_root}: shared media folder not found; pass --media-root or --dataset")
    lic = _licence_table(media_root)
    out: list[SourceFile] = []

    def add(p: Path, kind: str, group: str, **kw) -> None:
        rel = p.relative_to(media_root).as_posix()
        out.append(SourceFile(p, kind, group, lic.get(rel, "see INVENTORY.tsv"), **kw))

    for p in sorted((media_root / "video").rglob("*.mp4")):
        add(p, "video", f"clip:{p.parent.parent.name if p.parent.name == 'driving' else p.parent.name}/{p.stem}")
    for p in sorted((media_root / "image" / "gfpgan").rglob("*")):
        if p.suffix.lower() in C.IMAGE_SUFFIXES:
            add(p, "image", f"gfpgan:{p.stem.replace('_crop', '')}", pad=0.4 if "cropped" in p.parts[-2] else 0.0)
    seen: set[str] = set()
    for p in sorted((media_root / "image" / "dlib").rglob("*")):
        if p.suffix.lower() not in C.IMAGE_SUFFIXES or p.stem == "dogs":
            continue
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        if digest in seen:  # two "johns" crops are byte-identical
            continue
        seen.add(digest)
        if p.parent.parent.name == "johns":
            add(p, "image", f"johns:{p.parent.name}", pad=0.5)
        else:
            add(p, "image", f"voc:{p.stem}")
    if cfg.include_noncommercial_eval:
        for p in sorted((media_root / "image" / "codeformer").rglob("*")):
            if p.suffix.lower() in C.IMAGE_SUFFIXES:
                add(p, "image", f"codeformer:{p.stem}", train_ok=False, forced_split="test",
                    pad=0.4 if "cropped" in p.as_posix() else 0.0)
    return out


def package_images(tmp: Path) -> list[SourceFile]:
    """Face images shipped by installed packages (BSD-licensed scikit-image data)."""
    try:
        from skimage import data
    except ImportError:
        return []
    from PIL import Image

    tmp.mkdir(parents=True, exist_ok=True)
    p = tmp / "skimage_astronaut.png"
    Image.fromarray(data.astronaut()).save(p)
    return [SourceFile(p, "image", "skimage:astronaut", "BSD-3-Clause (scikit-image data; NASA public domain photo)")]


def dataset_sources(items: Iterable[DatasetItem]) -> list[SourceFile]:
    out = []
    for it in items:
        kind = "image" if C.is_image(it.path) else "video"
        split = {"val": "calibration", "dev": "calibration"}.get(it.split or "", it.split)
        out.append(SourceFile(it.path, kind, it.group, "user-supplied data set (check its licence)", it.label,
                              it.manipulation, forced_split=split if split in SPLITS else None))
    return out


# ------------------------------------------------------------- grouping


def merge_same_person(sources: list[SourceFile], threshold: float, log: Callable[[str], None]) -> list[SourceFile]:
    """Merge video groups whose mean dlib embeddings are within ``threshold``."""
    from detectors.face_swap import faces as F
    from detectors.face_swap import models

    vids = [s for s in sources if s.kind == "video" and s.label == 0 and s.forced_split is None]
    emb: dict[str, np.ndarray] = {}
    try:
        net = models.embedding_model()
    except Exception as exc:  # noqa: BLE001 - optional refinement
        log(f"identity merge skipped: {exc}")
        return sources
    for s in vids:
        try:
            scan = F.scan_faces(s.path, F.ScanOptions(sample_fps=2.0, max_seconds=3.0, chip_every_s=0.5))
        except F.FaceScanError:
            continue
        track = scan.main_track()
        chips = [o.chip for o in (track.observations if track else []) if o.chip is not None]
        if chips:
            emb[s.group] = np.mean([np.asarray(net.compute_face_descriptor(c)) for c in chips], axis=0)
    names = sorted(emb)
    parent = {n: n for n in names}

    def find(n: str) -> str:
        while parent[n] != n:
            n = parent[n]
        return n

    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = float(np.linalg.norm(emb[a] - emb[b]))
            if d < threshold:
                log(f"same person? {a} ~ {b} (embedding distance {d:.3f}): one group")
                parent[find(b)] = find(a)
    rename = {n: find(n) for n in names}
    return [SourceFile(**{**asdict(s), "group": rename.get(s.group, s.group)}) for s in sources]


def assign_splits(sources: list[SourceFile], cfg: CorpusConfig) -> dict[str, str]:
    """group -> split, deterministic in the seed; video and image groups are
    split separately so the held-out split always holds real clips."""
    rng = np.random.default_rng(cfg.seed)
    forced = {s.group: s.forced_split for s in sources if s.forced_split}
    out: dict[str, str] = dict(forced)
    for kind, ft, fc in (("video", cfg.test_fraction_video, cfg.calibration_fraction_video),
                         ("image", cfg.test_fraction_image, cfg.calibration_fraction_image)):
        gs = sorted({s.group for s in sources if s.kind == kind and s.group not in out})
        gs = [gs[i] for i in rng.permutation(len(gs))]
        n = len(gs)
        n_test = int(round(ft * n)) if n >= 3 else 0
        n_cal = int(round(fc * n)) if n >= 3 else 0
        if n >= 3:
            n_test, n_cal = max(1, n_test), max(1, n_cal)
        for i, g in enumerate(gs):
            out[g] = "test" if i < n_test else ("calibration" if i < n_test + n_cal else "train")
    return out


# ---------------------------------------------------------------- build


def _crops_for(src: SourceFile, cfg: CorpusConfig) -> list[tuple[float, int, np.ndarray, np.ndarray]]:
    """(time, track, crop, landmarks) of every usable face in one source file."""
    if src.kind == "image":
        rgb = C.load_image_rgb(src.path)
        s = min(1.0, 1280 / max(rgb.shape[:2]))
        if s < 1.0:
            import cv2

            rgb = cv2.resize(rgb, (int(rgb.shape[1] * s), int(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA)
        found = C.crops_from_image_array(rgb, C.CropOptions(upsample=1), pad=src.pad)
        return [(0.0, i, crop, pts) for i, (crop, pts, _) in enumerate(found)]
    scan = C.scan_crops(src.path, C.CropOptions(sample_fps=cfg.fps, keyframes=False, max_seconds=cfg.max_seconds))
    return [(o.time_s, t.track_id, o.crop, o.landmarks) for t in scan.tracks for o in t.obs]


def build_corpus(out: Path, sources: list[SourceFile], cfg: CorpusConfig = CorpusConfig(),
                 log: Callable[[str], None] = lambda m: None) -> Corpus:
    from PIL import Image

    out = Path(out)
    (out / "crops").mkdir(parents=True, exist_ok=True)
    if cfg.max_files is not None:
        sources = sources[: cfg.max_files]
    splits = assign_splits(sources, cfg)
    corpus = Corpus(out)
    for k, src in enumerate(sources):
        try:
            found = _crops_for(src, cfg)
        except (C.CropError, RuntimeError) as exc:
            log(f"skip {src.path}: {exc}")
            continue
        stem = f"{k:04d}_{hashlib.sha1(str(src.path).encode()).hexdigest()[:8]}"
        for j, (t, track, crop, pts) in enumerate(found):
            rel = f"crops/{stem}_{j:04d}.png"
            Image.fromarray(crop).save(out / rel)
            corpus.records.append(CropRecord(
                rel, str(src.path), src.group, splits[src.group], src.label, src.manipulation, src.kind,
                round(float(t), 3), int(track), np.round(pts, 2).tolist(), src.licence, src.train_ok))
        log(f"{src.path.name}: {len(found)} crops -> {splits[src.group]} ({src.group})")
    if not corpus.records:
        raise CorpusError("no face crops were extracted: check that the sources contain frontal faces >= 64 px")
    write_manifest(corpus)
    return corpus


def write_manifest(corpus: Corpus) -> None:
    with (corpus.root / "manifest.jsonl").open("w") as fh:
        for r in corpus.records:
            fh.write(json.dumps(asdict(r), sort_keys=True) + "\n")
    summary = {s: {"crops": len(corpus.split(s)), "groups": sorted({r.group for r in corpus.split(s)})} for s in SPLITS}
    (corpus.root / "corpus.json").write_text(json.dumps({"schema": "face_swap_corpus/v1", "splits": summary}, indent=2))


def read_corpus(root: Path) -> Corpus:
    root = Path(root)
    mf = root / "manifest.jsonl"
    if not mf.is_file():
        raise CorpusError(f"{mf} not found: build the corpus with `verifier corpus faces {root}` first")
    recs = [CropRecord(**json.loads(line)) for line in mf.read_text().splitlines() if line.strip()]
    return Corpus(root, recs)


def sources_for(media_root: Path | None, dataset: Path | None, fmt: str | None, cfg: CorpusConfig,
                tmp: Path, log: Callable[[str], None] = lambda m: None) -> list[SourceFile]:
    """Everything the corpus command was pointed at, groups merged by identity."""
    sources: list[SourceFile] = []
    if dataset is not None:
        sources += dataset_sources(walk(dataset, fmt or "folder"))
    if media_root is not None:
        sources += shared_media_sources(media_root, cfg)
        sources = merge_same_person(sources, cfg.same_person, log)
    if cfg.include_package_images:
        sources += package_images(tmp)
    if not sources:
        raise CorpusError("no sources: give --media-root and/or --dataset")
    return sources
