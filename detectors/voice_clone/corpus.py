"""Build the voice-spoofing corpus: plan items, run them through one chain, write a protocol.

Layout of OUT_DIR::

    flac/<file_id>.flac          16 kHz mono, both classes
    protocol/{train,dev,eval}.txt ASVspoof style: SPEAKER FILE_ID - ATTACK KEY
    metadata.csv                 one row per file: split, speaker, family, band, codec, ...
    manifest.json                config, counts, hours, what was skipped and why

Splits are disjoint by speaker (tables in ``sources``) and by family: the
families in ``CorpusConfig.unseen_families`` appear only in ``eval``, so eval
measures both unseen speakers and unseen spoofing methods. ``dev`` is the
calibration split.

Every random choice is drawn from a generator seeded by (seed, file_id), so a
rebuild gives the same files whatever the order or subset processed, with one
exception: WORLD synthesis (family ``world``) draws its aperiodic noise from a
process-global generator that pyworld does not let us seed. A fresh
``verifier corpus voice`` process processes items in a fixed order, so it
should still repeat itself, but that has not been verified end to end.
"""

from __future__ import annotations

import csv
import json
import random
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from audio.decode import AudioDecodeError, decode_audio
from audio.encode import write_audio
from detectors.voice_clone.chain import Chain, ChainConfig, TooShortError
from detectors.voice_clone.sources import (
    BONAFIDE_SOURCES,
    TTS_VOICES,
    BonafideSource,
    GroupedSource,
    TtsError,
    TtsVoice,
    load_utterance,
    synthesize,
    voice_available,
)
from detectors.voice_clone.texts import render
from detectors.voice_clone.vocoders import RESYNTH_FAMILIES, FamilyUnavailableError

ATTACK_IDS = {
    "espeak_formant": "A01",
    "diphone": "A02",
    "clustergen": "A03",
    "hts": "A04",
    "clunits": "A05",
    "world": "A06",
    "griffinlim": "A07",
    "lpc": "A08",
    "neural": "A09",
}
SPLITS = ("train", "dev", "eval")


@dataclass(frozen=True)
class CorpusConfig:
    seed: int = 0
    max_bonafide_per_speaker: int | None = None
    tts_per_voice: int = 60
    resynth_fraction: float = 0.6  # share of bona fide files also resynthesised (one family each)
    resynth_families: tuple[str, ...] = ("world", "griffinlim", "lpc", "neural")
    unseen_families: tuple[str, ...] = ("hts", "clunits", "lpc")
    p_wide_bonafide: float = 0.5  # for sources recorded at >= 16 kHz
    duration_bin_s: float = 0.25  # histogram bin for matching class durations
    chain: ChainConfig = field(default_factory=ChainConfig)


def config_from_manifest(corpus_dir: Path) -> CorpusConfig:
    """The configuration a built corpus was made with (its ``manifest.json``), to re-plan it exactly."""
    path = Path(corpus_dir) / "manifest.json"
    if not path.is_file():
        raise CorpusError(f"{corpus_dir}: no manifest.json; build it with `verifier corpus voice {corpus_dir}`")
    d = json.loads(path.read_text(encoding="utf-8"))["config"]

    def tuples(m: dict) -> dict:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in m.items()}

    return CorpusConfig(**tuples({k: v for k, v in d.items() if k != "chain"}), chain=ChainConfig(**tuples(d["chain"])))


@dataclass(frozen=True)
class PlannedItem:
    file_id: str
    split: str
    speaker: str
    key: str  # "bonafide" | "spoof"
    family: str  # "-" for bona fide
    lang: str
    origin: str  # source file path or TTS text
    voice: TtsVoice | None = None
    source_path: str | None = None  # for bona fide and resynthesis items
    source_parts: tuple[str, ...] = ()  # grouped sources: the short recordings joined into one utterance


