"""A photograph of the claimed person held up beside somebody else: measured.

The face claim (``claim.py``) is judged on the faces that speak when a
video has speech and several faces (``speaking.py``). This script measures
that against the attack it answers, and the genuine calls it must not break,
as ``verify`` reads them (the detector's own ``judge`` on an encoded mp4):

- **attack**: each shared clip with speech (the impostor, talking, 8 s) in a
  320 px tile beside a photograph of another clip's person (the claimed
  person: a still at 5 s) in the other tile, with the impostor's sound; the
  photo ``frozen`` (a pasted still) or ``handheld`` (held up in front of a
  camera: a smooth path of shifts up to 12 px, turns up to 4 degrees, 4 %
  zoom and tilts up to 10 degrees out of the plane, a 9 Hz tremor of 0.4 px
  and fresh camera noise, sigma 3 grey levels, on every frame). Two claimed
  persons per impostor. The reference is the claimed person's still at 1 s.
- **held-out attack**, made after the thresholds were set on the two above:
  photographs of the shared dlib "johns" (one photo held up, another
  enrolled), a new random path, and a ``shaky`` hand (twice every amplitude).
- **genuine**: two clips taking turns (``av_sync.gallery_eval.compose``: A's
  first half, B's, A's second half, B's; the listener's tile sways), claimed
  once as A and once as B, each against a still of that person at 1 s.

For each it records the distance the claim is judged on, and the best
match over all prominent faces (the rule before the twenty-fifth session).

Also: the second red-team round's attacks on the first version of the
rule (``ROUND2``), each clip alone claimed as itself, and a photo alone with
the impostor's voice.

``--cues`` measures, on the single faces, the two "liveness" cues tried first
and set aside: a floor on lip motion or on inner-face change cannot tell a
hand-held photo from a living face that talks little (their ranges overlap;
``docs/av_sync.md``).

Run: ``python -m detectors.identity.photo_eval --out DIR [--cues]`` (about 9 min; 3 more with --cues).
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from detectors.av_sync.mouth import highpass_filled
from detectors.face_swap.faces import FaceScan, FaceTrack

CLIP_S = 10.0
WINDOW_S = 4.0
PHOTO_S = 8.0
FPS = 25
CANVAS = 512
MOTIONS = ("frozen", "handheld")
HELDOUT_MOTIONS = MOTIONS + ("shaky",)  # shaky: the hand-held path at twice every amplitude
SCALES = (1.0, 0.5)
TILE = 320  # a call gallery's tile (``av_sync.gallery_eval``)
GAP = 16
ATTACK_S = 8.0
CLAIMED_PER_IMPOSTOR = 2


# The inner face in the aligned crop, as fractions of its side (eyes at about
# 0.40 of its height; the mouth ends near 0.9).
INNER_CENTRE = (0.5, 0.58)  # x, y
INNER_RADII = (0.30, 0.36)


def _inner_mask(size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / float(size)
    return ((xx - INNER_CENTRE[0]) / INNER_RADII[0]) ** 2 + ((yy - INNER_CENTRE[1]) / INNER_RADII[1]) ** 2 <= 1.0


def inner_face_motion(track: FaceTrack, n_frames: int, fps: float) -> float:
    """Median over observed frames of the RMS band-passed inner-face brightness."""
    obs = [o for o in track.observations if o.crop is not None and o.frame_index < n_frames]
    if len(obs) < 3:
        return 0.0
    mask = _inner_mask(obs[0].crop.shape[0])
    x = np.zeros((n_frames, int(mask.sum())), dtype=np.float32)
    observed = np.zeros(n_frames, dtype=bool)
    for o in obs:
        x[o.frame_index] = o.crop[mask]
        observed[o.frame_index] = True
    x = highpass_filled(x, observed, fps)
    rms = np.sqrt(np.mean(x[observed] ** 2, axis=1))
    return float(np.median(rms))


def face_cues(scan: FaceScan, track: FaceTrack) -> dict:
    """``lips``: the 90th percentile of the lip motion (``turns.lip_motion``,
    aligned-crop pixels); ``face``: the median RMS of the band-passed (1-8 Hz)
    inner-face brightness, grey levels. A rigid picture should score near 0 on
    both, a living face above; measured, a hand-held photo overlaps a face that
    talks little."""
    from detectors.av_sync.detector import sync_frames
    from detectors.av_sync.turns import lip_motion

    frames = sync_frames(scan, track)
    mouth = frames.mouth()
    motion = lip_motion(mouth, frames.fps)[mouth.observed]
    lips = float(np.percentile(motion, 90)) if motion.size else 0.0
    return {"seconds": round(len(track) / scan.fps, 3), "lips": round(lips, 4),
            "face": round(inner_face_motion(track, scan.frames, scan.fps), 4)}


def decode(path: Path, limit_s: float) -> tuple[list[np.ndarray], float]:
    import av

    frames = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        fps = float(s.average_rate or FPS)
        for f in c.decode(s):
            if f.time is not None and f.time >= limit_s:
                break
            frames.append(f.to_ndarray(format="rgb24"))
    return frames, fps


def still_at(path: Path, t: float) -> np.ndarray | None:
    frames, fps = decode(path, t + 0.2)
    return frames[min(len(frames) - 1, int(t * fps))] if frames else None


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    import av

    from detectors.face_swap.rewrite import mux

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        h, w = frames[0].shape[:2]
        vs.width, vs.height, vs.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        vs.options = {"preset": "veryfast", "crf": "23"}
        for img in frames:
            mux(out, vs, av.VideoFrame.from_ndarray(np.ascontiguousarray(img[: h - h % 2, : w - w % 2]), format="rgb24"))
        mux(out, vs)
    return path


def scaled(frames: list[np.ndarray], s: float) -> list[np.ndarray]:
    import cv2

    if s == 1.0:
        return frames
    return [cv2.resize(f, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) for f in frames]


def handheld_path(n: int, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Per frame (dx, dy, angle_deg, zoom, tilt_x_deg, tilt_y_deg): sums of slow
    sines with random phases, and a small tremor on the shifts; ``strength``
    scales every amplitude."""
    t = np.arange(n) / FPS

    def wave(amp: float, freqs: tuple[float, ...]) -> np.ndarray:
        return strength * amp * sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in freqs) / len(freqs)

    dx = wave(12, (0.15, 0.5, 1.3)) + 0.4 * np.sin(2 * np.pi * 9.0 * t)
    dy = wave(12, (0.2, 0.7, 1.1)) + 0.4 * np.sin(2 * np.pi * 9.0 * t + 1.0)
    return np.stack([dx, dy, wave(4, (0.2, 0.9)), 1 + wave(0.04, (0.3, 1.0)), wave(10, (0.25, 0.6)),
                     wave(10, (0.2, 0.5))], axis=1)


