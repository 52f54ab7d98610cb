"""`verifier train ...`: train detectors on corpora built by `verifier corpus`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

train_app = typer.Typer(help="Train detector models on a locally built corpus (CPU, deterministic).")


@train_app.command("voice")
def voice(
    corpus: Path = typer.Option(None, "--corpus", help="Corpus directory from `verifier corpus voice`."),
    dataset: Path = typer.Option(None, "--dataset", help="Or a public data set, read in place (with --format)."),
    fmt: str = typer.Option(None, "--format", help="Layout of --dataset: asvspoof2019 | asvspoof5 | itw | wavefake | folder."),
    protocol: Path = typer.Option(None, help="--dataset: the train protocol (ASVspoof) or meta file, when not found by name."),
    dev_protocol: Path = typer.Option(None, help="--dataset: the dev protocol (ASVspoof). Found by name unless --protocol is given; with --protocol alone, dev is a share of its speakers."),
    dev_share: float = typer.Option(0.2, help="--dataset without a published dev split: share of speakers (or files) held out for dev."),
    out: Path = typer.Option(Path("voice_model.pt"), help="Where to write the model bundle (.pt)."),
    model: str = typer.Option("lfcc_lcnn", help="lfcc_lcnn (cepstra), spec_lcnn (log spectrogram, harmonic detail), mgd_lcnn (group delay cepstra: phase), lfcc_mgd_lcnn (both), ge2e_head (a head on the states of the pretrained GE2E speech encoder), lfcc_ge2e (LFCC CNN fused with that head) or rawnet_lite (waveform)."),
    seed: int = typer.Option(0),
    epochs: int = typer.Option(8),
    batch_size: int = typer.Option(32),
    exclude_family: list[str] = typer.Option([], help="Spoof families left out of train/dev (repeatable)."),
    max_train_files: int = typer.Option(0, help="Subsample the train split (0 = all)."),
    threads: int = typer.Option(1, help="torch threads; keep 1 on shared machines."),
    input_norm: str = typer.Option("global", help="global (train-set mean/std) or window (also remove each window's mean: CMN)."),
    speed_perturb: list[float] = typer.Option([], help="Speed-perturbation factor for train files, e.g. 0.9 (repeatable)."),
    width: int = typer.Option(1, help="Channel multiplier of the CNN (2: four times the parameters)."),
    head: str = typer.Option("linear", help="CNN models: linear (cross-entropy) or one_class (OC-softmax: compact bona fide, spoofs anywhere else)."),
    cnn_from: Path = typer.Option(None, "--cnn-from", help="lfcc_ge2e only: take the CNN from this lfcc_lcnn bundle instead of training one."),
    lofo_cnn: list[str] = typer.Option([], "--lofo-cnn", help="lfcc_ge2e only: FAMILY=PATH, an lfcc_lcnn bundle trained with --exclude-family FAMILY (repeatable); the fusion is then also fitted on families the models never saw."),
) -> None:
    """Train a spoofing model, pick the epoch by dev EER, calibrate on dev (never touches eval).

    With --dataset, a public data set is read where it lies; the files used
    and their split are written to OUT.training-view/metadata.csv."""
    from detectors.voice_clone.corpus import CorpusError
    from detectors.voice_clone.datasets import DatasetError
    from detectors.voice_clone.training_view import write_training_view

    if (corpus is None) == (dataset is None):
        typer.echo("error: give either --corpus (from `verifier corpus voice`) or --dataset with --format", err=True)
        raise typer.Exit(2)
    if dataset is not None:
        if fmt is None:
            typer.echo("error: --dataset needs --format (asvspoof2019, asvspoof5, itw, wavefake or folder)", err=True)
            raise typer.Exit(2)
        try:
            view = write_training_view(dataset, fmt, out.parent / f"{out.name}.training-view", protocol=protocol,
                                       dev_protocol=dev_protocol, dev_share=dev_share, seed=seed)
        except DatasetError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"training view {view.directory}: {view.counts} ({view.split_rule})", err=True)
        corpus = view.directory
    from detectors.voice_clone.train import TrainConfig, TrainError, train

    cfg = TrainConfig(
        model=model, seed=seed, epochs=epochs, batch_size=batch_size, exclude_families=tuple(exclude_family),
        max_train_files=max_train_files or None, threads=threads, input_norm=input_norm,
        speed_perturb=tuple(speed_perturb), width=width, head=head,
    )
    from detectors.voice_clone.models import GE2E_MODELS
    from detectors.voice_clone.scoring import BundleError
    from detectors.voice_clone.train_ge2e import lofo_cnn_paths, train_ge2e_model

    if (cnn_from is not None or lofo_cnn) and model != "lfcc_ge2e":
        typer.echo("error: --cnn-from and --lofo-cnn go with --model lfcc_ge2e", err=True)
        raise typer.Exit(2)
    log = lambda m: typer.echo(m, err=True)  # noqa: E731
    try:
        if model in GE2E_MODELS:
            bundle = train_ge2e_model(corpus, cfg, cnn_from, log=log, lofo_cnns=lofo_cnn_paths(lofo_cnn))
        else:
            bundle = train(corpus, cfg, log=log).bundle
    except (TrainError, CorpusError, BundleError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    sha = bundle.save(out)
    typer.echo(json.dumps({"model": str(out), "sha256": sha, "record": bundle.record}, indent=2))
