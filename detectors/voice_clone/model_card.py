"""Write the model card that must accompany any shipped voice model.

The card is generated from the bundle's own training record and from
``verifier eval voice`` outputs, never typed by hand, so the numbers in it are
the numbers that were measured for exactly these weights (the SHA-256 ties
them together).

    python -m detectors.voice_clone.model_card MODEL.pt EVAL_DIR/metrics.json [...] \
        [--unseen unseen_bonafide.json] [--lofo FAMILY=LOFO_EVAL_DIR/metrics.json ...] [--preamble TEXT.md] > MODEL_CARD.md

``--unseen`` is the output of ``python -m detectors.voice_clone.unseen_bonafide``;
``--lofo`` gives, per left-out family, the ``metrics.json`` of the model trained
without it; ``--preamble`` is hand-written text (status, data, licences) put
after the title.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from detectors.voice_clone.scoring import load_bundle


def _fusion_lines(rec: dict) -> list[str]:
    """What an ``lfcc_ge2e`` bundle is made of: the CNN it took, the encoder, the head, the fusion."""
    if "fusion" not in rec:
        return []
    cnn, head, dev = rec["cnn"], rec["head"], rec["dev_eer"]
    return [
        f"- CNN: `{cnn.get('from')}` (SHA-256 `{cnn.get('sha256')}`), trained on `{cnn.get('record', {}).get('corpus')}`",
        f"- GE2E encoder: the resemblyzer wheel's `pretrained.pt`, SHA-256 `{rec['ge2e_weights_sha256']}` (frozen, not in this file)",
        f"- head: L2 logistic regression on {head['train_windows']} train windows, l2 {head['l2']} chosen by dev EER",
        f"- fusion ({rec['fusion'].get('fitted_on', 'dev')}): logit = {rec['fusion']['weights'][0]:.3f} x CNN + "
        f"{rec['fusion']['weights'][1]:.3f} x head {rec['fusion']['bias']:+.3f}; dev EER CNN {dev['cnn']:.4f}, "
        f"head {dev['head']:.4f}, fused {dev['fused']:.4f}",
        *_fold_lines(rec["fusion"].get("unseen_family_folds") or {}),
    ]


def _fold_lines(folds: dict) -> list[str]:
    if not folds:
        return []
    return ["- unseen-family folds of the fusion (a CNN trained without the family, the head refitted without it; "
            "dev bona fide against the family's dev spoofs):"] + [
        f"  - {family}: CNN `{f['cnn_sha256'][:12]}...` dev EER {f['dev_eer_cnn']:.4f}, head {f['dev_eer_head']:.4f}"
        for family, f in sorted(folds.items())]


def model_card(
    model: Path, metrics_files: list[Path], unseen: Path | None = None, lofo: dict[str, Path] | None = None,
    preamble: str = "",
) -> str:
    b = load_bundle(model)
    rec = b.record
    lines = [
        f"# Voice spoofing model `{b.config.name}`",
        "",
        *([preamble.rstrip(), ""] if preamble else []),
        f"- weights: `{Path(model).name}`, SHA-256 `{b.sha256}`",
        f"- input: {b.config.feature}, {b.config.sample_rate} Hz, band `{b.config.band}`",
        f"- training corpus: `{rec.get('corpus')}` ({rec.get('train_files')} train files, {rec.get('train_spoof')} spoof; "
        f"{rec.get('dev_files')} dev files for model selection and calibration)",
        f"- hyper-parameters: `{json.dumps(rec.get('train_config', {}), sort_keys=True)}`",
        *_fusion_lines(rec),
        f"- selected epoch: {rec.get('selected_epoch', '-')}; calibration (natural-log units): `{json.dumps(rec.get('calibration'))}`",
        f"- torch {rec.get('torch')}",
        "",
        "## Measured on data not used for training or calibration",
        "",
        "| dataset | trials | EER | AUC | minDCF | Cllr | FA at LLR>0 | FA at LLR>1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mf in metrics_files:
        m = json.loads(Path(mf).read_text())
        o, fa = m["overall"], m["bonafide_false_alarm"]
        ds = m.get("dataset", {})
        cell = lambda k: f"{o[k]:.4f}" if k in o else "-"
        lines.append(
            f"| {ds.get('path')} ({ds.get('format')}/{ds.get('split')}) | {ds.get('trials')} | {cell('eer')} | {cell('auc')} | "
            f"{cell('min_dcf')} | {cell('cllr')} | {_rate(fa['llr_gt_0'])} | {_rate(fa['llr_gt_1'])} |"
        )
        if m.get("per_family"):
            lines.append("")
            lines.append("| family | EER | AUC |")
            lines.append("|---|---|---|")
            for f, fm in m["per_family"].items():
                lines.append(f"| {f} | {fm['eer']:.4f} | {fm['auc']:.4f} |")
            lines.append("")
        if "shortcut_check" in m:
            lines.append(f"Shortcut check (logistic regression on {', '.join(m['shortcut_check']['features'])}): "
                         f"AUC {m['shortcut_check']['auc']:.3f}")
            lines.append("")
    if lofo:
        base = json.loads(Path(metrics_files[0]).read_text()).get("per_family", {}) if metrics_files else {}
        lines += [
            "## Leave one family out",
            "",
            "EER on the left-out family in eval (all eval bona fide vs that family), for a model trained without it in train "
            "and dev; next to it the EER of the model above, which saw the family in training.",
            "",
            "| left-out family | EER unseen | AUC unseen | EER seen (model above) | epochs |",
            "|---|---|---|---|---|",
        ]
        for fam, mf in lofo.items():
            m = json.loads(Path(mf).read_text())
            fm = m.get("per_family", {}).get(fam)
            mb = load_bundle(Path(m["model"]["path"])) if Path(m["model"]["path"]).is_file() else None
            ep = mb.record.get("train_config", {}).get("epochs") if mb else "?"
            seen = base.get(fam, {}).get("eer")
            lines.append(
                f"| {fam} | {fm['eer']:.4f} | {fm['auc']:.4f} | {'-' if seen is None else f'{seen:.4f}'} | {ep} |"
                if fm else f"| {fam} | no trials | - | - | {ep} |"
            )
        lines.append("")
    if unseen:
        u = json.loads(Path(unseen).read_text())
        ml = u["model_level"]
        lines += [
            "## Unseen natural bona fide speech",
            "",
            f"{u['files']} files ({u['fsdd_files']} FSDD digit strings, 6 speakers, 8 kHz; the JFK clip), "
            "`python -m detectors.voice_clone.unseen_bonafide`:",
            "",
            f"- model level (file LLR as `eval` computes it): false alarms at LLR > 0: {ml['fa_llr_gt_0']:.3f}, "
            f"at LLR > 1: {ml['fa_llr_gt_1']:.3f}; median LLR {ml['median_llr']:+.2f}; JFK LLR "
            f"{'-' if ml['jfk_llr'] is None else format(ml['jfk_llr'], '+.2f')}",
        ]
        if "verify_finance" in u:
            vf = u["verify_finance"]
            lines.append(
                f"- `verifier verify --detectors voice_clone --profile finance`: `likely_manipulated` for "
                f"{vf['likely_manipulated']:.3f} of the files (verdicts {json.dumps(vf['labels'])}; detector not applicable "
                f"on {vf['detector_not_applicable']})"
            )
        h = u.get("heldout_speakers")
        if h:
            hl = h["model_level"]
            lines += [
                "",
                f"Held-out corpus speakers, as published (`--heldout-speakers`): {h['files']} recordings of the "
                "eval-split speakers (never trained or calibrated on), without the corpus chain:",
                "",
                f"- model level: false alarms at LLR > 0: {hl['fa_llr_gt_0']:.3f}, at LLR > 1: {hl['fa_llr_gt_1']:.3f}; "
                f"median LLR {hl['median_llr']:+.2f}",
            ]
            if "verify_finance" in h:
                vf = h["verify_finance"]
                lines.append(
                    f"- `verify --profile finance`: `likely_manipulated` for {vf['likely_manipulated']:.4f} "
                    f"(one-sided 95 % upper bound {vf['likely_manipulated_upper95']:.4f}; verdicts {json.dumps(vf['labels'])}; "
                    f"detector not applicable on {vf['detector_not_applicable']})"
                )
                bs = vf.get("by_speaker")
                if bs:
                    lines.append(
                        f"- by voice (errors cluster by speaker): {bs['speakers_flagged']} of {bs['speakers']} speakers had a "
                        f"file flagged (95 % bound {bs['speakers_flagged_upper95']:.2f}); file rate, bootstrap over speakers: "
                        f"95 % bound {bs['file_rate_speaker_bootstrap_upper95']:.4f}; flagged files by speaker "
                        f"{json.dumps(bs['flagged_files_by_speaker'])}"
                    )
            lines.append("- per speaker, share with LLR > 0 (files): " + ", ".join(
                f"{k} {v[0]:.2f} ({v[1]})" for k, v in h["per_speaker_fa_llr_gt_0"].items()))
        lines.append("")
    return "\n".join(lines) + "\n"


def _rate(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Model card from measured results")
    ap.add_argument("model", type=Path)
    ap.add_argument("metrics", type=Path, nargs="*")
    ap.add_argument("--unseen", type=Path)
    ap.add_argument("--lofo", action="append", default=[], help="FAMILY=metrics.json")
    ap.add_argument("--preamble", type=Path)
    a = ap.parse_args(argv)
    lofo = dict(x.split("=", 1) for x in a.lofo)
    sys.stdout.write(model_card(
        a.model, a.metrics, a.unseen, {k: Path(v) for k, v in lofo.items()},
        a.preamble.read_text() if a.preamble else "",
    ))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
