"""CLI commands for the face-swap detector: corpus, train, eval.

Plain functions with Typer annotations, mounted by ``verifier/cli.py`` as
``verifier corpus faces``, ``verifier train faces`` and ``verifier eval
faces``. Heavy imports (torch, dlib, cv2) happen inside the commands so the
rest of the CLI starts fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from verifier.shared_dir import shared_dir

DEFAULT_MEDIA = shared_dir() / "media"


def _echo_err(msg: str) -> None:
    typer.echo(msg, err=True)


def faces_corpus_cmd(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write crops/, manifest.jsonl and corpus.json.")],
    media_root: Annotated[Optional[Path], typer.Option("--media-root", help="Shared development media folder (real faces).")] = None,
    dataset: Annotated[Optional[Path], typer.Option("--dataset", help="A FaceForensics++/Celeb-DF/DFDC/folder tree.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Layout of --dataset: ffpp, celebdf, dfdc or folder.")] = "folder",
    fps: Annotated[float, typer.Option(help="Frames per second sampled from videos.")] = 4.0,
    seed: Annotated[int, typer.Option(help="Seed of the identity split.")] = 0,
    no_package_images: Annotated[bool, typer.Option("--no-package-images", help="Skip scikit-image's astronaut.")] = False,
    no_noncommercial: Annotated[bool, typer.Option("--no-noncommercial", help="Leave out CodeFormer (eval-only) images.")] = False,
    max_seconds: Annotated[Optional[float], typer.Option(help="Read at most this much of each video.")] = None,
    max_files: Annotated[Optional[int], typer.Option(help="Use at most this many source files (smoke tests).")] = None,
) -> None:
    """Extract aligned face crops from real faces, split by identity into train / calibration / test."""
    from detectors.face_swap.corpus import CorpusConfig, CorpusError, build_corpus, sources_for
    from detectors.face_swap.datasets import DatasetLayoutError

    if media_root is None and dataset is None:
        media_root = DEFAULT_MEDIA
    cfg = CorpusConfig(fps=fps, seed=seed, include_package_images=not no_package_images,
                       include_noncommercial_eval=not no_noncommercial, max_seconds=max_seconds, max_files=max_files)
    try:
        # package images are written next to the crops so the corpus stays reproducible
        srcs = sources_for(media_root, dataset, fmt, cfg, Path(out_dir) / "package_images", _echo_err)
        corpus = build_corpus(out_dir, srcs, cfg, _echo_err)
    except (CorpusError, DatasetLayoutError) as exc:
        _echo_err(f"error: {exc}")
        raise typer.Exit(1) from exc
    typer.echo(json.dumps({s: len(corpus.split(s)) for s in ("train", "calibration", "test")}))


def faces_train_cmd(
    corpus: Annotated[Path, typer.Option("--corpus", help="Corpus directory from `verifier corpus faces`.")],
    out: Annotated[Path, typer.Option(help="Where to write the weight bundle (.pt).")] = Path("face_swap_sbi.pt"),
    seed: Annotated[int, typer.Option()] = 0,
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 1800,
    batch_size: Annotated[int, typer.Option(help="Crops per step (half real, half their SBIs).")] = 32,
    lr: Annotated[float, typer.Option()] = 2e-3,
    eval_every: Annotated[int, typer.Option(help="Evaluate on the calibration split every N steps.")] = 200,
    max_minutes: Annotated[Optional[float], typer.Option(help="Stop after this long, keeping the best model.")] = None,
    threads: Annotated[int, typer.Option(help="torch threads; keep 1 on shared machines.")] = 1,
    highpass: Annotated[bool, typer.Option("--highpass/--no-highpass", help="Frequency branch: also feed x - blur(x).")] = True,
    strong_aug: Annotated[bool, typer.Option("--strong-aug/--standard-aug", help="Whole-frame colour/gamma/smoothing augmentation.")] = True,
    cross_blend: Annotated[float, typer.Option(
        min=0.0, max=1.0,
        help="Share of pseudo-fakes that paste another training identity's face (Face X-ray blends) instead of a self-blend.")] = 0.0,
) -> None:
    """Train the SBI face-swap CNN on real crops and calibrate it on held-out identities."""
    from detectors.face_swap.train import TrainConfig, TrainError, train

    cfg = TrainConfig(seed=seed, steps=steps, batch_size=batch_size, lr=lr, eval_every=min(eval_every, steps),
                      max_minutes=max_minutes, threads=threads, highpass=highpass, strong_aug=strong_aug,
                      cross_blend=cross_blend)
    try:
        res = train(corpus, out, cfg, _echo_err)
    except TrainError as exc:
        _echo_err(f"error: {exc}")
        raise typer.Exit(1) from exc
    typer.echo(json.dumps({"model": str(res.path), "sha256": res.sha256,
                           "calibration_metrics": res.bundle.record.get("calibration_metrics")}, indent=2))


def faces_eval_cmd(
    dataset: Annotated[Path, typer.Option("--dataset", help="Data set root.")],
    fmt: Annotated[str, typer.Option("--format", help="ffpp, celebdf, dfdc or folder.")] = "folder",
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for report.json, report.md, scores.json, roc.png.")] = Path("face_swap_eval"),
    weights: Annotated[Optional[Path], typer.Option(help="Weight bundle (default: the shipped one).")] = None,
    split: Annotated[Optional[str], typer.Option(help="Only items of this split (when the layout defines splits).")] = None,
    sample_fps: Annotated[float, typer.Option(help="Frames per second scored.")] = 3.0,
    max_seconds: Annotated[Optional[float], typer.Option(help="Score at most this much of each video.")] = None,
    max_items: Annotated[Optional[int], typer.Option(help="Evaluate at most this many items.")] = None,
) -> None:
    """Frame- and video-level AUC, EER, Cllr, a ROC plot and a per-manipulation table."""
    from detectors.face_swap.crops import CropOptions
    from detectors.face_swap.datasets import DatasetLayoutError
    from detectors.face_swap.evaluate import evaluate_dataset, markdown_table
    from detectors.face_swap.net import BundleError
    from detectors.face_swap.scoring import DEFAULT_WEIGHTS

    try:
        rep = evaluate_dataset(dataset, fmt, out_dir, weights or DEFAULT_WEIGHTS,
                               CropOptions(sample_fps=sample_fps, max_seconds=max_seconds), split, max_items, _echo_err)
    except (DatasetLayoutError, BundleError) as exc:
        _echo_err(f"error: {exc}")
        raise typer.Exit(1) from exc
    typer.echo(markdown_table(rep))
    typer.echo(json.dumps({k: rep[k] for k in ("video", "frame")}, indent=2))
