"""A cloned voice in a genuine video call: what the verdict says when every detector runs.

The finance attack: a real video of the executive (or a lip-synced one) with a
cloned voice. The face and soundtrack detectors then see a genuine face and a
mouth in sync with the sound, and say so with negative LLRs; only the voice
detector sees the clone. How the verdict combines them decides whether that
one detector is heard. This module measures it on detector outputs already
computed, no new decoding:

- the face and soundtrack findings of the real talking-head clips with speech,
  as ``face_swap.verdict_eval`` recorded them with every video detector
  (``--detectors face_swap,face_motion,face_identity_consistency,av_sync,voice_clone``);
- the ``voice_clone`` LLRs of genuine calls and of the same calls resynthesised
  (whole, or a middle share spliced in), as ``splice_eval`` recorded them.

Each clip is paired with each call: genuine call -> a genuine video call;
resynthesised call -> the attack. Both go through the shipped fusion
(``verifier.fusion.fuse``, the kinds of manipulation weighed as alternatives)
and, for comparison, through the product of every counted likelihood ratio
(the fusion before the twenty-first session). Pairing assumes the voice
detector's output does not depend on the picture, which holds here: it never
sees the picture.

    python -m detectors.voice_clone.video_call_eval --video DIR/verdict_all.json --calls DIR/splice_eval.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from detectors.metrics import auc_between
from verifier.evidence import Finding, MediaInfo, MediaKind, ProvenanceResult, ProvenanceState
from verifier.fusion import PROFILES, counted, fuse

MEDIA = MediaInfo(kind=MediaKind.video, mime_type="video/mp4")
ABSENT = ProvenanceResult(state=ProvenanceState.absent)


def clip_findings(verdicts: dict) -> dict[str, list[Finding]]:
    """Face and soundtrack findings of each real clip whose soundtrack was judged (it has speech)."""
    rows = verdicts["conditions"]["as_made"]["rows"]
    out = {}
    for r in rows:
        if r["swap"]:
            continue
        fs = [Finding(**f) for f in r.get("findings", []) if f["manipulation"] in ("face", "soundtrack")]
        if any(f.manipulation == "soundtrack" for f in fs) and any(f.manipulation == "face" for f in fs):
            out[r["name"]] = fs
    return out


def combined(findings: list[Finding]) -> tuple[float, float]:
    """(shipped fusion's combined LLR, product of every counted LR as log10)."""
    verdict = fuse(ABSENT, MEDIA, findings, PROFILES["finance"])
    product = sum(f.llr for f in findings if counted(f) and f.llr is not None)
    cap = PROFILES["finance"].max_abs_llr
    return float(verdict.llr), max(-cap, min(cap, product))


def evaluate(verdicts: dict, calls: dict) -> dict:
    clips = clip_findings(verdicts)
    if not clips:
        return {"clips": [], "calls_scored": 0}
    voice = [r for r in calls["rows"] if r.get("applicable") and r.get("llr") is not None]
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for fs in clips.values():
        for r in voice:
            f = Finding(detector="voice_clone", version="splice_eval", modality="audio", applicable=True,
                        llr=float(r["llr"]), manipulation="voice")
            key = "genuine" if r["family"] == "original" else f"{r['family']}/{int(round(r['fraction'] * 100))}%"
            groups[key].append(combined(fs + [f]))
    genuine = groups.pop("genuine", [])
    finance = PROFILES["finance"]

    def shares(vals: list[float]) -> dict:
        n = max(len(vals), 1)
        return {"flagged": round(sum(v >= finance.manipulated_at for v in vals) / n, 4),
                "cleared": round(sum(v <= finance.cleared_at for v in vals) / n, 4)}

    out: dict = {"clips": sorted(clips), "calls_scored": len(voice),
                 "genuine": {"pairs": len(genuine), "mean_over_kinds": shares([g[0] for g in genuine]),
                             "product": shares([g[1] for g in genuine])}}
    for key in sorted(groups, key=lambda k: (k.split("/")[0], -int(k.split("/")[1].rstrip("%")))):
        vals = groups[key]
        out[key] = {"pairs": len(vals)}
        for i, rule in enumerate(("mean_over_kinds", "product")):
            out[key][rule] = {**shares([v[i] for v in vals]),
                              "auc": round(float(auc_between([v[i] for v in vals], [g[i] for g in genuine])), 4)}
    return out


def table(result: dict) -> str:
    g = result["genuine"]
    lines = ["| voice in the call | pairs | flagged: mean over kinds / product | cleared: mean / product | AUC vs genuine: mean / product |",
             "|---|---|---|---|---|",
             f"| genuine | {g['pairs']} | {g['mean_over_kinds']['flagged']} / {g['product']['flagged']} | "
             f"{g['mean_over_kinds']['cleared']} / {g['product']['cleared']} | - |"]
    for key, v in result.items():
        if "/" not in key:
            continue
        m, p = v["mean_over_kinds"], v["product"]
        lines.append(f"| {key} | {v['pairs']} | {m['flagged']} / {p['flagged']} | {m['cleared']} / {p['cleared']} | "
                     f"{m['auc']} / {p['auc']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, required=True, help="verdict_eval --out JSON, run with every video detector")
    ap.add_argument("--calls", type=Path, required=True, help="splice_eval's splice_eval.json")
    ap.add_argument("--out", type=Path, help="write the result here as JSON")
    a = ap.parse_args(argv)
    result = evaluate(json.loads(a.video.read_text()), json.loads(a.calls.read_text()))
    if not result["clips"]:
        print("error: no real clip with face and soundtrack findings in --video (run verdict_eval with every "
              "video detector)", file=__import__("sys").stderr)
        return 2
    if a.out:
        a.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"clips: {', '.join(result['clips'])}; calls scored: {result['calls_scored']}")
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
