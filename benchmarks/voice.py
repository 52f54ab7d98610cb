"""Speed of the voice-clone scoring path, in multiples of real time, on one thread.

    python benchmarks/voice.py [--model MODEL.pt] [--file AUDIO] [--seconds 120]

Without ``--model`` it times the default shipped weights (detectors/voice_clone/lfcc_ge2e.pt).

Times decode -> VAD -> LFCC -> windows -> model -> calibration (the detector's
``analyze`` minus the PNG), three runs, and prints the best. Without ``--file``
it scores a synthetic voiced signal written to a temporary WAV.

Then (unless ``--no-call``) the end-to-end ``verify`` of a 60 s call: the
speech of ``--file`` (or the synthetic signal) repeated to ``--call-seconds``
and encoded as AAC, verified in process (ledger off) with ``voice_clone`` and
with no detector at all, round robin, against the floor of a raw PyAV decode
of the same file; medians of ``--repeat`` runs and their ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if not __package__:  # run as a script: benchmarks/provenance.py must not shadow the provenance package
    sys.path[0] = str(Path(__file__).resolve().parent.parent)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="model bundle (default: the shipped weights)")
    ap.add_argument("--file", type=Path)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--vad", default="energy", choices=["auto", "silero", "energy"])
    ap.add_argument("--no-call", action="store_true", help="skip the end-to-end verify of a call")
    ap.add_argument("--call-seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from audio.speech import clear_cache as clear_speech_cache
    from detectors.base import DetectorContext
    from detectors.voice_clone.detector import VoiceCloneDetector
    from verifier.evidence import MediaInfo, ProvenanceResult, ProvenanceState, StreamInfo

    with tempfile.TemporaryDirectory() as tmp:
        path = args.file
        if path is None:
            from audio.encode import write_audio

            rate = 16000
            t = np.arange(int(args.seconds * rate)) / rate
            # Syllables at 3 Hz whose envelope reaches zero between them: a
            # shallower modulation (it was 0.2-1.0) reads as speech over
            # steady noise (12 dB), which the detector declines unscored.
            x = sum(np.sin(2 * np.pi * 130 * k * t) / k for k in range(1, 15)) * np.abs(np.sin(2 * np.pi * 1.5 * t))
            path = write_audio(Path(tmp) / "bench.wav", (0.1 * x).astype(np.float32), rate)
        from detectors.voice_clone.detector import DEFAULT_WEIGHTS

        det = VoiceCloneDetector(args.model or DEFAULT_WEIGHTS)
        media = MediaInfo(kind="audio", mime_type="audio/wav", streams=[StreamInfo(index=0, kind="audio")])
        ctx = DetectorContext(path=path, media=media, provenance=ProvenanceResult(state=ProvenanceState.absent),
                              options={"voice_vad": args.vad})
        det.analyze(ctx)  # load model, warm up
        best = float("inf")
        finding = None
        for _ in range(3):
            clear_speech_cache()  # each run pays for its own decode and VAD, as a verify does
            t0 = time.perf_counter()
            finding = det.analyze(ctx)
            best = min(best, time.perf_counter() - t0)
        from audio.decode import decode_audio

        dur = decode_audio(path).duration_s
        if finding is None or not finding.applicable:
            raise SystemExit(f"the detector declined the benchmark audio, nothing was timed: {finding.reason if finding else ''}")
        print(json.dumps({
            "audio_s": round(dur, 1), "wall_s": round(best, 3), "x_real_time": round(dur / best, 1),
            "vad": args.vad, "windows": len(finding.segments) if finding else 0, "threads": 1,
        }))
        if not args.no_call:
            print(json.dumps(verify_call(path, Path(tmp), args)))


def verify_call(speech: Path, work: Path, args: argparse.Namespace) -> dict:
    """End-to-end ``verify`` of a call made from ``speech``, with and without the detector."""
    import statistics

    from audio.decode import decode_audio
    from audio.encode import write_audio
    from audio.speech import clear_cache as clear_speech_cache
    from verifier.config import Settings
    from verifier.pipeline import Verifier

    d = decode_audio(speech)
    reps = int(np.ceil(args.call_seconds * d.sample_rate / max(1, len(d.samples))))
    call = write_audio(work / "call.aac", np.tile(d.samples, reps)[: int(args.call_seconds * d.sample_rate)],
                       d.sample_rate, codec="aac")
    options = {"voice_vad": args.vad}
    if args.model:
        options["voice_model"] = str(args.model)
    runs: dict[str, list[float]] = {"raw_decode": [], "verify_no_detectors": [], "verify_voice_clone": []}
    verdict = ""
    for r in range(args.repeat):  # round robin: a change in load hits every configuration alike
        t = time.perf_counter()
        decode_audio(call)
        runs["raw_decode"].append(time.perf_counter() - t)
        for tag, names in (("verify_no_detectors", []), ("verify_voice_clone", ["voice_clone"])):
            clear_speech_cache()
            v = Verifier(Settings(data_dir=work / f"data-{tag}-{r}", record_to_ledger=False), detector_names=names,
                         detector_options=options)
            t = time.perf_counter()
            res = v.verify(call)
            runs[tag].append(time.perf_counter() - t)
            if names:
                verdict = res.verdict.label.value
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "call_s": args.call_seconds, "codec": "aac", "vad": args.vad, "repeat": args.repeat,
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "verify_voice_clone_x_real_time": round(args.call_seconds / med["verify_voice_clone"], 1),
        "ratio_to_raw_decode": round(med["verify_voice_clone"] / med["raw_decode"], 1),
        "added_by_voice_clone_s": round(med["verify_voice_clone"] - med["verify_no_detectors"], 3),
        "verdict": verdict,
    }


if __name__ == "__main__":
    main()
