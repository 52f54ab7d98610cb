"""Hum and tones under speech: does ``audio.hum`` give the detectors their
speech back, and does it leave ordinary recordings alone?

    python -m audio.hum_eval [--calls-per-voice 2] [--voice-clone] [--out results.json]

Two measurements, both through ``decode_audio`` as every detector reads a file:

- **Ordinary recordings** (the census): every speech recording of the shared
  media, a spread of the asterisk prompt voices, KLettres letters and the
  pocketsphinx test files. Counted: how many ``audio.hum`` changes at all
  (the detectors were measured on these as decoded before it existed).
- **Tones laid under genuine speech**: 30 s calls of the asterisk voices and
  the shared speech clips, each with a tone 18, 12 and 6 dB under the speech's
  level, at it and 6 dB over it (its level in the pauses): a steady 45, 60,
  100, 150, 250, 440, 1000 or 3000 Hz sine; 50 Hz mains hum with harmonics to
  1 kHz or to 250 Hz; a 45 Hz tone wobbling +-4 Hz; a tone only in the
  pauses; and a tone 6 dB louder while the voice speaks (what the steadiness
  test lets through). Reported per kind: the speech-to-noise estimate as laid
  and as decoded (voice_clone judges from 15 dB, the speaker check from 11 dB)
  and, for the calls the speaker check would judge, the voice encoder's
  cosine between the decoded call and the clean one, and how far its cosine to
  the other voices' clean calls rose (an impostor's similarity to a reference
  must not rise).
- With ``--voice-clone``: voice_clone's LLR on genuine calls and their WORLD
  and Griffin-Lim copies, clean and with a low tone (``voice_clone_scores``).

Measured (session 26, this machine; the full table is in docs/voice.md):
- **Census.** 4 of 2357 ordinary recordings change; all four read under the
  15 dB gate before.
- **Low tones.** Tones under 300 Hz (steady, wobbling, mains to 250 Hz, louder
  while the voice speaks), from 12 dB under to 6 dB over the speech, are
  filtered out in 19/19 calls, and both detectors judge them all. Cosine to
  the clean call: at least 0.878, median 0.98-1.00.
- **Audible tones.** Tones at 440, 1000 and 3000 Hz, and mains hum with
  harmonics to 1 kHz, are left in: from 6 dB under the speech both detectors
  decline, as before (but for one call in 19 with the mains hum at -6 dB).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from audio.decode import decode_audio
from audio.noise import steady_noise_snr_db
from audio.repeats_eval import ASTERISK, SHARED_SPEECH, VOICES, prompt_calls

RATE = 16_000
LEVELS_DB = (-18.0, -12.0, -6.0, 0.0, 6.0)
KINDS = ("45", "60", "100", "150", "250", "440", "1000", "3000", "mains50", "mains50_to_250", "wobble45",
         "pauses_only60", "louder_in_speech60")
KLETTRES = Path("/usr/share/klettres")
POCKETSPHINX = Path("/usr/share/pocketsphinx")


def _spread(files: list[Path], n: int) -> list[Path]:
    files = sorted(files)
    if len(files) <= n:
        return files
    return [files[i] for i in np.linspace(0, len(files) - 1, n).astype(int)]


def ordinary_recordings(per_dir: int = 40) -> list[Path]:
    from verifier.shared_dir import shared_dir

    audio = {".wav", ".flac", ".mp3", ".ogg", ".m4a"}
    found: list[Path] = []
    media = shared_dir() / "media"
    if media.is_dir():
        found += sorted(p for p in (media / "audio").rglob("*") if p.suffix.lower() in audio)
        found += sorted((media / "video").rglob("*.mp4"))
    for root in (ASTERISK, KLETTRES):
        if root.is_dir():
            for d in sorted({p.parent for p in root.rglob("*") if p.suffix.lower() in audio}):
                found += _spread([p for p in d.iterdir() if p.suffix.lower() in audio], per_dir)
    if POCKETSPHINX.is_dir():
        found += sorted(p for p in POCKETSPHINX.rglob("*.wav"))
    return found


def census(paths: list[Path]) -> dict:
    from audio.decode import AudioDecodeError

    changed, read = [], 0
    for p in paths:
        try:
            d = decode_audio(p, target_rate=RATE)
        except AudioDecodeError:  # a video without sound, a file FFmpeg refuses
            continue
        read += 1
        if d.sample_note and "filled the pauses" in d.sample_note:
            changed.append({"file": str(p), "note": d.sample_note})
    return {"recordings": read, "changed": len(changed), "changed_files": changed}


def _pauses(x: np.ndarray) -> np.ndarray:
    """Where the call is quiet: 20 ms frames under the 30th percentile of their energies."""
    n = int(0.02 * RATE)
    m = x.size // n
    e = np.pad((x[:m * n].astype(np.float64).reshape(m, n) ** 2).mean(axis=1), (0, 1), mode="edge")
    quiet = np.repeat(e <= np.percentile(e[:m], 30), n)[:x.size]
    return np.pad(quiet, (0, x.size - quiet.size), mode="edge")


def _speech_rms(x: np.ndarray) -> float:
    loud = x[~_pauses(x)]
    return float(np.sqrt(np.mean(loud.astype(np.float64) ** 2)))


def laid_tone(x: np.ndarray, kind: str, level_db: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` with a tone of ``kind`` whose RMS in the pauses is ``level_db``
    against the speech's."""
    t = np.arange(x.size) / RATE
    phase = rng.uniform(0, 2 * np.pi)
    if kind.startswith("mains50"):
        top = 5 if kind.endswith("to_250") else 20
        tone = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, top + 1))
    elif kind == "wobble45":
        tone = np.sin(2 * np.pi * 45 * t + (4 / 0.5) * np.sin(2 * np.pi * 0.5 * t) + phase)
    elif kind.startswith(("pauses_only", "louder_in_speech")):
        hz = float(kind.rsplit("_", 1)[-1].replace("only", "").replace("speech", ""))
        gain = np.where(_pauses(x), 1.0, 0.0 if kind.startswith("pauses") else 2.0)
        gain = np.convolve(gain, np.ones(800) / 800, "same")  # 50 ms ramps, no clicks
        tone = gain * np.sin(2 * np.pi * hz * t + phase)
    else:
        tone = np.sin(2 * np.pi * float(kind) * t + phase)
    tone = np.asarray(tone, np.float64)
    pause_rms = float(np.sqrt(np.mean(tone[_pauses(x)] ** 2)))
    tone *= _speech_rms(x) * 10 ** (level_db / 20) / max(pause_rms, 1e-12)
    y = x + tone
    return (y / max(1.0, float(np.abs(y).max()) / 0.99)).astype(np.float32)


