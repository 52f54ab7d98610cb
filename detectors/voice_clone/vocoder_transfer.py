"""Does detection of one neural vocoder transfer to another, differently built one?

Leave-one-family-out shows what a model does on a family it never saw. This
asks the narrower question a finance user meets every month: a new neural
vocoder appears; the detector was trained on spoofs of an older one. Is a
*neural vocoder it never saw* caught?

The test is paired. The corpus holds eval-split spoofs of family ``neural``:
real eval-speaker recordings resynthesised by the shipped GAN vocoder (A). This
module re-renders exactly those items with another vocoder (B, e.g. trained with
``gan_vocoder train --upsampler nearest --factors 8,5,5``), through the same
corpus chain, seeded per item as the corpus seeded it, in the same band. With
vocoder A this reproduces the corpus files exactly (tested). With B the draws
(crop, reverberation, noise, codec, loudness) stay the same unless B's output
trims to a different length across the crop threshold, which shifts the later
draws; ``same_draws`` in the results counts the pairs whose codec still matches.
Each spoof set is scored against the corpus' eval bona fide trials.

    python -m detectors.voice_clone.vocoder_transfer --corpus DIR --vocoder B.pt --model MODEL.pt --out DIR

The reverse question, does training on two vocoder designs teach the model a
third, needs a corpus whose train and dev ``neural`` spoofs come from both:
``--derive-corpus NEW_DIR`` copies the corpus and replaces half of those
spoofs (chosen by a hash of the file id) with their vocoder-B renders, same
draws; eval is untouched, so models trained on either corpus meet the same
eval trials.

    python -m detectors.voice_clone.vocoder_transfer --corpus DIR --vocoder B.pt --derive-corpus NEW_DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from audio.encode import write_audio
from detectors.voice_clone.chain import Chain, TooShortError
from detectors.voice_clone.corpus import (
    CorpusError,
    config_from_manifest,
    item_rng,
    plan_corpus,
    raw_audio,
    read_metadata,
)
from detectors.voice_clone.datasets import Trial
from detectors.voice_clone.sources import BONAFIDE_SOURCES, BonafideSource
from detectors.voice_clone.vocoders import neural_resynth

FAMILY = "neural"


class TransferError(RuntimeError):
    pass


@dataclass(frozen=True)
class Rendered:
    file_id: str
    path: Path
    band: str
    codec: str
    same_draws: bool  # the chain drew the codec the corpus item has (draws not shifted)


def _rows(corpus: Path) -> dict[str, dict[str, str]]:
    return {r["file_id"]: r for r in read_metadata(corpus)}


def render_with_vocoder(corpus: Path, vocoder: Path, out_dir: Path, splits: tuple[str, ...] = ("eval",),
                        bonafide_sources: Iterable[BonafideSource] = BONAFIDE_SOURCES) -> list[Rendered]:
    """Re-render the corpus' spoofs of family ``neural`` in ``splits`` with ``vocoder``, same chain draws.

    ``bonafide_sources`` must be those the corpus was built from (the default for
    ``verifier corpus voice``): the plan is recomputed from them and the manifest,
    once per call (about two minutes for the full sources), so ask for every split at once."""
    rows = _rows(corpus)
    cfg = config_from_manifest(corpus)
    chain = Chain(cfg.chain)
    planned = [i for i in plan_corpus(cfg, bonafide_sources, ())
               if i.key == "spoof" and i.family == FAMILY and i.split in splits and i.file_id in rows]
    if not planned:
        raise TransferError(f"{corpus}: no {'/'.join(splits)}-split spoofs of family {FAMILY!r} (was it built with the same sources?)")
    out: list[Rendered] = []
    (out_dir / "flac").mkdir(parents=True, exist_ok=True)
    for item in planned:
        row = rows[item.file_id]
        r = item_rng(cfg.seed, item.file_id)  # the generator the corpus used for this item
        x, rate = raw_audio(item)
        x = neural_resynth(x, rate, r, weights=vocoder)
        try:
            y, meta = chain.run(x, rate, row["band"], r)  # type: ignore[arg-type]
        except TooShortError:
            continue  # B's output trimmed below the chain's minimum: the pair is dropped, A's twin too (see trials)
        path = write_audio(out_dir / "flac" / f"{item.file_id}.flac", y, cfg.chain.rate, "flac")
        out.append(Rendered(item.file_id, path, meta.band, meta.codec, meta.codec == row["codec"]))
    return out


def _swapped(file_id: str) -> bool:
    """Deterministic, order-free half of the items: odd first byte of the id's SHA-256."""
    return hashlib.sha256(file_id.encode()).digest()[0] % 2 == 1