@dataclass(frozen=True)
class CorpusRow:
    file_id: str
    split: str
    speaker: str
    key: str
    family: str
    attack: str
    lang: str
    band: str
    codec: str
    snr_db: float | None
    rt60_s: float | None
    duration_s: float
    native_rate: int
    origin: str


class CorpusError(RuntimeError):
    pass


def item_rng(seed: int, file_id: str) -> np.random.Generator:
    """The generator behind every random choice for one corpus item: re-planning (``vocoder_transfer``)
    reproduces an item's draws from its id alone."""
    return np.random.default_rng([seed, zlib.crc32(file_id.encode())])


def plan_corpus(
    cfg: CorpusConfig,
    bonafide_sources: Iterable[BonafideSource] = BONAFIDE_SOURCES,
    tts_voices: Iterable[TtsVoice] = TTS_VOICES,
) -> list[PlannedItem]:
    """Decide every file of the corpus (no audio work yet)."""
    items: list[PlannedItem] = []
    pick = random.Random(cfg.seed)
    per_speaker: Counter[str] = Counter()
    for src in bonafide_sources:
        if isinstance(src, GroupedSource):
            for u in src.utterances(cfg.seed):
                if cfg.max_bonafide_per_speaker is not None and per_speaker[src.speaker] >= cfg.max_bonafide_per_speaker:
                    break
                per_speaker[src.speaker] += 1
                fid = f"BF_{src.name}_{u.uid}"
                rel = "+".join("-".join(Path(p).relative_to(src.root).with_suffix("").parts) for p in u.parts)
                origin = f"{src.name}:{u.uid}:{rel}"
                items.append(PlannedItem(fid, src.split, src.speaker, "bonafide", "-", src.lang, origin, None, origin, u.parts))
            continue
        files = src.files()
        pick.shuffle(files)
        for path in files:
            if cfg.max_bonafide_per_speaker is not None and per_speaker[src.speaker] >= cfg.max_bonafide_per_speaker:
                break
            per_speaker[src.speaker] += 1
            rel = path.relative_to(src.root).with_suffix("")  # digits/1 and letters/1 must not collide
            fid = f"BF_{src.name}_{'-'.join(rel.parts)}"
            items.append(PlannedItem(fid, src.split, src.speaker, "bonafide", "-", src.lang, str(path), None, str(path)))
    bona = [i for i in items]
    for b in bona:
        r = item_rng(cfg.seed, "resynth:" + b.file_id)
        if r.random() >= cfg.resynth_fraction:
            continue
        allowed = [f for f in cfg.resynth_families if b.split == "eval" or f not in cfg.unseen_families]
        if not allowed:
            continue
        fam = allowed[int(r.integers(0, len(allowed)))]
        items.append(
            PlannedItem(f"SP_{fam}_{b.file_id[3:]}", b.split, b.speaker, "spoof", fam, b.lang, b.origin, None, b.source_path,
                        b.source_parts)
        )
    for v in tts_voices:
        if v.family in cfg.unseen_families and v.split != "eval":
            raise CorpusError(f"voice {v.speaker} of unseen family {v.family} must be in eval, not {v.split}")
        r = random.Random(f"{cfg.seed}:{v.speaker}")
        for k in range(cfg.tts_per_voice):
            text = render(v.lang, k, r)
            items.append(PlannedItem(f"SP_{v.family}_{v.speaker}_{k:04d}", v.split, v.speaker, "spoof", v.family, v.lang, text, v))
    return items


def raw_audio(item: PlannedItem) -> tuple[np.ndarray, int]:
    if item.voice is not None:
        return synthesize(item.voice, item.origin)
    if item.source_parts:
        return load_utterance(item.source_parts)
    assert item.source_path is not None
    d = decode_audio(item.source_path, target_rate=None, max_duration_s=600)
    return d.samples, d.sample_rate


def _band(item: PlannedItem, native_rate: int, cfg: CorpusConfig, p_wide_spoof: float, r: np.random.Generator) -> str:
    if native_rate < cfg.chain.rate:
        return "tel"
    p = cfg.p_wide_bonafide if item.key == "bonafide" else p_wide_spoof
    return "wide" if r.random() < p else "tel"


