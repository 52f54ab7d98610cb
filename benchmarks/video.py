"""Speed of the video detectors on a 60 s 1280x720 30 fps clip with one face
and speech.

    python -m benchmarks.video [--repeat 3] [--clip CLIP] [--seconds 60]

Makes the clip (unless ``--clip`` is given) by ping-pong looping a shared
talking-head video with its own audio, scaled to 720 lines and centred on a
1280x720 canvas, H.264 (CRF 23) + AAC. Then medians over ``--repeat`` runs
of the following, with the detectors' compute on one thread (torch, OpenCV,
BLAS) and, as in ``verify``, frames decoded ahead on a second thread
(``ScanOptions.prefetch_frames``) by FFmpeg with ``DEFAULT_DECODE_THREADS``
decoder threads, as is the floor:

- the floor: raw PyAV decode of every video frame;
- ``Verifier.verify`` in process (ledger off) with no detectors, with
  ``face_swap``, with ``face_swap`` + ``voice_clone`` (the single-modality
  set), and with that set plus ``av_sync`` + ``face_identity_consistency``;
- the breakdown of the shared face scan (decode, detect, landmarks, crops)
  and of each detector's own work (CNN, mouth features + sync search,
  identity embeddings), measured directly.

Issue targets: face-swap verify <= 30 s (>= 2x real time); lip sync and
identity add <= 30 % to verify time. Both ratios are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmarks.timing import median_time
from verifier.shared_dir import shared_dir

DEFAULT_SOURCE = shared_dir() / "media/video/sadtalker/examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4"

SINGLE_MODALITY = ["face_swap", "voice_clone"]
AUDIOVISUAL = ["av_sync", "face_identity_consistency"]


def make_clip(source: Path, dst: Path, seconds: float = 60.0, size: tuple[int, int] = (1280, 720),
              fps: int = 30) -> Path:
    """``source`` looped with its audio, letterboxed into ``size`` and
    resampled in time to ``fps``: picture and sound loop with the same period,
    so the clip stays in sync (except at the loop seam, as the real clip is)."""
    import av
    import cv2

    from audio.decode import decode_audio

    with av.open(str(source)) as c:
        src_fps = float(c.streams.video[0].average_rate or 25)
        frames = [fr.to_ndarray(format="rgb24") for fr in c.decode(video=0)]
    period_s = len(frames) / src_fps
    audio = decode_audio(source, target_rate=16000).samples
    audio = np.pad(audio, (0, max(0, int(period_s * 16000) - audio.size)))[: int(period_s * 16000)]
    w, h = size
    fw = int(frames[0].shape[1] * h / frames[0].shape[0]) // 2 * 2
    x0 = (w - fw) // 2
    canvas = np.zeros((h, w, 3), np.uint8)
    with av.open(str(dst), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "veryfast", "crf": "23"}
        astream = out.add_stream("aac", rate=16000)
        astream.layout = "mono"
        for i in range(int(seconds * fps)):
            j = int((i / fps) % period_s * src_fps) % len(frames)
            canvas[:, x0:x0 + fw] = cv2.resize(frames[j], (fw, h), interpolation=cv2.INTER_LINEAR)
            for p in vs.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        total = int(seconds * 16000)
        looped = np.tile(audio, int(np.ceil(total / audio.size)))[:total].astype(np.float32)
        for i in range(0, total, 16000):
            fr = av.AudioFrame.from_ndarray(looped[None, i:i + 16000], format="flt", layout="mono")
            fr.sample_rate, fr.time_base, fr.pts = 16000, Fraction(1, 16000), i
            for p in astream.encode(fr):
                out.mux(p)
        for p in astream.encode():
            out.mux(p)
    return dst


def raw_decode(path: Path) -> tuple[float, int]:
    """Every video frame decoded, nothing else, with the decoder threading
    the scans use: the floor of any video detector."""
    from audio.decode import open_media
    from detectors.face_swap.faces import DEFAULT_DECODE_THREADS, set_decoder_threads

    t = time.perf_counter()
    n = 0
    with open_media(path) as c:
        s = c.streams.video[0]
        set_decoder_threads(s, DEFAULT_DECODE_THREADS)
        for _ in c.decode(s):
            n += 1
    return time.perf_counter() - t, n


@dataclass
class VerifyTimes:
    runs: dict[str, list[float]]  # seconds per round, per configuration
    findings: dict[str, str]

    @property
    def medians(self) -> dict[str, float]:
        return {tag: statistics.median(ts) for tag, ts in self.runs.items()}

    @property
    def paired_added(self) -> list[float]:
        """Per round, what the audio-visual checks add to the single-modality
        run of the same round: each round runs every configuration back to
        back, so this is less exposed to the machine's drift than the ratio
        of the medians."""
        return [a / b - 1.0 for a, b in zip(self.runs["all_video_detectors"], self.runs["single_modality"])]


def verify_times(clip: Path, work: Path, repeat: int) -> VerifyTimes:
    from audio.speech import clear_cache as clear_speech_cache
    from detectors.face_swap import faces
    from verifier.config import Settings
    from verifier.pipeline import Verifier

    runs = {
        "no_detectors": [],
        "face_swap": ["face_swap"],
        "single_modality": SINGLE_MODALITY,
        "all_video_detectors": SINGLE_MODALITY + AUDIOVISUAL,
    }
    times: dict[str, list[float]] = {tag: [] for tag in runs}
    findings: dict[str, str] = {}
    # Round robin, so a change in the machine's load hits every configuration alike.
    for r in range(repeat):
        for tag, names in runs.items():
            faces._cached.cache_clear()  # each verify pays its own decode
            clear_speech_cache()
            v = Verifier(Settings(data_dir=work / f"data-{tag}-{r}", record_to_ledger=False), detector_names=names)
            t = time.perf_counter()
            res = v.verify(clip)
            times[tag].append(time.perf_counter() - t)
            for f in res.findings:
                findings[f.detector] = f"applicable={f.applicable} llr={f.llr} {f.reason[:100]}"
    return VerifyTimes(times, findings)


def breakdown(clip: Path, repeat: int) -> dict[str, float]:
    """Each stage timed on its own (medians), to say where verify's time goes."""
    from audio.speech import clear_cache as clear_speech_cache
    from audio.speech import speech_track
    from detectors.av_sync.envelope import speech_envelope, stream_start_gap
    from detectors.av_sync.mouth import mouth_signal
    from detectors.av_sync.sync import sync_search
    from detectors.face_swap import crops as C
    from detectors.face_swap import faces
    from detectors.face_swap.scoring import load_model, score_scan
    from detectors.identity import embeddings
    from detectors.identity.consistency import track_consistency

    res: dict[str, float] = {}
    res["face_swap_light_scan"] = median_time(lambda: faces.scan_faces(clip, faces.FACE_SWAP_SCAN), repeat, warm=False)
    scans = []
    res["shared_scan"] = median_time(lambda: scans.append(faces.scan_faces(clip, faces.SHARED_VIDEO_SCAN)), repeat, warm=False)
    scan = scans[-1]
    for k, v in scan.timings.items():
        res[f"shared_scan.{k}"] = v
    lm = load_model()
    res["face_swap.cnn_and_aggregation"] = median_time(lambda: score_scan(C.from_face_scan(scan), lm), repeat, warm=False)
    tr = scan.main_track()

    def decode_and_vad() -> None:
        clear_speech_cache()
        speech_track(clip)

    # Shared with voice_clone in a verify (one decode, one VAD per file).
    res["audio_decode_and_vad (shared)"] = median_time(decode_and_vad, repeat, warm=False)

    def sync() -> None:
        sp = speech_track(clip)
        env = speech_envelope(sp.audio.samples, scan.frame_times, scan.fps, stream_start_gap(clip), sp.vad.segments)
        sync_search(mouth_signal(tr, scan.frames, scan.fps), env.log_energy, env.active, scan.frame_times, scan.fps)

    res["av_sync.envelope_mouth_and_search"] = median_time(sync, repeat, warm=False)

    def identity() -> None:
        embeddings._recent.clear()
        track_consistency(embeddings.embed_track(tr))

    res["identity.embeddings"] = median_time(identity, repeat, warm=False)
    from detectors.face_swap.motion import relative_motion

    res["face_motion.flow (opt-in)"] = median_time(
        lambda: relative_motion(tr, scan.frame_times, faces.SHARED_VIDEO_SCAN.crop_margin), repeat, warm=False)
    res["crops_in_scan"] = float(sum(o.color_crop is not None for t in scan.tracks for o in t.observations))
    res["frames_in_scan"] = float(scan.frames)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--clip", type=Path, help="Use (or create, if missing) the clip at this path.")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, help="Also write the results here.")
    args = ap.parse_args(argv)
    os.environ.setdefault("VERIFIER_CV_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip or Path(tmp) / "bench_720p30.mp4"
        if not clip.is_file():
            if not args.source.is_file():
                print(f"{args.source} not found: pass --source or --clip")
                return 2
            t = time.perf_counter()
            make_clip(args.source, clip, args.seconds)
            print(f"made {clip} in {time.perf_counter() - t:.1f} s", flush=True)
        decode_s = statistics.median(raw_decode(clip)[0] for _ in range(args.repeat))
        vt = verify_times(clip, Path(tmp), args.repeat)
        parts = breakdown(clip, args.repeat)
    verify_s, findings = vt.medians, vt.findings
    paired_added = statistics.median(vt.paired_added)
    base = verify_s["single_modality"]
    added = verify_s["all_video_detectors"] - base
    rows = [("raw PyAV decode (floor)", decode_s)] + [(f"verify: {k}", v) for k, v in verify_s.items()] + [
        (k, v) for k, v in parts.items() if not k.endswith("_in_scan")]
    print(f"\n{'measure (median of %d, seconds)' % args.repeat:<48} {'s':>8} {'x decode':>9}")
    for name, v in rows:
        print(f"{name:<48} {v:8.2f} {v / decode_s:9.2f}")
    summary = {
        "clip_seconds": args.seconds, "frames": parts["frames_in_scan"], "face_crops": parts["crops_in_scan"],
        "raw_decode_s": round(decode_s, 2),
        "verify_s": {k: round(v, 2) for k, v in verify_s.items()},
        "breakdown_s": {k: round(v, 3) for k, v in parts.items() if not k.endswith("_in_scan")},
        "face_swap_verify_realtime_factor": round(args.seconds / verify_s["face_swap"], 2),
        "av_checks_added_fraction": round(added / base, 3),
        "av_checks_added_fraction_paired_median": round(paired_added, 3),
        "verify_runs_s": {k: [round(t, 2) for t in v] for k, v in vt.runs.items()},
        "findings": findings,
        "targets": {"face_swap_verify_s": 30.0, "av_checks_added_fraction": 0.30},
    }
    print(f"\nface_swap verify: {verify_s['face_swap']:.1f} s for {args.seconds:.0f} s of video "
          f"({summary['face_swap_verify_realtime_factor']}x real time; target <= 30 s)")
    print(f"lip sync + identity add {added:.1f} s to {base:.1f} s = {100 * added / base:.0f} % of the medians; "
          f"median of the per-round ratios {100 * paired_added:.0f} % (target <= 30 %)")
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
