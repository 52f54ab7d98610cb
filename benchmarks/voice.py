"""Speed of the voice-clone scoring path, in multiples of real time, on one thread.

    python benchmarks/voice.py [--model MODEL.pt] [--file AUDIO] [--seconds 120]

Without ``--model`` it times the shipped weights (detectors/voice_clone/lfcc_lcnn.pt).

Times decode -> VAD -> LFCC -> windows -> model -> calibration (the detector's
``analyze`` minus the PNG), three runs, and prints the best. Without ``--file``
it scores a synthetic voiced signal written to a temporary WAV.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="model bundle (default: the shipped weights)")
    ap.add_argument("--file", type=Path)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--vad", default="energy", choices=["auto", "silero", "energy"])
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
            x = sum(np.sin(2 * np.pi * 130 * k * t) / k for k in range(1, 15)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
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
        print(json.dumps({
            "audio_s": round(dur, 1), "wall_s": round(best, 3), "x_real_time": round(dur / best, 1),
            "vad": args.vad, "windows": len(finding.segments) if finding else 0, "threads": 1,
        }))


if __name__ == "__main__":
    main()
