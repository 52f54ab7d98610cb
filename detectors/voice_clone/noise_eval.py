"""Background noise and noise suppression on genuine speech: do they raise false alarms?

    python -m detectors.voice_clone.noise_eval --out /tmp/noise_eval [--per-speaker 12]

A finance team's calls are rarely clean: open-plan offices, cars, and phone
or meeting software that suppresses noise (spectral gating leaves its own
"musical noise"). Neither was a condition the false-alarm sets measured. The
files are the held-out speakers of ``unseen_bonafide`` set B: eval-split
voices, never trained or calibrated on, as published. Each file is scored by
the shipped bundle (file LLR, as ``verify`` reports it) in these conditions:

- ``raw``: as published;
- ``noise N dB``: low-pass filtered white noise (a fan, a car, a room) added
  at N dB SNR over the whole file;
- ``noise 10 dB, suppressed``: then a blind spectral-subtraction suppressor
  (noise floor per band from the quietest 10 % of frames, over-subtraction
  2, gain floor 0.05), as cheap meeting software does: steady noise drops by
  about 10 dB and the residue is "musical noise";
- ``suppressed``: the suppressor on the raw file (its artefacts alone);
- ``room RT60 0.6 s`` / ``room RT60 1.0 s``: a synthetic room (``audio.reverb``,
  direct sound 0 dB over the reverberation: a speakerphone across a room);
- ``AMR-NB``, ``Opus 16 kbit/s``, ``MP3 32 kbit/s``: codec round trips a voice
  note or a call recording goes through.

Reported: median LLR, and the share at LLR > 0 and LLR >= 1 (the finance
profile's likely_manipulated threshold), from the model alone (the mean
window logit over the whole file, the bundle's own calibration); then what
``verify`` does: each version written as WAV and judged by the detector as
``verify`` runs it (VAD, noise gate, call-level score), with the share it
declines and the count at LLR >= 1 and LLR <= -1 (``no_manipulation_detected``
under finance) among the files it judges.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from audio.noise import spectral_subtraction, with_steady_noise

SNRS_DB = (20, 10, 5)
ROOMS_RT60_S = (0.6, 1.0)
CODECS = {"AMR-NB": "amr", "Opus 16 kbit/s": "opus", "MP3 32 kbit/s": "mp3"}
CONDITIONS = (("raw",) + tuple(f"noise {s} dB" for s in SNRS_DB) + ("noise 10 dB, suppressed", "suppressed")
              + tuple(f"room RT60 {t} s" for t in ROOMS_RT60_S) + tuple(CODECS))


def conditions(x: np.ndarray, rate: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    from scipy.signal import fftconvolve

    from audio.encode import codec_roundtrip
    from audio.reverb import synthetic_room

    out = {"raw": x}
    for snr in SNRS_DB:
        out[f"noise {snr} dB"] = with_steady_noise(x, snr, rng)
    out["noise 10 dB, suppressed"] = spectral_subtraction(out["noise 10 dB"], rate)
    out["suppressed"] = spectral_subtraction(x, rate)
    for rt60 in ROOMS_RT60_S:
        wet = fftconvolve(x, synthetic_room(rt60, 0.0, rng, rate))[: x.size]
        out[f"room RT60 {rt60} s"] = wet * (np.max(np.abs(x)) / max(1e-9, float(np.max(np.abs(wet)))))
    for name, codec in CODECS.items():
        y = codec_roundtrip(np.asarray(x, np.float32), rate, codec)
        out[name] = np.asarray(y, np.float64)[: x.size]
    return out


def detector_llr(samples: np.ndarray, rate: int, work: Path) -> float | None:
    """The voice_clone finding's LLR for this audio as ``verify`` computes it (None: declined)."""
    from audio.encode import write_audio
    from detectors.voice_clone.splice_eval import score_file

    path = write_audio(work / "version.wav", np.clip(np.asarray(samples, np.float32), -1, 1), rate, "wav")
    scored = score_file(path)
    return scored["llr"] if scored["applicable"] else None


