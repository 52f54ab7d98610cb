"""`verifier eval ...`: measure a detector on a labelled dataset it never saw."""

from __future__ import annotations

import json
from pathlib import Path

import typer

eval_app = typer.Typer(help="Evaluate detector models: EER, minDCF, Cllr, AUC, per-family table, plots.")


@eval_app.command("voice")
def voice(
    dataset: Path = typer.Option(..., "--dataset", help="Dataset directory."),
    fmt: str = typer.Option("corpus", "--format", help="corpus | asvspoof2019 | asvspoof5 | itw | wavefake | folder"),
    model: Path = typer.Option(..., "--model", help="Model bundle from `verifier train voice`."),
    out: Path = typer.Option(Path("voice_eval"), help="Directory for metrics.json, scores.tsv and PNGs."),
    protocol: Path = typer.Option(None, help="Protocol file, when the format needs one."),
    split: str = typer.Option("eval", help="Corpus split to score (format corpus)."),
    shortcut_check: bool = typer.Option(False, help="Also fit the shortcut logistic regression (corpus: train -> this split)."),
) -> None:
    """Score every trial, then write metrics.json, scores.tsv, det.png and llr_hist.png."""
    from detectors.voice_clone.corpus import read_metadata
    from detectors.voice_clone.datasets import DatasetError, load_trials
    from detectors.voice_clone.evaluate import score_trials, summarize, write_report
    from detectors.voice_clone.evaluate import shortcut_check as run_shortcut
    from detectors.voice_clone.scoring import BundleError, load_bundle

    try:
        bundle = load_bundle(model)
        trials = load_trials(dataset, fmt, protocol, split)  # type: ignore[arg-type]
    except (BundleError, DatasetError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    seen = None
    corpus = bundle.record.get("corpus")
    excluded = set(bundle.record.get("train_config", {}).get("exclude_families", []))
    if corpus and Path(corpus, "metadata.csv").is_file():
        seen = {r["family"] for r in read_metadata(Path(corpus)) if r["split"] == "train" and r["key"] == "spoof"} - excluded
    sc = score_trials(bundle, trials)
    if not len(sc.trials):
        typer.echo("error: no trial could be scored", err=True)
        raise typer.Exit(1)
    summary = summarize(sc, seen)
    summary["model"] = {"path": str(model), "sha256": bundle.sha256, "excluded_families": sorted(excluded)}
    summary["dataset"] = {"path": str(dataset), "format": fmt, "split": split, "trials": len(sc.trials)}
    if shortcut_check and fmt == "corpus":
        summary["shortcut_check"] = run_shortcut(load_trials(dataset, "corpus", None, "train"), sc.trials)
    files = write_report(out, summary, sc)
    brief = {k: summary[k] for k in ("overall", "bonafide_false_alarm", "spoof_miss", "speed") if k in summary}
    for k in ("seen_families", "unseen_families", "shortcut_check"):
        if k in summary:
            brief[k] = summary[k]
    brief["per_family_eer"] = {f: round(m["eer"], 4) for f, m in summary["per_family"].items()}
    brief["files"] = files
    typer.echo(json.dumps(brief, indent=2))
