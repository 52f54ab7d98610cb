"""Break a corpus evaluation down by channel condition and by bona fide speaker.

    python -m detectors.voice_clone.breakdown EVAL_DIR CORPUS_DIR [--json OUT.json]

Reads ``scores.tsv`` written by ``verifier eval voice --format corpus`` and the
corpus ``metadata.csv``; reports EER / AUC for the 8 kHz telephone band vs the
wide band, for codec round trips vs none, and the false-alarm rate (LLR > 0)
of every bona fide speaker of the split.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from detectors.metrics import auc, eer
from detectors.voice_clone.corpus import read_metadata


def breakdown(eval_dir: Path, corpus_dir: Path) -> dict:
    meta = {r["file_id"]: r for r in read_metadata(corpus_dir)}
    rows = []
    for line in (Path(eval_dir) / "scores.tsv").read_text(encoding="utf-8").splitlines():
        path, label, family, score, llr = line.split("\t")
        m = meta.get(Path(path).stem)
        if m is not None:
            rows.append((m, int(label), float(score), float(llr)))
    s = np.array([r[2] for r in rows])
    y = np.array([r[1] for r in rows])
    llr = np.array([r[3] for r in rows])

    def cond(name: str, sel: np.ndarray) -> dict:
        out = {"condition": name, "n_bonafide": int((y[sel] == 0).sum()), "n_spoof": int((y[sel] == 1).sum())}
        if out["n_bonafide"] and out["n_spoof"]:
            out["eer"] = round(eer(s[sel], y[sel]), 4)
            out["auc"] = round(auc(s[sel], y[sel]), 4)
        if out["n_bonafide"]:
            out["fa_llr_gt_0"] = round(float(np.mean(llr[sel & (y == 0)] > 0)), 4)
        return out

    band = np.array([r[0]["band"] for r in rows])
    codec = np.array([r[0]["codec"] for r in rows])
    conditions = [
        cond("telephone band (8 kHz, 300-3400 Hz)", band == "tel"),
        cond("wide band (16 kHz, 60-7600 Hz)", band == "wide"),
        cond("codec round trip", codec != "none"),
        cond("no codec", codec == "none"),
    ]
    speakers = {}
    for spk in sorted({r[0]["speaker"] for r in rows if r[1] == 0}):
        sel = np.array([r[1] == 0 and r[0]["speaker"] == spk for r in rows])
        speakers[spk] = {"n": int(sel.sum()), "fa_llr_gt_0": round(float(np.mean(llr[sel] > 0)), 4),
                         "median_llr": round(float(np.median(llr[sel])), 3)}
    return {"eval_dir": str(eval_dir), "conditions": conditions, "bonafide_speakers": speakers}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("eval_dir", type=Path)
    ap.add_argument("corpus_dir", type=Path)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    res = breakdown(a.eval_dir, a.corpus_dir)
    text = json.dumps(res, indent=2, ensure_ascii=False)
    if a.json:
        a.json.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
