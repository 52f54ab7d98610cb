"""Variable frame rate: do genuine clips keep their evidence when frames are dropped?

    python -m detectors.face_swap.vfr_eval --work /tmp/vfr

Each shared talking-head clip with sound is rewritten (H.264 CRF 18, audio
as AAC) with no frame dropped, with 15 % and 35 % of its frames dropped at
random, and with every other frame dropped in its middle third; the frames
kept keep their own times, as in a phone's low-light stretch or a call
recording. Every copy goes through the ``av_sync`` and ``face_motion``
detectors as ``verify`` runs them. A clip's copies should read like its
undropped copy: a drop toward "substituted" or "pasted" would be a false
alarm made by the file's timing, not its content. Printed as a Markdown
table (LLR per copy; n/a: the detector declined, e.g. no speech).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import numpy as np

from detectors.av_sync.evaluate import MEDIA, clip_paths
from detectors.face_swap.rewrite import rewrite_video

DROPS = {"none": None, "15 % at random": 0.15, "35 % at random": 0.35, "every other, middle third": "middle"}
DETECTORS = ("av_sync", "face_motion")


def write_dropped(src: Path, dst: Path, drop: float | str | None, seed: int = 0) -> Path:
    """``src`` re-encoded with frames dropped per ``drop``; kept frames keep their times."""
    rng = np.random.default_rng(seed)

    def keep(i: int, total: int) -> bool:
        return not (i and (isinstance(drop, float) and rng.random() < drop
                           or drop == "middle" and total / 3 < i < 2 * total / 3 and i % 2))

    return rewrite_video(src, dst, keep)


def has_audio(path: Path) -> bool:
    with av.open(str(path)) as c:
        return bool(c.streams.audio) and bool(c.streams.video)


def score(path: Path) -> dict[str, float | None]:
    import detectors  # noqa: F401  (registers every detector)
    from detectors.base import DetectorContext, get_detector
    from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo

    media = MediaInfo(kind=MediaKind.video, mime_type="video/mp4",
                      streams=[StreamInfo(index=0, kind="video"), StreamInfo(index=1, kind="audio")])
    ctx = DetectorContext(path=path, media=media, provenance=ProvenanceResult(state=ProvenanceState.absent))
    out: dict[str, float | None] = {}
    for name in DETECTORS:
        f = get_detector(name).analyze(ctx)
        out[name] = f.llr if f.applicable else None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="where the dropped-frame copies are written")
    args = ap.parse_args(argv)
    clips = [p for p in clip_paths() if has_audio(p)]
    if not clips:
        print(f"no talking-head clips under {MEDIA}", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    print("| clip | frames dropped | " + " | ".join(f"{d} LLR" for d in DETECTORS) + " |")
    print("|---|---|" + "---|" * len(DETECTORS))
    for clip in clips:
        for label, drop in DROPS.items():
            dst = args.work / f"{clip.stem}.{label.split()[0]}.mp4"
            if not dst.is_file():
                write_dropped(clip, dst, drop)
            llrs = score(dst)
            cells = ["n/a" if v is None else f"{v:+.2f}" for v in llrs.values()]
            print(f"| {clip.stem} | {label} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