def derive_mixed_corpus(corpus: Path, vocoder: Path, out: Path,
                        bonafide_sources: Iterable[BonafideSource] = BONAFIDE_SOURCES) -> dict:
    """Copy ``corpus`` to ``out`` with half of its train and dev ``neural`` spoofs rendered by ``vocoder``.

    Metadata, protocol and manifest are copied unchanged (the swapped items keep
    their ids, family, split and band); the list of swapped ids and the
    vocoder's SHA-256 go to ``mixed_vocoder.json``. Files are hard-linked where
    the file system allows, else copied."""
    out = Path(out)
    if out.exists():
        raise TransferError(f"{out} exists; give a new directory for the derived corpus")
    renders = out.with_name(out.name + "_renders")
    rendered = render_with_vocoder(corpus, vocoder, renders, ("train", "dev"), bonafide_sources)
    swap = {r.file_id: r.path for r in rendered if _swapped(r.file_id)}
    out.mkdir(parents=True)
    for p in Path(corpus).iterdir():
        if p.name != "flac":
            (shutil.copytree if p.is_dir() else shutil.copy2)(p, out / p.name)
    (out / "flac").mkdir()
    for f in (Path(corpus) / "flac").iterdir():
        src = swap.get(f.stem, f)
        try:
            os.link(src, out / "flac" / f.name)
        except OSError:
            shutil.copy2(src, out / "flac" / f.name)
    shutil.rmtree(renders)
    record = {"source_corpus": str(corpus), "vocoder": str(vocoder),
              "vocoder_sha256": hashlib.sha256(Path(vocoder).read_bytes()).hexdigest(),
              "rendered": len(rendered), "swapped": sorted(swap)}
    (out / "mixed_vocoder.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def trials(corpus: Path, rendered: list[Rendered], split: str = "eval") -> tuple[list[Trial], list[Trial], list[Trial]]:
    """(bona fide, vocoder A spoofs, vocoder B spoofs) of the same split."""
    rows = _rows(corpus)
    flac = corpus / "flac"
    bona = [Trial(flac / f"{k}.flac", 0, "-", r["speaker"]) for k, r in rows.items() if r["split"] == split and r["key"] == "bonafide"]
    a = [Trial(flac / f"{x.file_id}.flac", 1, FAMILY, rows[x.file_id]["speaker"]) for x in rendered]
    b = [Trial(x.path, 1, FAMILY + "_b", rows[x.file_id]["speaker"]) for x in rendered]
    return bona, a, b


def measure(model: Path, bona: list[Trial], a: list[Trial], b: list[Trial]) -> dict:
    import torch

    from detectors.metrics import auc, eer
    from detectors.voice_clone.evaluate import score_trials
    from detectors.voice_clone.scoring import load_bundle

    torch.set_num_threads(1)
    bundle = load_bundle(model)
    sb, sa, sv = (score_trials(bundle, t) for t in (bona, a, b))
    res: dict = {"model": str(model), "n_bonafide": len(sb.scores), "n_pairs": len(sa.scores)}
    for name, s in (("vocoder_a", sa), ("vocoder_b", sv)):
        scores = np.concatenate([sb.scores, s.scores])
        y = np.concatenate([np.zeros(len(sb.scores)), np.ones(len(s.scores))])
        res[name] = {"eer": eer(scores, y), "auc": auc(scores, y),
                     "median_llr": float(np.median(s.llr)), "llr_gt_0": float(np.mean(s.llr > 0))}
    res["bonafide_llr_gt_0"] = float(np.mean(sb.llr > 0))
    res["b_scores_above_a"] = float(np.mean(sv.scores > sa.scores)) if len(sv.scores) == len(sa.scores) else None
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m detectors.voice_clone.vocoder_transfer", description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--vocoder", type=Path, required=True, help="GAN vocoder bundle B (gan_vocoder export)")
    ap.add_argument("--model", type=Path, action="append", help="voice model bundle; repeat to compare")
    ap.add_argument("--out", type=Path, help="where the eval renders and vocoder_transfer.json go")
    ap.add_argument("--derive-corpus", type=Path, metavar="NEW_DIR",
                    help="instead: write a copy of the corpus whose train/dev neural spoofs are half vocoder B")
    a = ap.parse_args(argv)
    if a.derive_corpus is not None:
        try:
            rec = derive_mixed_corpus(a.corpus, a.vocoder, a.derive_corpus)
        except (TransferError, CorpusError) as exc:
            ap.exit(2, f"error: {exc}\n")
        print(json.dumps({k: v for k, v in rec.items() if k != "swapped"} | {"swapped": len(rec["swapped"])}, indent=2))
        return 0
    if not a.model or a.out is None:
        ap.error("--model and --out are required (or --derive-corpus)")
    try:
        rendered = render_with_vocoder(a.corpus, a.vocoder, a.out)
    except (TransferError, CorpusError) as exc:
        ap.exit(2, f"error: {exc}\n")
    bona, ta, tb = trials(a.corpus, rendered)
    res = {"corpus": str(a.corpus), "vocoder_b": str(a.vocoder), "pairs": len(rendered),
           "same_draws": sum(r.same_draws for r in rendered),
           "rendered": [asdict(r) | {"path": str(r.path)} for r in rendered],
           "models": [measure(m, bona, ta, tb) for m in a.model]}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "vocoder_transfer.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res["models"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
