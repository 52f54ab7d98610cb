"""What `verify` concludes on pasted face swaps when the face detectors run together.

    python -m detectors.face_swap.verdict_eval --work /tmp/face_motion [--detectors face_swap,face_motion] [--conditions]
        [--with-target-audio]   # with --detectors face_swap,face_motion,face_identity_consistency,av_sync,voice_clone

The face-swap CNN and the face-motion cue are each measured on their own
(MODEL_CARD.md, FACE_MOTION.md). A user runs them together, and the verdict
adds their log LRs. The CNN ranks these swaps *below* the real clips (AUC
0.375 held out), so its LLR can cancel the motion cue's: this measures the
verdict a user actually gets, on the same real clips and the same swaps
(``motion_eval`` makes them under ``--work``; made here if missing, 11-30
min). Every file goes through ``Verifier.verify`` exactly as the CLI runs it
(finance profile, no ledger).

Reported twice: for the identities both models held out (the face-swap
CNN's test clips d11, d18, d3, d9: 4 real clips, 16 swaps onto them), which
is the honest figure, and for all 14 clips and 56 swaps, where both models
had seen the other identities' real clips. Real clips are read whole; swaps
are their first ``--seconds``. ``--conditions``: the same files re-encoded
(H.264 CRF 23, CRF 32, 480 lines; both classes through one encoder, the
copies ``motion_eval --conditions`` makes), each judged the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from detectors.face_swap.evaluate_heldout import CONDITIONS, condition_file, make_fakes
from detectors.face_swap.motion_eval import SHARED, real_clips, test_identities
from detectors.metrics import auc_between as auc

DEFAULT_DETECTORS = ("face_swap", "face_motion")


class TooFewClipsError(RuntimeError):
    """Fewer than 4 talking-head clips under --media: no swaps can be made."""


@dataclass(frozen=True)
class VerdictRow:
    name: str
    swap: bool
    target: str  # the identity whose clip it is (for a swap: the clip the face was pasted onto)
    method: str  # "-" for a real clip, else the blending
    label: str  # the verdict under the finance profile
    llr: float | None  # the verdict's combined log10 LR (None: no detector applicable)
    by_detector: dict[str, float | None]  # each finding's LLR (None: not applicable)
    findings: list[dict] = field(default_factory=list)  # the applicable findings, as the verdict weighed them


def judge(verifier, path: Path) -> tuple[str, float | None, dict[str, float | None], list[dict]]:
    out = verifier.verify(path)
    return (out.verdict.label.value, out.verdict.llr,
            {f.detector: (f.llr if f.applicable else None) for f in out.findings},
            [f.model_dump(include={"detector", "version", "modality", "applicable", "llr", "manipulation", "supports_h0"})
             for f in out.findings if f.applicable])


def with_target_audio(rows: list[VerdictRow]) -> list[VerdictRow]:
    """Each swap as a face swap that kept its target's voice and mouth would be judged: its own face
    findings, and the other kinds' findings (voice, soundtrack) of its target's real clip.

    The swaps here are written without sound, and their pasted mouth moves with another clip's
    speech; a swap made by a tool that re-renders the target's expressions keeps the target's
    soundtrack in sync. What the audio detectors would say on it is what they say on the target's
    real clip. Real clips are judged as they are; both sides go through the shipped fusion
    (``verifier.fusion.fuse``) and, for comparison, through the product of every counted LR."""
    from verifier.evidence import Finding, MediaInfo, MediaKind, ProvenanceResult, ProvenanceState
    from verifier.fusion import PROFILES, counted, fuse

    real = {r.name: r for r in rows if not r.swap}
    media, absent, finance = (MediaInfo(kind=MediaKind.video, mime_type="video/mp4"),
                              ProvenanceResult(state=ProvenanceState.absent), PROFILES["finance"])
    out = []
    for r in rows:
        fs = [Finding(**f) for f in r.findings]
        if r.swap and r.target in real:
            fs = [f for f in fs if f.manipulation == "face"] + \
                 [Finding(**f) for f in real[r.target].findings if f["manipulation"] != "face"]
        verdict = fuse(absent, media, fs, finance) if fs else None
        product = sum(f.llr for f in fs if counted(f) and f.llr is not None)
        out.append(VerdictRow(r.name, r.swap, r.target, r.method,
                              verdict.label.value if verdict else "inconclusive",
                              verdict.llr if verdict else None,
                              {**{f.detector: f.llr for f in fs}, "product_of_all": product},
                              [f.model_dump() for f in fs]))
    return out


def summarise(rows: list[VerdictRow], detectors: tuple[str, ...]) -> dict:
    """AUC of each detector's LLR and of the verdict's, swaps against real
    clips (a file a detector declines counts as LLR 0: no evidence), and the
    verdict labels on each side."""
    real = [r for r in rows if not r.swap]
    swaps = [r for r in rows if r.swap]

    def val(r: VerdictRow, key: str | None) -> float:
        v = r.llr if key is None else r.by_detector.get(key)
        return 0.0 if v is None else float(v)

    out: dict = {"real": len(real), "swaps": len(swaps)}
    if not real or not swaps:
        return out
    for key in (*detectors, None):
        out[f"auc_{key or 'verdict'}"] = round(auc([val(r, key) for r in swaps], [val(r, key) for r in real]), 4)
    for side, group in (("real", real), ("swaps", swaps)):
        out[f"labels_{side}"] = dict(Counter(r.label for r in group))
    return out


def _label(llr: float) -> str:
    """The finance profile's label for a combined LLR (the product rule has no Verdict to ask)."""
    from verifier.fusion import PROFILES

    p = PROFILES["finance"]
    return "likely_manipulated" if llr >= p.manipulated_at else "no_manipulation_detected" if llr <= p.cleared_at else "inconclusive"