def photo_frames(photo: np.ndarray, motion: str, rng: np.random.Generator, canvas: int = CANVAS,
                 seconds: float = PHOTO_S) -> list[np.ndarray]:
    """The photo on a plain ``canvas``-pixel square, filmed for ``seconds``."""
    import cv2

    CANVAS = canvas  # noqa: N806 - the same name as the module's default, for the geometry below
    side = int(CANVAS * 0.7)
    pic = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    background = np.full((CANVAS, CANVAS, 3), (96, 104, 110), np.uint8)
    n = int(seconds * FPS)
    if motion == "frozen":
        frame = background.copy()
        o = (CANVAS - side) // 2
        frame[o:o + side, o:o + side] = pic
        return [frame] * n
    path = handheld_path(n, rng, 2.0 if motion == "shaky" else 1.0)
    corners = np.float32([[0, 0], [side, 0], [side, side], [0, side]]) - side / 2
    out = []
    for dx, dy, ang, zoom, tx, ty in path:
        # Out-of-plane tilt: the far edge shrinks (a pinhole seen from 3 picture widths).
        d = 3.0 * side
        x, y = corners[:, 0], corners[:, 1]
        z = d + x * np.sin(np.radians(ty)) + y * np.sin(np.radians(tx))
        px, py = x * d / z, y * d / z
        a = np.radians(ang)
        rx = zoom * (px * np.cos(a) - py * np.sin(a)) + CANVAS / 2 + dx
        ry = zoom * (px * np.sin(a) + py * np.cos(a)) + CANVAS / 2 + dy
        h = cv2.getPerspectiveTransform(corners + side / 2, np.float32(np.stack([rx, ry], axis=1)))
        frame = cv2.warpPerspective(pic, h, (CANVAS, CANVAS), borderMode=cv2.BORDER_TRANSPARENT, dst=background.copy())
        noise = rng.normal(0, 3.0, frame.shape)
        out.append(np.clip(frame + noise, 0, 255).astype(np.uint8))
    return out


