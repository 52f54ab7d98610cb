"""The speaker check on two-party calls: is the claimed speaker one of the voices?

A recorded call holds both parties. Read as one voice, the claimed speaker's
speech is averaged with the other party's; ``voices.py`` now splits the
speech into voices and compares the closest one. This script measures both
readings through the detector (``verify --claimed-speaker``), on calls
built from the speaker corpus (``corpus.py``; speakers with at least 5
utterances of about 4 s; one reference file per utterance):

- ``alone``: three of the claimed speaker A's own utterances (not enrolled);
- ``two-party``: A, B, A, B (B another corpus speaker) - genuine calls;
- ``impostor``: three of B's utterances claimed to be A;
- ``impostor-two``: B, C, B, C claimed to be A (neither is A).

0.5 s of silence between utterances. "One voice" is the reading before
the sixteenth session (every partial in one voice), obtained by running the
same detector with the voice split turned off.

Run: ``python -m detectors.speaker.two_party_eval --out DIR`` (about 6 min).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

KINDS = ("alone", "two-party", "impostor", "impostor-two")
GAP_S = 0.5
RATE = 16000
MIN_UTTERANCES = 5
CALLS_PER_SPEAKER = 4


@contextmanager
def one_voice() -> Iterator[None]:
    """The detector with every partial counted as one voice (the reading
    before voices were told apart)."""
    from detectors.speaker import claim
    from detectors.speaker.voices import _voice

    split = claim.voices
    claim.voices = lambda partials: [_voice(partials, np.arange(len(partials.vectors)))]
    try:
        yield
    finally:
        claim.voices = split


def calls_for(a: list, b: list, c: list, k: int) -> dict[str, list]:
    def at(xs: list, i: int):
        return xs[i % len(xs)]

    return {"alone": [at(a, k), at(a, k + 1), at(a, k + 2)],
            "two-party": [at(a, k), at(b, k), at(a, k + 1), at(b, k + 1)],
            "impostor": [at(b, k), at(b, k + 1), at(b, k + 2)],
            "impostor-two": [at(b, k), at(c, k), at(b, k + 1), at(c, k + 1)]}


def joined(utterances: list) -> np.ndarray:
    gap = np.zeros(int(GAP_S * RATE), np.float32)
    return np.concatenate([x for u in utterances for x in (u.samples, gap)])


def run(out: Path, seed: int = 0, log=print) -> dict:
    from audio.encode import write_audio
    from detectors.base import DetectorContext
    from detectors.speaker.claim import SpeakerClaimDetector
    from detectors.speaker.corpus import build
    from detectors.speaker.enroll import EnrolmentError, VoiceStore
    from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    by = defaultdict(list)
    for u in build():
        if u.group == "labelled":
            by[u.speaker].append(u)
    speakers = sorted(s for s, v in by.items() if len(v) >= MIN_UTTERANCES)
    media = MediaInfo(kind=MediaKind.audio, mime_type="audio/wav", streams=[StreamInfo(index=0, kind="audio")])
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        store = VoiceStore(tmp / "refs")
        for a in speakers:
            name = a.replace("/", "_")
            refs = [write_audio(tmp / f"ref_{i}.wav", joined(by[a][i:i + 1]), RATE, "wav") for i in range(3)]
            try:
                store.enroll(name, refs)
            except EnrolmentError as exc:
                log(f"{a}: not enrolled ({exc})")
                continue
            others = [s for s in speakers if s != a]
            for k in range(CALLS_PER_SPEAKER):
                b, c = (str(v) for v in rng.choice(others, 2, replace=False))
                for kind, parts in calls_for(by[a][3:], by[b], by[c], k).items():
                    path = write_audio(tmp / "call.wav", joined(parts), RATE, "wav")
                    ctx = DetectorContext(path=path, media=media,
                                          provenance=ProvenanceResult(state=ProvenanceState.absent),
                                          options={"claimed_speaker": name, "voice_reference_dir": str(tmp / "refs")})
                    f = SpeakerClaimDetector().analyze(ctx)
                    with one_voice():
                        g = SpeakerClaimDetector().analyze(ctx)
                    rows.append(dict(claimed=a, b=b, c=c, kind=kind, llr=f.llr, one_voice_llr=g.llr,
                                     voices_split="voices heard" in f.reason, reason=f.reason))
            log(f"{a}: {sum(r['claimed'] == a for r in rows)} calls")
    summary = summarise(rows)
    (out / "two_party_eval.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
    return summary


def summarise(rows: list[dict]) -> dict:
    out = {}
    for kind in KINDS:
        sel = [r for r in rows if r["kind"] == kind and r["llr"] is not None and r["one_voice_llr"] is not None]
        new = np.array([r["llr"] for r in sel])
        old = np.array([r["one_voice_llr"] for r in sel])
        out[kind] = {"calls": len(sel), "split_into_voices": sum(r["voices_split"] for r in sel),
                     "does_not_match": float(np.mean(new > 0)) if sel else None,
                     "llr_at_least_1": float(np.mean(new >= 1)) if sel else None,
                     "one_voice_does_not_match": float(np.mean(old > 0)) if sel else None,
                     "one_voice_llr_at_least_1": float(np.mean(old >= 1)) if sel else None}
    return out


def table(summary: dict) -> str:
    lines = ["| calls | n | split into voices | LLR > 0 (does not match) | LLR >= 1 | one voice: LLR > 0 | one voice: LLR >= 1 |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for kind, s in summary.items():
        if s["calls"]:
            lines.append(f"| {kind} | {s['calls']} | {s['split_into_voices']} | {s['does_not_match']:.1%} | "
                         f"{s['llr_at_least_1']:.1%} | {s['one_voice_does_not_match']:.1%} | {s['one_voice_llr_at_least_1']:.1%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(table(run(args.out, args.seed, log=lambda m: print(m, file=sys.stderr))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
