"""Real speech with speaker labels, found on this machine, for measuring the
speaker check. Read in place; nothing is copied or downloaded.

Sources (each optional; missing ones are skipped and reported):
- shared media ``audio/fsdd``: Free Spoken Digit Dataset, 6 speakers x 10
  digits x 50 takes; one utterance = the ten digits of one take index, so
  each utterance is a few seconds of one speaker.
- Debian ``asterisk-core-sounds-{en,es,fr,it,ru}-wav`` and the
  ``asterisk-prompt-*`` packages: telephone prompts of one voice talent per
  folder (Allison recorded both en and es: one speaker).
- Debian ``pocketsphinx-testdata``: ``cards`` (one speaker) and ``librivox``
  (one reader), kept as two speakers.
- Debian ``klettres-data``: letters and syllables read by one native speaker
  per language folder (``nn`` is TTS, ``pt_BR`` mixes a father and child,
  ``id`` is empty: not used).
- shared media ``audio/sadtalker`` driving wavs and ``audio/whisper`` jfk.flac:
  one speaker per file, identity unknown, so each file gives two halves
  (a same-speaker pair) and is only ever paired as "different" with
  speakers of the other sources, who are certainly other people.

An utterance is speech only (VAD-trimmed, as the detector sees it) of about
``target_s`` seconds, built by concatenating the speech of consecutive files.
Whether it is dry (``Speech.dry``, the room reading that picks the speaker
check's calibration) is read on those files as recorded, pauses and noise
floor included, as ``verify`` reads a file: read on the joined speech, the
joins fall steeply and every FSDD utterance read dry (35 dB and more)
although two thirds of its takes, read whole with a noise floor ~30 dB
under the speech, read 29-33 dB (72 % of all utterances read dry this way,
93 % on the joined speech).
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.decode import AudioDecodeError, decode_audio
from detectors.speaker.speech import speech_of_samples
from verifier.shared_dir import shared_dir

SHARED = shared_dir()
MEDIA = SHARED / "media"
ASTERISK = Path("/usr/share/asterisk/sounds")
POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
KLETTRES = Path("/usr/share/klettres")
# Debian packages behind each local source (the ones calibration.json was measured with).
DEBIAN_SOURCES = {
    ASTERISK: "asterisk-core-sounds-{en,es,fr,it,ru}-wav, asterisk-prompt-{es-co,fr-armelle,it-menardi}",
    POCKETSPHINX: "pocketsphinx-testdata",
    KLETTRES: "klettres-data",
}
KLETTRES_LANGS = ("ar", "cs", "da", "de", "en", "en_GB", "es", "fr", "he", "hu", "it", "lt", "ml", "nb", "nds", "nl", "ru", "tn", "uk")


@dataclass(frozen=True)
class Utterance:
    speaker: str
    source: str
    samples: np.ndarray  # speech only, 16 kHz mono float32
    recorded_dry: bool  # its recordings, read whole, are dry (``Speech.dry``)
    group: str = "labelled"  # "halves": identity unknown, pair only with other sources as "different"

    @property
    def seconds(self) -> float:
        return len(self.samples) / 16000.0


@dataclass(frozen=True)
class _Recording:
    speech: np.ndarray  # VAD-trimmed speech
    audio: np.ndarray  # the whole recording at 16 kHz
    dry: bool = False  # the whole recording reads dry (``Speech.dry``)


def _read(path: Path) -> _Recording:
    try:
        dec = decode_audio(path, max_duration_s=600)
    except AudioDecodeError:
        return _Recording(np.zeros(0, np.float32), np.zeros(0, np.float32))
    sp = speech_of_samples(dec.samples, dec.sample_rate)
    return _Recording(sp.samples, dec.samples, sp.dry)


def _utterance(speaker: str, source: str, recs: list[_Recording], group: str = "labelled") -> Utterance:
    dry = recs[0].dry if len(recs) == 1 else speech_of_samples(np.concatenate([r.audio for r in recs]), 16000).dry
    return Utterance(speaker, source, np.concatenate([r.speech for r in recs]), dry, group)


def _pack(speaker: str, source: str, files: list[Path], target_s: float, max_utts: int) -> list[Utterance]:
    """Concatenate the speech of ``files`` in order into utterances of >= ``target_s``."""
    out, buf = [], []
    for f in files:
        if len(out) >= max_utts:
            break
        r = _read(f)
        if r.speech.size:
            buf.append(r)
        if sum(len(b.speech) for b in buf) >= target_s * 16000:
            out.append(_utterance(speaker, source, buf))
            buf = []
    return out


def _spread(files: list[Path], n: int) -> list[Path]:
    """``n`` files spread evenly over a sorted list (different prompts, not one topic)."""
    files = sorted(files)
    if len(files) <= n:
        return files
    return [files[int(i)] for i in np.linspace(0, len(files) - 1, n)]


def fsdd(target_s: float) -> list[Utterance]:
    root = MEDIA / "audio/fsdd"
    meta = root / "speakers.json"
    if not meta.is_file():
        return []
    out = []
    for spk in sorted(json.loads(meta.read_text())["speakers"]):
        takes = sorted({int(Path(p).stem.split("_")[2]) for p in glob.glob(str(root / f"recordings/*_{spk}_*.wav"))})
        for t in takes:
            files = [root / f"recordings/{d}_{spk}_{t}.wav" for d in range(10)]
            recs = [r for r in (_read(f) for f in files if f.is_file()) if r.speech.size]
            if recs:
                out.append(_utterance(f"fsdd_{spk}", "fsdd", recs))
    return out


def asterisk(target_s: float, per_speaker: int) -> list[Utterance]:
    folders = {  # folder -> speaker
        "en_US_f_Allison": "allison", "es_MX_f_Allison": "allison", "fr_CA_f_June": "june",
        "it_IT_m_Carlo": "carlo", "ru_RU_f_IvrvoiceRU": "ivrvoice_ru", "it_IT_f_Menardi": "menardi",
        "fr": "armelle", "es": "es_co",
    }
    out = []
    for folder, spk in folders.items():
        files = [Path(p) for ext in ("wav", "gsm") for p in glob.glob(str(ASTERISK / folder / f"**/*.{ext}"), recursive=True)]
        n = per_speaker // 2 if spk == "allison" else per_speaker  # two folders share Allison
        out += _pack(f"asterisk_{spk}", f"asterisk/{folder}", _spread(files, n * 6), target_s, n)
    return out


def pocketsphinx(target_s: float) -> list[Utterance]:
    out = []
    for sub in ("cards", "librivox"):
        files = sorted((POCKETSPHINX / sub).glob("*.wav"))
        out += _pack(f"pocketsphinx_{sub}", f"pocketsphinx/{sub}", files, target_s, 10)
    return out


def klettres(target_s: float) -> list[Utterance]:
    out = []
    for lang in KLETTRES_LANGS:
        files = sorted(KLETTRES.glob(f"{lang}/alpha/*.ogg")) + sorted(KLETTRES.glob(f"{lang}/syllab/*.ogg"))
        out += _pack(f"klettres_{lang}", f"klettres/{lang}", files, target_s, 4)
    return out


def halves() -> list[Utterance]:
    files = sorted(Path(p) for p in glob.glob(str(MEDIA / "audio/sadtalker/examples/driven_audio/*.wav")))
    files += [MEDIA / "audio/whisper/tests/jfk.flac"]
    out = []
    for f in files:
        if not f.is_file():
            continue
        r = _read(f)
        if len(r.speech) < 2 * 2.5 * 16000:
            continue
        h = len(r.speech) // 2
        # the file as recorded (r.dry): both halves come from it
        out += [Utterance(f"file_{f.stem}", "shared/halves", r.speech[:h], r.dry, "halves"),
                Utterance(f"file_{f.stem}", "shared/halves", r.speech[h:], r.dry, "halves")]
    return out


def missing_packages() -> list[str]:
    """Debian packages whose files are absent: without them the corpus has no
    telephone-band speakers and the calibration cannot be measured again."""
    return [pkg for root, pkg in DEBIAN_SOURCES.items() if not root.is_dir()]


def build(target_s: float = 4.0, per_speaker: int = 8) -> list[Utterance]:
    return fsdd(target_s) + asterisk(target_s, per_speaker) + pocketsphinx(target_s) + klettres(target_s) + halves()