def cue_row(path: Path) -> dict:
    from detectors.face_swap.faces import audiovisual_scan_or_reason

    scan = audiovisual_scan_or_reason(path)
    if isinstance(scan, str):
        return {"found": False, "why": scan}
    return {"found": True, **face_cues(scan, scan.main_track())}


def cue_items():
    """(kind, name, frames, fps) for the cue measurement; kind 'live' or 'photo'."""
    from detectors.av_sync.evaluate import MEDIA, clip_paths

    rng = np.random.default_rng(0)
    clips = clip_paths()
    for clip in clips:
        frames, fps = decode(clip, CLIP_S)
        for s in SCALES:
            yield "live", f"{clip.stem}.whole.x{s}", scaled(frames, s), fps
            step = int(WINDOW_S * fps)
            for k in range(0, len(frames) - step + 1, step):
                yield "live", f"{clip.stem}.window{k // step}.x{s}", scaled(frames[k:k + step], s), fps
    photos = [(f"{c.stem}@{t}s", still_at(c, t)) for c in clips for t in (1.0, 5.0)]
    for d in sorted(glob.glob(str(MEDIA / "image/dlib/examples/johns/*"))):
        first = sorted(glob.glob(d + "/*.jpg"))[:1]
        if first:
            import cv2

            photos.append((Path(d).name, cv2.cvtColor(cv2.imread(first[0]), cv2.COLOR_BGR2RGB)))
    for name, photo in photos:
        if photo is None:
            continue
        for motion in MOTIONS:
            frames = photo_frames(photo, motion, rng)
            for s in SCALES:
                yield "photo", f"{name}.{motion}.x{s}", scaled(frames, s), float(FPS)