def run(work: Path, detectors: tuple[str, ...], seconds: float, media: Path, log=print,
        conditions: tuple[str, ...] = ("as_made",), target_audio: bool = False) -> dict:
    clips = real_clips(media)
    if len(clips) < 4:
        raise TooFewClipsError(f"need at least 4 talking-head clips under {media}, found {len(clips)}")
    swaps = make_fakes([(c.stem, c) for c in clips], work, seconds, log)
    files = [(c, False, c.stem, "-", f"real/{c.name}") for c in clips] + \
        [(p, True, target, method, f"fake/{method}/{p.name}") for method, target, p in swaps]
    held = test_identities()
    out: dict = dict(detectors=list(detectors), profile="finance", held_out_identities=sorted(held), conditions={})
    from verifier.config import Settings
    from verifier.pipeline import Verifier

    with tempfile.TemporaryDirectory() as data:
        verifier = Verifier(Settings(data_dir=Path(data), record_to_ledger=False), detector_names=list(detectors))
        for cond in conditions:
            rows: list[VerdictRow] = []
            for i, (path, is_swap, target, method, rel) in enumerate(files):
                label, llr, by, fs = judge(verifier, condition_file(path, cond, work, rel))
                rows.append(VerdictRow(path.stem, is_swap, target, method, label, llr, by, fs))
                log(f"{cond} [{i + 1}/{len(files)}] {path.name}: {label} {llr} {by}")
            out["conditions"][cond] = dict(
                held_out=summarise([r for r in rows if r.target in held], detectors),
                all_clips=summarise(rows, detectors),
                rows=[r.__dict__ for r in rows],
            )
            if target_audio:
                comp = with_target_audio(rows)
                keys = (*detectors, "product_of_all")
                out["conditions"][cond]["with_target_audio"] = dict(
                    held_out=summarise([r for r in comp if r.target in held], keys),
                    all_clips=summarise(comp, keys),
                    product_labels={side: dict(Counter(_label(r.by_detector["product_of_all"]) for r in comp
                                                       if r.swap == is_swap)) for side, is_swap in (("real", False), ("swaps", True))},
                )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/face_motion"), help="where motion_eval made (or will make) the swaps")
    ap.add_argument("--media", type=Path, default=SHARED)
    ap.add_argument("--detectors", default=",".join(DEFAULT_DETECTORS))
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--conditions", action="store_true", help="also judge re-encoded copies (CRF 23, CRF 32, 480p)")
    ap.add_argument("--with-target-audio", action="store_true",
                    help="also judge each swap with its target clip's voice and soundtrack findings (run with the audio "
                         "detectors among --detectors), by the shipped fusion and by the product of all LRs")
    ap.add_argument("--out", type=Path, help="write the rows and summaries here as JSON")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        result = run(args.work, tuple(d.strip() for d in args.detectors.split(",") if d.strip()), args.seconds,
                     args.media, log=lambda m: print(m, file=sys.stderr, flush=True),
                     conditions=tuple(CONDITIONS) if args.conditions else ("as_made",),
                     target_audio=args.with_target_audio)
    except TooFewClipsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result["minutes"] = round((time.perf_counter() - t0) / 60, 1)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({**result, "conditions": {c: {k: v for k, v in r.items() if k != "rows"}
                                               for c, r in result["conditions"].items()}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