def _embedding(x: np.ndarray) -> np.ndarray | None:
    """The speaker check's reading of the voice, compared in the telephone band
    (most calls here are 8 kHz recordings)."""
    from detectors.speaker.band import to_telephone
    from detectors.speaker.encoder import embed_utterance
    from detectors.speaker.speech import speech_of_samples

    speech = speech_of_samples(x).samples
    return embed_utterance(to_telephone(speech, RATE)) if speech.size >= RATE else None


def _write(path: Path, x: np.ndarray) -> Path:
    import soundfile as sf

    sf.write(str(path), x, RATE, subtype="FLOAT")
    return path


def _voice(name: str) -> str:
    return name.rsplit("-", 1)[0] if name.startswith("asterisk-") else name


def tones(calls: list[tuple[str, np.ndarray]], rng: np.random.Generator) -> dict:
    """Each call with each tone, decoded as a detector reads it. Besides the
    noise estimate: the cosine of the decoded call to its clean self, and how
    much closer it came to the other voices' clean calls (an impostor's
    similarity to a reference: it must not rise)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clean = {name: _embedding(decode_audio(_write(Path(tmp) / "c.wav", x), target_rate=RATE).samples)
                 for name, x in calls}
        for name, x in calls:
            others = [e for n, e in clean.items() if _voice(n) != _voice(name) and e is not None]
            base = np.array([clean[name] @ e for e in others]) if clean[name] is not None else None
            for kind in KINDS:
                for level in LEVELS_DB:
                    y = laid_tone(x, kind, level, rng)
                    d = decode_audio(_write(Path(tmp) / "y.wav", y), target_rate=RATE)
                    emb = _embedding(d.samples)
                    ok = emb is not None and base is not None
                    shift = np.array([emb @ e for e in others]) - base if ok else None
                    rows.append({
                        "call": name, "kind": kind, "level_db": level,
                        "snr_laid_db": steady_noise_snr_db(y, RATE),
                        "snr_decoded_db": steady_noise_snr_db(d.samples, RATE),
                        "removed": bool(d.sample_note and "filled the pauses" in d.sample_note),
                        "cosine_to_clean": float(emb @ clean[name]) if ok else None,
                        "impostor_shift_median": float(np.median(shift)) if ok else None,
                        "impostor_shift_max": float(shift.max()) if ok else None,
                    })
    return {"rows": rows, "by_kind": _summary(rows)}


def _summary(rows: list[dict]) -> list[dict]:
    out = []
    for kind in KINDS:
        for level in LEVELS_DB:
            r = [x for x in rows if x["kind"] == kind and x["level_db"] == level]
            dec = np.array([x["snr_decoded_db"] for x in r])
            judged = [x for x in r if x["snr_decoded_db"] >= 11 and x["cosine_to_clean"] is not None]

            def stat(key, fn):
                v = np.array([x[key] for x in judged])
                return float(fn(v)) if v.size else None
            out.append({
                "kind": kind, "level_db": level, "calls": len(r),
                "laid_median_db": float(np.median([x["snr_laid_db"] for x in r])),
                "decoded_median_db": float(np.median(dec)),
                "removed": int(sum(x["removed"] for x in r)),
                "judged_by_voice_clone": int((dec >= 15).sum()), "judged_by_speaker_check": int((dec >= 11).sum()),
                "cosine_min": stat("cosine_to_clean", np.min), "cosine_median": stat("cosine_to_clean", np.median),
                "impostor_shift_median": stat("impostor_shift_median", np.median),
                "impostor_shift_max": stat("impostor_shift_max", np.max),
            })
    return out


CLONE_VOICES = ("en", "es_MX_f_Allison", "fr_CA_f_June", "it_IT_m_Carlo", "ru_RU_f_IvrvoiceRU")


def voice_clone_scores(rng: np.random.Generator) -> list[dict]:
    """voice_clone's LLR, as ``verify`` reports it, on 20 s genuine calls and
    their WORLD and Griffin-Lim resyntheses: as they are, and with a 45 Hz
    tone or 50 Hz hum to 250 Hz at the speech's level (judged only because
    ``audio.hum`` takes it out: the detector declined on both before)."""
    from detectors.base import DetectorContext, get_detector
    from detectors.voice_clone.vocoders import griffinlim_resynth, world_resynth
    from verifier.evidence import MediaInfo, MediaKind, ProvenanceResult, ProvenanceState, StreamInfo

    media = MediaInfo(kind=MediaKind.audio, mime_type="audio/wav", streams=[StreamInfo(index=0, kind="audio")])
    det = get_detector("voice_clone")
    families = {"genuine": lambda x: x, "WORLD": lambda x: world_resynth(x, RATE, rng),
                "Griffin-Lim": lambda x: griffinlim_resynth(x, RATE, rng)}
    calls = [c for v in CLONE_VOICES if (ASTERISK / v).is_dir() for c in prompt_calls(ASTERISK / v, 1, rng, length_s=20.0)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        def llr(x):
            p = _write(Path(tmp) / "x.wav", x)
            f = det.analyze(DetectorContext(path=p, media=media, provenance=ProvenanceResult(state=ProvenanceState.absent)))
            return f.llr if f.applicable else None
        for family, make in families.items():
            for i, call in enumerate(calls):
                y = np.asarray(make(call), np.float32)
                rows.append({"family": family, "call": i, "clean": llr(y),
                             "tone45": llr(laid_tone(y, "45", 0.0, rng)),
                             "mains50_to_250": llr(laid_tone(y, "mains50_to_250", 0.0, rng))})
    return rows


def main(argv: list[str] | None = None) -> None:
    from verifier.shared_dir import shared_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls-per-voice", type=int, default=2)
    ap.add_argument("--per-dir", type=int, default=40, help="ordinary recordings taken from each folder")
    ap.add_argument("--voice-clone", action="store_true", help="also score calls and resyntheses with voice_clone")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(2026)
    result = {"census": census(ordinary_recordings(args.per_dir))}
    calls: list[tuple[str, np.ndarray]] = []
    for lang, sub in VOICES.items():
        if (ASTERISK / sub).is_dir():
            calls += [(f"asterisk-{lang}-{i}", c) for i, c in enumerate(prompt_calls(ASTERISK / sub, args.calls_per_voice, rng))]
    for rel in SHARED_SPEECH:
        p = shared_dir() / rel
        for f in ([p] if p.is_file() else sorted(p.glob("*.wav")) if p.is_dir() else []):
            calls.append((f.name, decode_audio(f, target_rate=RATE).samples))
    result["tones"] = tones(calls, rng)
    c = result["census"]
    print(f"ordinary recordings: {c['recordings']}, changed by audio.hum: {c['changed']}")
    for f in c["changed_files"]:
        print(f"  {f['file']}: {f['note']}")
    print(f"\ntones under {len(calls)} genuine calls, level in the pauses against the speech; noise estimate as laid "
          "-> decoded (median dB); judged by voice_clone (>= 15 dB) / the speaker check (>= 11 dB); among the calls the "
          "speaker check judges, cosine to the clean call and the rise of the cosine to other voices' clean calls")
    print("| tone | level | removed | laid dB | decoded dB | voice_clone judges | speaker check judges | "
          "cosine to clean min / median | impostor rise median / max |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")

    def f3(v):
        return "-" if v is None else f"{v:+.3f}" if v < 0.5 else f"{v:.3f}"
    for s in result["tones"]["by_kind"]:
        print(f"| {s['kind']} | {s['level_db']:+.0f} dB | {s['removed']}/{s['calls']} | {s['laid_median_db']:.1f} | "
              f"{s['decoded_median_db']:.1f} | {s['judged_by_voice_clone']}/{s['calls']} | "
              f"{s['judged_by_speaker_check']}/{s['calls']} | {f3(s['cosine_min'])} / {f3(s['cosine_median'])} | "
              f"{f3(s['impostor_shift_median'])} / {f3(s['impostor_shift_max'])} |")
    if args.voice_clone:
        result["voice_clone"] = voice_clone_scores(rng)
        print("\nvoice_clone LLR: clean / 45 Hz tone at the speech's level / 50 Hz hum to 250 Hz at it")
        for r in result["voice_clone"]:
            cells = ["declined" if r[k] is None else f"{r[k]:+.2f}" for k in ("clean", "tone45", "mains50_to_250")]
            print(f"  {r['family']:12s} call {r['call']}: " + " / ".join(cells))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
