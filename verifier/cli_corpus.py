"""`verifier corpus ...`: build training corpora from what this machine has installed.

The builder installs nothing. It checks first and prints the exact
``apt-get install`` / ``pip install`` lines for whatever is missing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

corpus_app = typer.Typer(help="Build detector training corpora from local Debian packages (installs nothing).")


@corpus_app.command("voice")
def voice(
    out_dir: Path = typer.Argument(..., help="Directory to write flac/, protocol/, metadata.csv, manifest.json."),
    seed: int = typer.Option(0, help="Seed for every random choice (the corpus is reproducible)."),
    max_bonafide_per_speaker: int = typer.Option(0, help="Cap bona fide files per speaker (0 = all)."),
    tts_per_voice: int = typer.Option(60, help="Sentences rendered per TTS voice."),
    resynth_fraction: float = typer.Option(0.6, help="Share of bona fide files also resynthesised by a vocoder."),
    check: bool = typer.Option(False, "--check", help="Only report what is missing, then exit."),
    allow_missing: bool = typer.Option(False, help="Build from what is present instead of failing."),
) -> None:
    """Voice-spoofing corpus: bona fide telephone prompts vs TTS and vocoder spoofs, one chain for both."""
    from detectors.voice_clone.corpus import CorpusConfig, CorpusError, build_corpus
    from detectors.voice_clone.sources import check_sources

    missing = check_sources()
    if missing:
        typer.echo("Missing corpus sources:", err=True)
        for m in missing:
            typer.echo(f"  - {m.hint()}", err=True)
        apt = sorted({m.apt_package for m in missing if m.apt_package})
        if apt:
            typer.echo(f"Install them with:\n  apt-get install {' '.join(apt)}", err=True)
        if check or not allow_missing:
            raise typer.Exit(2)
    elif check:
        typer.echo("All voice corpus sources are present.")
        raise typer.Exit(0)
    cfg = CorpusConfig(
        seed=seed,
        max_bonafide_per_speaker=max_bonafide_per_speaker or None,
        tts_per_voice=tts_per_voice,
        resynth_fraction=resynth_fraction,
    )
    t0 = time.monotonic()

    def progress(i: int, n: int) -> None:
        if i % 250 == 0:
            typer.echo(f"  {i}/{n} items, {time.monotonic() - t0:.0f} s", err=True)

    try:
        manifest = build_corpus(out_dir, cfg, progress=progress)
    except CorpusError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    summary = {k: manifest[k] for k in ("files", "hours", "by_split_key", "hours_by_split_key", "skipped")}
    typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