def run(out: Path, per_speaker: int, model: Path | None = None, seed: int = 0, verify_level: bool = False) -> dict:
    import torch

    from audio.decode import decode_audio
    from audio.noise import steady_noise_snr_db
    from detectors.voice_clone.detector import DEFAULT_WEIGHTS, MIN_SNR_DB
    from detectors.voice_clone.scoring import load_bundle
    from detectors.voice_clone.unseen_bonafide import build_heldout_speaker_files

    torch.set_num_threads(1)
    audio_dir = out / "heldout_audio"
    files = sorted(audio_dir.glob("*.wav")) or build_heldout_speaker_files(audio_dir, per_speaker)
    if not files:
        raise SystemExit("no held-out speaker recordings: install the Debian packages `verifier corpus voice --check` lists")
    bundle = load_bundle(model or DEFAULT_WEIGHTS)
    if verify_level and model is not None:
        raise SystemExit("--verify scores with the shipped detector; drop --model")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for f in files:
        d = decode_audio(f, max_duration_s=600)
        row: dict[str, object] = {"file": f.name}
        for name, y in conditions(d.samples.astype(np.float64), d.sample_rate, rng).items():
            s = bundle.score(np.asarray(y, np.float32), d.sample_rate)
            row[name] = float(bundle.calibration.llr10([s])[0]) if bundle.calibration else s / np.log(10)
            snr = steady_noise_snr_db(np.asarray(y), d.sample_rate)
            row[f"{name} snr_db"] = None if snr is None else round(snr, 2)
            if verify_level:
                row[f"{name} verify_llr"] = detector_llr(y, d.sample_rate, out)
        rows.append(row)
    summary = {}
    for name in CONDITIONS:
        v = np.array([r[name] for r in rows], dtype=float)
        snr = np.array([np.inf if r[f"{name} snr_db"] is None else r[f"{name} snr_db"] for r in rows], dtype=float)
        kept = snr >= MIN_SNR_DB  # what the detector judges; the rest it declines as too noisy
        summary[name] = {"n": int(v.size), "median_llr": round(float(np.median(v)), 3),
                         "llr_gt_0": round(float(np.mean(v > 0)), 4), "llr_ge_1": round(float(np.mean(v >= 1)), 4),
                         "count_llr_ge_1": int(np.sum(v >= 1)), "median_snr_db_estimated": round(float(np.median(snr)), 1),
                         "declined_as_noisy": round(float(np.mean(~kept)), 4),
                         "count_llr_ge_1_judged": int(np.sum((v >= 1) & kept))}
        if verify_level:
            judged = [r[f"{name} verify_llr"] for r in rows if r[f"{name} verify_llr"] is not None]
            summary[name]["verify"] = {"declined": len(rows) - len(judged), "judged": len(judged),
                                       "llr_ge_1": sum(x >= 1 for x in judged), "llr_le_minus_1": sum(x <= -1 for x in judged),
                                       "median_llr": round(float(np.median(judged)), 3) if judged else None}
    result = {"files": len(rows), "summary": summary, "rows": rows}
    out.mkdir(parents=True, exist_ok=True)
    (out / "noise_eval.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-speaker", type=int, default=12)
    ap.add_argument("--model", type=Path, default=None, help="a bundle other than the shipped one")
    ap.add_argument("--verify", action="store_true", help="also judge every version with the detector as verify runs it")
    a = ap.parse_args(argv)
    res = run(a.out, a.per_speaker, a.model, verify_level=a.verify)
    print(f"{res['files']} held-out bona fide files")
    print("| condition | estimated SNR (median) | model: median LLR | LLR > 0 | LLR >= 1 | verify declines as noisy | "
          "LLR >= 1 among the files verify judges |\n|---|---|---|---|---|---|---|")
    for name, s in res["summary"].items():
        print(f"| {name} | {s['median_snr_db_estimated']:.1f} dB | {s['median_llr']:+.2f} | {100 * s['llr_gt_0']:.0f} % | "
              f"{100 * s['llr_ge_1']:.1f} % ({s['count_llr_ge_1']}) | {100 * s['declined_as_noisy']:.0f} % | "
              f"{s['count_llr_ge_1_judged']} |")
    if a.verify:
        print("\n| condition | verify: declined | judged | LLR >= 1 | LLR <= -1 | median LLR |\n|---|---|---|---|---|---|")
        for name, s in res["summary"].items():
            v = s["verify"]
            print(f"| {name} | {v['declined']} | {v['judged']} | {v['llr_ge_1']} | {v['llr_le_minus_1']} | {v['median_llr']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
