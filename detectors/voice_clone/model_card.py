"""Write the model card that must accompany any shipped voice model.

The card is generated from the bundle's own training record and from
``verifier eval voice`` outputs, never typed by hand, so the numbers in it are
the numbers that were measured for exactly these weights (the SHA-256 ties
them together).

    python -m detectors.voice_clone.model_card MODEL.pt EVAL_DIR/metrics.json [...] > MODEL_CARD.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from detectors.voice_clone.scoring import load_bundle


def model_card(model: Path, metrics_files: list[Path]) -> str:
    b = load_bundle(model)
    rec = b.record
    lines = [
        f"# Voice spoofing model `{b.config.name}`",
        "",
        f"- weights: `{Path(model).name}`, SHA-256 `{b.sha256}`",
        f"- input: {b.config.feature}, {b.config.sample_rate} Hz, band `{b.config.band}`",
        f"- training corpus: `{rec.get('corpus')}` ({rec.get('train_files')} train files, {rec.get('train_spoof')} spoof; "
        f"{rec.get('dev_files')} dev files for model selection and calibration)",
        f"- hyper-parameters: `{json.dumps(rec.get('train_config', {}), sort_keys=True)}`",
        f"- selected epoch: {rec.get('selected_epoch')}; calibration (natural-log units): `{json.dumps(rec.get('calibration'))}`",
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
            f"{cell('min_dcf')} | {cell('cllr')} | {fa['llr_gt_0']} | {fa['llr_gt_1']} |"
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
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(model_card(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