def build_corpus(
    out_dir: Path,
    cfg: CorpusConfig = CorpusConfig(),
    bonafide_sources: Iterable[BonafideSource] = BONAFIDE_SOURCES,
    tts_voices: Iterable[TtsVoice] = TTS_VOICES,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Plan and render the corpus into ``out_dir``; returns the manifest dict."""
    bonafide_sources = list(bonafide_sources)
    tts_voices = [v for v in tts_voices if voice_available(v)]
    items = plan_corpus(cfg, bonafide_sources, tts_voices)
    if not any(i.key == "bonafide" for i in items):
        raise CorpusError("no bona fide speech found; run `verifier corpus voice --check` for the apt packages")
    out_dir = Path(out_dir)
    (out_dir / "flac").mkdir(parents=True, exist_ok=True)
    chain = Chain(cfg.chain)
    rows: list[CorpusRow] = []
    skipped: Counter[str] = Counter()
    # bona fide first, so the spoof band mix can match the bona fide one
    items.sort(key=lambda i: (i.key != "bonafide", i.file_id))
    bands: Counter[str] = Counter()
    resynth_band: dict[str, str] = {}
    for n, item in enumerate(items):
        if progress:
            progress(n, len(items))
        r = item_rng(cfg.seed, item.file_id)
        try:
            x, rate = raw_audio(item)
            if item.key == "spoof" and item.voice is None:
                x = RESYNTH_FAMILIES[item.family](x, rate, r)
        except FamilyUnavailableError as exc:
            skipped[f"{item.family}: {exc}"] += 1
            continue
        except (AudioDecodeError, TtsError) as exc:
            skipped[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
            continue
        if item.key == "spoof" and item.voice is None and item.source_path in resynth_band:
            band = resynth_band[item.source_path]  # same channel as the recording it came from
            if band == "wide" and rate < cfg.chain.rate:
                band = "tel"
        else:
            total_bf = sum(bands.values()) or 1
            band = _band(item, rate, cfg, bands["wide"] / total_bf, r)
        try:
            y, meta = chain.run(x, rate, band, r)  # type: ignore[arg-type]
        except TooShortError:
            skipped[f"too short ({item.key})"] += 1
            continue
        if item.key == "bonafide":
            bands[band] += 1
            resynth_band[item.source_path or ""] = band
        write_audio(out_dir / "flac" / f"{item.file_id}.flac", y, cfg.chain.rate, "flac")
        rows.append(
            CorpusRow(
                item.file_id, item.split, item.speaker, item.key, item.family,
                ATTACK_IDS.get(item.family, "-") if item.key == "spoof" else "-",
                item.lang, meta.band, meta.codec, meta.snr_db, meta.rt60_s, round(meta.duration_s, 4), rate,
                item.origin if (item.voice is not None or item.source_parts) else Path(item.origin).name,
            )
        )
    rows, dropped = balance_durations(rows, cfg.seed, cfg.duration_bin_s)
    ids = [r.file_id for r in rows]
    if len(ids) != len(set(ids)):
        raise CorpusError("duplicate file ids in the corpus plan; this is a bug in plan_corpus")
    for row in dropped:
        (out_dir / "flac" / f"{row.file_id}.flac").unlink(missing_ok=True)
    skipped["dropped to match the duration distributions of the classes"] += len(dropped)
    return write_outputs(out_dir, cfg, rows, skipped)


def balance_durations(rows: list[CorpusRow], seed: int, bin_s: float = 0.25) -> tuple[list[CorpusRow], list[CorpusRow]]:
    """Drop files so that, within each split, both classes have the same duration histogram.

    Cropping cannot lengthen a short prompt, so bona fide prompts (often 1-2 s)
    and TTS sentences (2-5 s) would differ in length, and length alone would
    separate them (the first shortcut check measured AUC 0.60 on duration).
    Per split and per ``bin_s`` duration bin, each class keeps
    ``share_c * min_k(n_k / share_k)`` files, where ``share`` is its overall share
    in the split: the class ratio is preserved and the histograms become equal.
    Which files go is a seeded random choice.
    """
    keep: list[CorpusRow] = []
    dropped: list[CorpusRow] = []
    rnd = random.Random(seed)
    for split in SPLITS:
        srows = [r for r in rows if r.split == split]
        if not srows:
            continue
        share = {k: sum(r.key == k for r in srows) / len(srows) for k in ("bonafide", "spoof")}
        if min(share.values()) == 0:
            keep += srows
            continue
        bins: dict[int, dict[str, list[CorpusRow]]] = {}
        for r in srows:
            bins.setdefault(int(r.duration_s // bin_s), {"bonafide": [], "spoof": []})[r.key].append(r)
        for b in sorted(bins):
            groups = bins[b]
            scale = min(len(groups[k]) / share[k] for k in groups)
            for k, members in groups.items():
                n = min(len(members), int(round(share[k] * scale)))
                members = sorted(members, key=lambda r: r.file_id)
                rnd.shuffle(members)
                keep += members[:n]
                dropped += members[n:]
    return keep, dropped


def write_outputs(out_dir: Path, cfg: CorpusConfig, rows: list[CorpusRow], skipped: Counter[str]) -> dict:
    (out_dir / "protocol").mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        with open(out_dir / "protocol" / f"{split}.txt", "w", encoding="utf-8") as f:
            for row in rows:
                if row.split == split:
                    f.write(f"{row.speaker} {row.file_id} - {row.attack} {row.key}\n")
    with open(out_dir / "metadata.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(CorpusRow.__dataclass_fields__))
        w.writeheader()
        for row in rows:
            w.writerow(asdict(row))
    manifest = {
        "format": "av-verifier/voice-corpus/v1",
        "config": asdict(cfg),
        "files": len(rows),
        "hours": round(sum(r.duration_s for r in rows) / 3600, 3),
        "by_split_key": _count(rows, lambda r: f"{r.split}/{r.key}"),
        "hours_by_split_key": _hours(rows, lambda r: f"{r.split}/{r.key}"),
        "by_family": _count(rows, lambda r: f"{r.split}/{r.family}"),
        "by_speaker": _count(rows, lambda r: f"{r.split}/{r.key}/{r.speaker}"),
        "by_band": _count(rows, lambda r: f"{r.key}/{r.band}"),
        "by_codec": _count(rows, lambda r: f"{r.key}/{r.codec}"),
        "attack_ids": ATTACK_IDS,
        "skipped": dict(skipped),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def _count(rows: list[CorpusRow], key: Callable[[CorpusRow], str]) -> dict[str, int]:
    return dict(sorted(Counter(key(r) for r in rows).items()))


def _hours(rows: list[CorpusRow], key: Callable[[CorpusRow], str]) -> dict[str, float]:
    acc: Counter[str] = Counter()
    for r in rows:
        acc[key(r)] += r.duration_s
    return {k: round(v / 3600, 3) for k, v in sorted(acc.items())}


def corpus_audio_path(corpus_dir: Path, row: dict[str, str]) -> Path:
    """Where a metadata row's audio is: ``flac/<file_id>.flac`` in a corpus
    built here, or the row's own ``path`` in a training view of a public
    data set (``training_view.py``), which is read in place."""
    return Path(row["path"]) if row.get("path") else Path(corpus_dir) / "flac" / f"{row['file_id']}.flac"


def read_metadata(corpus_dir: Path) -> list[dict[str, str]]:
    path = Path(corpus_dir) / "metadata.csv"
    if not path.is_file():
        raise CorpusError(f"{corpus_dir}: no metadata.csv; build it with `verifier corpus voice {corpus_dir}`")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