def run_cues(out: Path, log=print) -> dict:
    rows = []
    t0 = time.perf_counter()
    for kind, name, frames, fps in cue_items():
        row = {"kind": kind, "name": name, **cue_row(write_video(out / "current.mp4", frames, fps))}
        rows.append(row)
        log(f"{kind:5s} {name:48s} lips {row.get('lips', '-')!s:>8} face {row.get('face', '-')!s:>8} "
            f"({time.perf_counter() - t0:.0f} s)")
    summary = {}
    for kind in ("live", "photo"):
        got = [r for r in rows if r["kind"] == kind and r["found"]]
        summary[kind] = {"files": sum(r["kind"] == kind for r in rows), "tracked": len(got)}
        for cue in ("lips", "face"):
            v = np.array([r[cue] for r in got])
            summary[kind][cue] = [round(float(x), 4) for x in np.percentile(v, [0, 5, 50, 95, 100])] if v.size else None
    (out / "cues.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
    return summary


# ---------------------------------------------------------------- the claim


def reference_of(still: np.ndarray, name: str):
    """An in-memory reference from one still (``verifier enroll`` stores the same embedding)."""
    from detectors.identity.embeddings import embed_face, find_faces
    from detectors.identity.enroll import Reference

    faces = find_faces(still)
    if not faces:
        return None
    face = max(faces, key=lambda b: b.size)
    return Reference(name=name, embeddings=embed_face(still, face)[None, :], photo_sha256=(), model_sha256="")


def tile(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(img, (TILE, TILE), interpolation=cv2.INTER_AREA)


def attack_frames(impostor: Path, photo: np.ndarray, motion: str, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    return side_by_side(impostor, photo_frames(photo, motion, rng, canvas=TILE, seconds=ATTACK_S))


def side_by_side(impostor: Path, held: list[np.ndarray], impostor_px: int = TILE) -> tuple[list[np.ndarray], np.ndarray]:
    """The impostor talking (``impostor_px`` square, top left) beside ``held``
    (TILE-square frames), for ``ATTACK_S``, with the impostor's sound."""
    import cv2

    from detectors.av_sync.envelope import RATE, load_audio

    live, fps = decode(impostor, ATTACK_S)
    out = []
    for i in range(int(ATTACK_S * FPS)):
        canvas = np.zeros((TILE, 2 * TILE + GAP, 3), np.uint8)
        face = live[min(len(live) - 1, int(i / FPS * fps))]
        canvas[:impostor_px, :impostor_px] = cv2.resize(face, (impostor_px, impostor_px), interpolation=cv2.INTER_AREA)
        canvas[:, TILE + GAP:] = held[min(i, len(held) - 1)]
        out.append(canvas)
    snd = load_audio(impostor)[: int(ATTACK_S * RATE)]
    return out, np.pad(snd, (0, max(0, int(ATTACK_S * RATE) - snd.size))).astype(np.float32)


ROUND2 = ("dropouts", "blinking", "shake_8hz", "muted_replay", "small_impostor", "low_fps")


def round2_case(case: str, impostor: Path, claimed: Path, photo: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, float]:
    """The second red-team round's attacks on the first version of the rule
    (lip motion by amount): frames, sound and frame rate."""
    import cv2

    n = int(ATTACK_S * FPS)
    pic = photo_frames(photo, "frozen", np.random.default_rng(0), canvas=TILE, seconds=ATTACK_S)
    blank = np.full_like(pic[0], (96, 104, 110))
    if case == "dropouts":  # two 3-frame gaps (a hand or motion blur hides the picture)
        held = [blank if any(d <= i < d + 3 for d in (60, 140)) else f for i, f in enumerate(pic)]
    elif case == "blinking":  # shown 1.2 s, hidden 0.4 s
        held = [blank if (i / FPS) % 1.6 >= 1.2 else f for i, f in enumerate(pic)]
    elif case == "shake_8hz":  # shaken at a syllable rate: 8 px, 4 degrees
        held = []
        for i in range(n):
            t = i / FPS
            m = cv2.getRotationMatrix2D((TILE / 2, TILE / 2), 4 * np.sin(2 * np.pi * 8 * t + 1), 1.0)
            m[:, 2] += (8 * np.sin(2 * np.pi * 8 * t), 8 * np.cos(2 * np.pi * 8 * t))
            held.append(cv2.warpAffine(pic[0], m, (TILE, TILE), borderValue=(96, 104, 110)))
    elif case == "muted_replay":  # real footage of the claimed person talking, without its sound
        frames, fps = decode(claimed, ATTACK_S + 2.0)
        held = [tile(frames[min(len(frames) - 1, int((2.0 + i / FPS) * fps))]) for i in range(n)]
    else:
        held = pic
    frames, snd = side_by_side(impostor, held, 140 if case == "small_impostor" else TILE)
    if case == "low_fps":
        return frames[::3], snd, FPS / 3  # 8.3 fps
    return frames, snd, float(FPS)


def judge_file(path: Path, ref) -> dict:
    """What the face claim judges the file on, as ``verify`` runs it."""
    from audio.speech import clear_cache
    from detectors.base import DetectorContext
    from detectors.identity.claim import FaceIdentityClaimDetector
    from detectors.identity.detector import load_calibration
    from detectors.identity.speaking import FaceSpeech
    from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo

    clear_cache()
    media = MediaInfo(kind=MediaKind.video, mime_type="video/mp4",
                      streams=[StreamInfo(index=0, kind="video"), StreamInfo(index=1, kind="audio")])
    ctx = DetectorContext(path=path, media=media, provenance=ProvenanceResult(state=ProvenanceState.absent))
    got = FaceIdentityClaimDetector().judge(ctx, ref)
    if isinstance(got, str):
        return {"judged": False, "why": got, "faces": 0}
    cal = load_calibration()
    nearest = min(got.faces, key=lambda f: f.distance)
    speech = got.speech if isinstance(got.speech, FaceSpeech) else None
    row = {"faces": len(got.faces), "who": got.who, "best_distance": round(nearest.distance, 4),
           "best_llr": round(cal.claim_llr(nearest.distance), 3), "best_matches": nearest.distance <= cal.match_threshold,
           # how much the reference's nearest face, and every face, move their lips in the speech
           "nearest_lips": speech.lips.get(nearest.track_id) if speech else None,
           "nearest_lips_share": round(speech.share(nearest.track_id), 3) if speech else None,
           "lips": {str(k): v for k, v in speech.lips.items()} if speech else str(got.speech)}
    if got.chosen is None:
        return {"judged": False, "why": got.who, **row}
    d = got.chosen.distance
    return {"judged": True, "distance": round(d, 4), "llr": round(cal.claim_llr(d), 3),
            "matches": d <= cal.match_threshold, **row}


def run_claims(out: Path, log=print) -> dict:
    from detectors.av_sync.gallery_eval import compose, speech_clips
    from detectors.av_sync.gallery_eval import write_mp4 as write_gallery

    rng = np.random.default_rng(1)
    clips = speech_clips()
    log(f"{len(clips)} clips with speech: {', '.join(p.stem for p in clips)}")
    refs = {c: reference_of(still_at(c, 1.0), c.stem) for c in clips}
    photos = {c: still_at(c, 5.0) for c in clips}
    rows = []
    t0 = time.perf_counter()
    for i, impostor in enumerate(clips):
        for claimed in [clips[(i + k) % len(clips)] for k in range(1, CLAIMED_PER_IMPOSTOR + 1)]:
            if refs[claimed] is None:
                continue
            for motion in MOTIONS:
                frames, snd = attack_frames(impostor, photos[claimed], motion, rng)
                path = write_gallery(out / "current.mp4", frames, snd)
                row = {"kind": "attack", "impostor": impostor.stem, "claimed": claimed.stem, "photo": motion,
                       **judge_file(path, refs[claimed])}
                rows.append(row)
                log(f"attack  {impostor.stem}+photo of {claimed.stem} ({motion}): {_said(row)} ({time.perf_counter() - t0:.0f} s)")
        b = clips[(i + 1) % len(clips)]
        frames, snd, _ = compose(impostor, b, "swaying")
        path = write_gallery(out / "current.mp4", frames, snd)
        for claimed in (impostor, b):
            if refs[claimed] is None:
                continue
            row = {"kind": "genuine", "gallery": f"{impostor.stem}+{b.stem}", "claimed": claimed.stem,
                   **judge_file(path, refs[claimed])}
            rows.append(row)
            log(f"genuine {impostor.stem}+{b.stem} claimed {claimed.stem}: {_said(row)} ({time.perf_counter() - t0:.0f} s)")
    rows += heldout_attacks(out, clips, log, t0)
    for i, impostor in enumerate(clips):
        claimed = clips[(i + 1) % len(clips)]
        if refs[claimed] is None:
            continue
        for case in ROUND2:
            frames, snd, fps = round2_case(case, impostor, claimed, photos[claimed])
            path = write_gallery(out / "current.mp4", frames, snd, fps)
            row = {"kind": "round2_attack", "impostor": impostor.stem, "claimed": claimed.stem, "photo": case,
                   **judge_file(path, refs[claimed])}
            rows.append(row)
            log(f"round-2 attack {impostor.stem}+{case} of {claimed.stem}: {_said(row)} ({time.perf_counter() - t0:.0f} s)")
        # One face: the clip alone claimed as itself; the photo alone with the impostor's voice.
        alone, snd = side_by_side(impostor, [np.zeros((TILE, TILE, 3), np.uint8)])
        path = write_gallery(out / "current.mp4", [f[:, :TILE] for f in alone], snd)
        row = {"kind": "genuine_single", "claimed": impostor.stem, **judge_file(path, refs[impostor])}
        rows.append(row)
        log(f"genuine single {impostor.stem}: {_said(row)} ({time.perf_counter() - t0:.0f} s)")
        for motion in MOTIONS:
            held = photo_frames(photos[claimed], motion, rng, canvas=TILE, seconds=ATTACK_S)
            path = write_gallery(out / "current.mp4", held, snd)
            row = {"kind": "photo_alone", "impostor": impostor.stem, "claimed": claimed.stem, "photo": motion,
                   **judge_file(path, refs[claimed])}
            rows.append(row)
            log(f"photo alone of {claimed.stem} ({motion}) with {impostor.stem}'s voice: {_said(row)} "
                f"({time.perf_counter() - t0:.0f} s)")
    summary = summarise_claims(rows)
    (out / "photo_eval.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
    return summary


def heldout_attacks(out: Path, clips: list[Path], log, t0: float) -> list[dict]:
    """Attacks made after the thresholds were set: photographs of other people
    (the shared dlib "johns", five men with eleven photos each: one held up, the
    reference another), a different random path, and a ``shaky`` hand."""
    import cv2

    from detectors.av_sync.evaluate import MEDIA
    from detectors.av_sync.gallery_eval import write_mp4 as write_gallery

    rng = np.random.default_rng(7)
    johns = sorted(Path(d) for d in glob.glob(str(MEDIA / "image/dlib/examples/johns/*")))
    rows = []
    for i, impostor in enumerate(clips):
        for john in [johns[(i + k) % len(johns)] for k in range(CLAIMED_PER_IMPOSTOR)] if johns else []:
            shots = sorted(john.glob("*.jpg"))
            if len(shots) < 2:
                continue
            held, enrolled = (cv2.cvtColor(cv2.imread(str(x)), cv2.COLOR_BGR2RGB) for x in shots[:2])
            ref = reference_of(enrolled, john.name)
            if ref is None:
                continue
            for motion in HELDOUT_MOTIONS:
                frames, snd = attack_frames(impostor, held, motion, rng)
                path = write_gallery(out / "current.mp4", frames, snd)
                row = {"kind": "heldout_attack", "impostor": impostor.stem, "claimed": john.name, "photo": motion,
                       **judge_file(path, ref)}
                rows.append(row)
                log(f"held-out attack {impostor.stem}+photo of {john.name} ({motion}): {_said(row)} "
                    f"({time.perf_counter() - t0:.0f} s)")
    return rows


def _said(row: dict) -> str:
    if not row["judged"]:
        return f"not judged (lips {row.get('lips')}): {row['why'][:90]}"
    return (f"{'matches' if row['matches'] else 'does not match'} d={row['distance']} llr {row['llr']:+.2f} "
            f"(best match rule: d={row['best_distance']} llr {row['best_llr']:+.2f}; nearest face's lips "
            f"{row['nearest_lips']} px, {row['nearest_lips_share']} of the most moving; all {row['lips']})")


def summarise_claims(rows: list[dict]) -> dict:
    def group(kind: str, photo: str | None = None) -> dict:
        got = [r for r in rows if r["kind"] == kind and (photo is None or r.get("photo") == photo)]
        judged = [r for r in got if r["judged"]]
        px = [r["nearest_lips"] for r in got if r.get("nearest_lips") is not None]
        shares = [r["nearest_lips_share"] for r in got if r.get("nearest_lips_share") is not None]
        return {"files": len(got), "judged": len(judged), "matches": sum(r["matches"] for r in judged),
                "llr": _q([r["llr"] for r in judged]), "nearest_face_lips_px": _q(px), "nearest_face_lips_share": _q(shares),
                "best_match_rule": {"matches": sum(r.get("best_matches", False) for r in got),
                                    "llr": _q([r["best_llr"] for r in got if "best_llr" in r])}}

    return {"attack": {m: group("attack", m) for m in MOTIONS}, "genuine": group("genuine"),
            "heldout_attack": {m: group("heldout_attack", m) for m in HELDOUT_MOTIONS},
            "round2_attack": {m: group("round2_attack", m) for m in ROUND2},
            "genuine_single": group("genuine_single"),
            "photo_alone": {m: group("photo_alone", m) for m in MOTIONS}}


def _q(v: list[float]) -> list[float] | None:
    return [round(float(x), 3) for x in np.percentile(v, [0, 25, 50, 75, 100])] if v else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cues", action="store_true", help="also measure the two liveness cues set aside")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"claims": run_claims(args.out)}
    if args.cues:
        result["cues"] = run_cues(args.out)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
