"""Lip sync on two talking heads: call galleries made from the shared clips.

A finance team's "video call recording" often shows the participants side by
side, and until the sixteenth session ``av_sync`` declined any video where a
second face shared the screen. It now reads each face on its own turns,
read from the lips alone (``turns.py``), and weighs the mean of their
evidence. This script measures that on
galleries built here, as ``verify`` reads them (the detector's ``analyze``
on an encoded mp4):

- every pair of the shared talking-head clips with speech (the clips
  ``evaluate.py`` uses) side by side, 25 fps, each tile 320 px;
- turns: A's first half, B's first half, A's second half, B's second half
  (each half at most ``MAX_TURN_S``), with the speaker's own sound; the
  listener's tile holds the last picture it showed, still ("frozen") or
  moved along a smooth path of up to 8 px ("swaying"): the shared clips
  have no footage of anyone listening;
- the genuine gallery, and the same picture with substituted audio: one of
  the RD_Radio speech recordings, and the soundtrack of a gallery of two
  other clips (real turn-taking speech that matches neither face).

For each file it also reports what the single-head statistic said before
(all the main face's frames against the whole soundtrack), through the same
calibration.

Run: ``python -m detectors.av_sync.gallery_eval --out DIR`` (about 7 min).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from detectors.av_sync.envelope import RATE, load_audio

FPS = 25
TILE = 320
GAP = 16
MAX_TURN_S = 8.0


def speech_clips() -> list[Path]:
    """The shared clips whose audio holds speech (the Silero VAD finds at
    least the detector's minimum), as ``evaluate.py`` counts them."""
    from audio.vad import detect_speech
    from detectors.av_sync.detector import MIN_SPEECH_S
    from detectors.av_sync.evaluate import clip_paths

    out = []
    for p in clip_paths():
        try:
            a = load_audio(p)
        except Exception:
            continue
        if a.size and detect_speech(a, RATE).speech_s >= MIN_SPEECH_S:
            out.append(p)
    return out


def decode_frames(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """RGB frames at TILE x TILE and their times (s)."""
    import av

    frames, times = [], []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for f in c.decode(s):
            if f.time is None:
                continue
            frames.append(f.to_ndarray(width=TILE, height=TILE, format="rgb24"))
            times.append(float(f.time))
    t = np.asarray(times)
    return frames, t - (t[0] if t.size else 0.0)


def drift(img: np.ndarray, t: float) -> np.ndarray:
    """A listener's head sways: the held picture moved by a few pixels along
    a smooth path (two slow sines per axis, up to 8 px)."""
    dx = int(round(5 * np.sin(2 * np.pi * 0.3 * t) + 3 * np.sin(2 * np.pi * 1.1 * t + 1.0)))
    dy = int(round(4 * np.sin(2 * np.pi * 0.2 * t + 2.0) + 2 * np.sin(2 * np.pi * 0.9 * t)))
    return np.roll(img, (dy, dx), axis=(0, 1))


LISTENERS = ("frozen", "swaying")


def compose(a: Path, b: Path, listener: str = "frozen",
            fps: float = FPS) -> tuple[list[np.ndarray], np.ndarray, list[tuple[str, float, float]]]:
    """Gallery frames, their soundtrack and the turns (speaker, start, end in s).
    ``listener``: the silent tile holds its last picture, still or swaying."""
    clips = {}
    for p in (a, b):
        fr, t = decode_frames(p)
        clips[p] = (fr, t, load_audio(p))
    turns = []
    for half in (0, 1):
        for p in (a, b):
            length = min(MAX_TURN_S, clips[p][1][-1] / 2)
            turns.append((p, half * length, (half + 1) * length))
    shown = {p: clips[p][0][0] for p in (a, b)}
    out_frames: list[np.ndarray] = []
    audio: list[np.ndarray] = []
    spans = []
    t0 = 0.0
    for p, s0, s1 in turns:
        fr, t, snd = clips[p]
        n = int(round((s1 - s0) * fps))
        for i in range(n):
            k = int(np.searchsorted(t, s0 + i / fps, side="right") - 1)
            shown[p] = fr[max(0, k)]
            canvas = np.zeros((TILE, 2 * TILE + GAP, 3), np.uint8)
            now = t0 + i / fps
            for q, cols in ((a, slice(0, TILE)), (b, slice(TILE + GAP, 2 * TILE + GAP))):
                canvas[:, cols] = drift(shown[q], now) if q is not p and listener == "swaying" else shown[q]
            out_frames.append(canvas)
        seg = snd[int(s0 * RATE):int(s0 * RATE) + int(round(n * RATE / fps))]
        audio.append(np.pad(seg, (0, int(round(n * RATE / fps)) - seg.size)))
        spans.append((p.stem, t0, t0 + n / fps))
        t0 += n / fps
    return out_frames, np.concatenate(audio).astype(np.float32), spans


def write_mp4(path: Path, frames: list[np.ndarray], audio: np.ndarray, fps: float = FPS) -> Path:
    import av

    from detectors.face_swap.rewrite import mux

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        vs.options = {"preset": "veryfast", "crf": "18"}
        aus = out.add_stream("aac", rate=RATE)
        aus.layout = "mono"
        for img in frames:
            mux(out, vs, av.VideoFrame.from_ndarray(img, format="rgb24"))
        mux(out, vs)
        af = av.AudioFrame.from_ndarray(audio[None, :], format="flt", layout="mono")
        af.sample_rate, af.time_base, af.pts = RATE, Fraction(1, RATE), 0
        mux(out, aus, af)
        mux(out, aus)
    return path


def judge(path: Path) -> dict:
    """The detector's finding, and the single-head reading of the same file."""
    from audio.speech import clear_cache, speech_track
    from detectors.av_sync.calibration import load_calibration
    from detectors.av_sync.detector import AvSyncDetector, sync_frames
    from detectors.av_sync.envelope import speech_envelope, stream_start_gap
    from detectors.av_sync.features import sync_features
    from detectors.av_sync.sync import sync_search
    from detectors.base import DetectorContext
    from detectors.face_swap.faces import audiovisual_scan_or_reason
    from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo

    clear_cache()
    media = MediaInfo(kind=MediaKind.video, mime_type="video/mp4",
                      streams=[StreamInfo(index=0, kind="video"), StreamInfo(index=1, kind="audio")])
    f = AvSyncDetector().analyze(DetectorContext(path=path, media=media,
                                                 provenance=ProvenanceResult(state=ProvenanceState.absent)))
    row = {"applicable": f.applicable, "llr": f.llr, "reason": f.reason}
    scan = audiovisual_scan_or_reason(path)
    if not isinstance(scan, str):
        frames = sync_frames(scan, scan.main_track())
        speech = speech_track(path)
        env = speech_envelope(speech.audio.samples, frames.times, frames.fps, stream_start_gap(path), speech.vad.segments)
        r = sync_search(frames.mouth(), env.log_energy, env.active, frames.times, frames.fps)
        cal = load_calibration().for_fps(frames.fps)
        row["single_head_llr"] = cal.llr(sync_features(r))
        row["faces"] = len(scan.prominent_tracks(0.5))
    return row


def run(out: Path, log=print, fps: float = FPS) -> dict:
    from detectors.av_sync.evaluate import donor_wavs
    from detectors.metrics import auc_between

    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    clips = speech_clips()
    log(f"{len(clips)} clips with speech: {', '.join(p.stem for p in clips)}")
    pairs = list(itertools.combinations(clips, 2))
    radio = [load_audio(p) for p in donor_wavs()]
    rows = []
    for listener in LISTENERS:
        rows += _judge_galleries(pairs, radio, out, listener, t_start, log, fps)
    summary = {listener: summarise([r for r in rows if r["listener"] == listener], auc_between) for listener in LISTENERS}
    (out / "gallery_eval.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
    return summary


def _judge_galleries(pairs, radio, out: Path, listener: str, t_start: float, log, fps: float) -> list[dict]:
    from detectors.av_sync.evaluate import donor_wavs

    # Soundtracks first (a gallery's frames are ~0.5 GB: one at a time).
    galleries = [(f"{a.stem}+{b.stem}", compose(a, b, listener, fps)[1]) for a, b in pairs]
    rows = []
    for i, ((a, b), (name, audio)) in enumerate(zip(pairs, galleries)):
        frames, _, spans = compose(a, b, listener, fps)
        # Another pair's turn-taking speech, from two clips not in this gallery.
        other = next((g for g in galleries[i + 1:] + galleries[:i] if not set(g[0].split("+")) & set(name.split("+"))),
                     None)
        versions = [("genuine", audio)]
        if radio:
            versions.append((f"substituted:{donor_wavs()[i % len(radio)].stem}", _fit(radio[i % len(radio)], audio.size)))
        if other is not None:
            versions.append((f"substituted:{other[0]}", _fit(other[1], audio.size)))
        for kind, snd in versions:
            path = write_mp4(out / f"{name}.{kind.split(':')[0]}.{i}.mp4", frames, snd, fps)
            row = {"gallery": name, "listener": listener, "kind": kind.split(":")[0], "audio": kind,
                   "seconds": round(audio.size / RATE, 2),
                   "turns": [(s, round(a, 2), round(b, 2)) for s, a, b in spans], **judge(path)}
            path.unlink()
            rows.append(row)
            log(f"{listener} {name} {kind}: llr {row['llr']} (single head {row.get('single_head_llr')}) "
                f"{row['reason'][:110]} ({time.perf_counter() - t_start:.0f} s)")
    return rows


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return np.tile(x, int(np.ceil(n / max(1, x.size))))[:n].astype(np.float32)


def summarise(rows: list[dict], auc_between) -> dict:
    def scored(kind: str, key: str = "llr") -> list[float]:
        return [r[key] for r in rows if r["kind"] == kind and r["applicable"] and r.get(key) is not None]

    gen, sub = scored("genuine"), scored("substituted")
    old_gen, old_sub = scored("genuine", "single_head_llr"), scored("substituted", "single_head_llr")
    count = {k: sum(r["kind"] == k for r in rows) for k in ("genuine", "substituted")}
    return {
        "galleries": count["genuine"], "substituted": count["substituted"],
        "declined": {k: count[k] - len(scored(k)) for k in count},
        "own_turns": {"genuine_llr": _q(gen), "substituted_llr": _q(sub), "auc": auc_between(sub, gen),
                      "genuine_llr_above_0": sum(v > 0 for v in gen), "substituted_llr_above_0": sum(v > 0 for v in sub)},
        "single_head": {"genuine_llr": _q(old_gen), "substituted_llr": _q(old_sub),
                        "auc": auc_between(old_sub, old_gen),
                        "genuine_llr_above_0": sum(v > 0 for v in old_gen),
                        "substituted_llr_above_0": sum(v > 0 for v in old_sub)},
    }


def _q(v: list[float]) -> list[float] | None:
    return [round(float(x), 3) for x in np.percentile(v, [0, 25, 50, 75, 100])] if v else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--fps", type=float, default=FPS,
                    help="gallery frame rate (default %(default)s; 12.5 for a webcam call, judged by the low-rate fit)")
    args = ap.parse_args(argv)
    summary = run(args.out, fps=args.fps)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
