"""Where the corpus comes from: Debian packages of real speech and TTS engines.

Everything here is discovered on the local disk; nothing is downloaded and
nothing is installed. ``check_sources`` reports each missing piece with the
exact ``apt-get install`` line that provides it.

Speaker and split assignment is fixed in these tables (not random) so that a
protocol is reproducible and its splits are disjoint by speaker: a voice talent
recorded in two languages (Allison, en and es) is one speaker.
"""

from __future__ import annotations

import functools
import random
import shutil
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from audio.decode import decode_audio

Split = Literal["train", "dev", "eval"]
ASTERISK = Path("/usr/share/asterisk/sounds")
POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
KLETTRES = Path("/usr/share/klettres")
TUXPAINT = Path("/usr/share/tuxpaint/stamps")
KTUBERLING = Path("/usr/share/ktuberling/sounds")


class MissingSourceError(RuntimeError):
    """A required corpus source is not installed; the message names the apt package."""


@dataclass(frozen=True)
class BonafideSource:
    name: str
    speaker: str
    lang: str
    root: Path
    patterns: tuple[str, ...]
    apt_package: str
    split: Split

    def files(self) -> list[Path]:
        out: set[Path] = set()
        for pat in self.patterns:
            out.update(p for p in self.root.glob(pat) if p.is_file())
        return sorted(out)


@dataclass(frozen=True)
class Utterance:
    """Several short recordings of one speaker, to be played one after the other."""

    uid: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class GroupedSource(BonafideSource):
    """A source of very short recordings (single letters, syllables: ~0.5-1 s of speech each).

    Alone they would be shorter than the chain's 1.5-6 s crops, so bona fide
    length (a shortcut) would differ from the spoofs'. ``utterances`` groups a
    speaker's files, in a seeded order, into utterances of ``group_s`` seconds
    of audio; ``load_utterance`` joins them with the recordings' own room tone
    as the gap between items (no digital silence, no splice clicks).
    """

    group_s: tuple[float, float] = (2.5, 7.0)
    max_utterances: int | None = 60

    def utterances(self, seed: int = 0) -> list[Utterance]:
        return list(_group_files(self, seed))


# Speech kept around each item when joining: room tone of the recording itself.
GROUP_MARGIN_MS = (90.0, 220.0)
GROUP_XFADE_MS = 15.0
GROUP_RATE = 44100


def _item_speech(path: Path) -> tuple[np.ndarray, int] | None:
    from audio.decode import AudioDecodeError

    try:
        d = decode_audio(path, target_rate=GROUP_RATE, max_duration_s=60)
    except AudioDecodeError:
        return None  # a few klettres oggs do not decode with FFmpeg; they are skipped
    return d.samples, d.sample_rate


def _speech_span(x: np.ndarray, rate: int) -> tuple[int, int] | None:
    from audio.vad import energy_vad

    segs = energy_vad(x, rate)
    if not segs:
        return None
    return int(segs[0].start_s * rate), int(segs[-1].end_s * rate)


@functools.lru_cache(maxsize=64)
def _group_files(src: GroupedSource, seed: int) -> tuple[Utterance, ...]:
    lengths: list[tuple[Path, float]] = []
    for p in src.files():
        d = _item_speech(p)
        if d is None:
            continue
        span = _speech_span(*d)
        if span is None:
            continue
        lengths.append((p, (span[1] - span[0]) / d[1] + sum(GROUP_MARGIN_MS) / 1000))
    rnd = random.Random(f"{seed}:{src.name}")
    rnd.shuffle(lengths)
    out: list[Utterance] = []
    cur: list[Path] = []
    acc, target = 0.0, rnd.uniform(*src.group_s)
    for p, dur in lengths:
        cur.append(p)
        acc += dur
        if acc >= target:
            out.append(Utterance(f"u{len(out):03d}", tuple(str(c) for c in cur)))
            cur, acc, target = [], 0.0, rnd.uniform(*src.group_s)
    if cur and acc >= src.group_s[0]:
        out.append(Utterance(f"u{len(out):03d}", tuple(str(c) for c in cur)))
    if src.max_utterances is not None:
        out = out[: src.max_utterances]
    return tuple(out)


def recording_loaders(src: BonafideSource, seed: int = 0, target_rate: int | None = None,
                      ) -> list[tuple[str, Callable[[], tuple[np.ndarray, int]]]]:
    """(id, load) for each recording of ``src`` as published, in a seeded
    order: a grouped source's utterances (at their own rate), or its files
    decoded at ``target_rate`` (None: the file's rate). ``load`` returns
    (samples, rate) and raises AudioDecodeError or TtsError."""
    if isinstance(src, GroupedSource):
        return [(u.uid, lambda u=u: load_utterance(u.parts)) for u in src.utterances(seed)]
    files = src.files()
    random.Random(f"{seed}:{src.name}").shuffle(files)

    def decoded(f: Path) -> tuple[np.ndarray, int]:
        d = decode_audio(f, target_rate=target_rate, max_duration_s=600)
        return d.samples, d.sample_rate

    return [(f.stem, lambda f=f: decoded(f)) for f in files]


def load_utterance(parts: tuple[str, ...], key: str = "") -> tuple[np.ndarray, int]:
    """Join the speech of ``parts`` (each with a seeded margin of its own room tone), crossfaded."""
    rng = np.random.default_rng(zlib.crc32(("utt:" + key + "|".join(parts)).encode()))
    rate = GROUP_RATE
    xf = int(GROUP_XFADE_MS / 1000 * rate)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, xf, dtype=np.float64))
    out = np.zeros(0, np.float64)
    for p in parts:
        d = _item_speech(Path(p))
        if d is None:
            continue
        x = d[0].astype(np.float64)
        span = _speech_span(x, rate)
        if span is None:
            continue
        a = max(0, span[0] - int(rng.uniform(*GROUP_MARGIN_MS) / 1000 * rate))
        b = min(len(x), span[1] + int(rng.uniform(*GROUP_MARGIN_MS) / 1000 * rate))
        x = x[a:b]
        if len(out) >= xf and len(x) >= 2 * xf:
            out[-xf:] = out[-xf:] * ramp[::-1] + x[:xf] * ramp
            out = np.concatenate([out, x[xf:]])
        else:
            out = np.concatenate([out, x])
    if out.size == 0:
        raise TtsError(f"none of {len(parts)} grouped recordings could be decoded")
    return out.astype(np.float32), rate


# KLettres (package klettres-data, GPL-2+ per its copyright file): letters and
# syllables read by one native speaker per language directory, home microphone,
# 44.1 kHz. ar is a child ("Rafik"); pt_BR credits a father and his child (kept
# as one speaker group, so both stay in one split). nn (CereVoice TTS, per its
# sounds.xml) and id (no files shipped) are not used.
KLETTRES_SPLITS: dict[str, Split] = {
    "ar": "train", "cs": "train", "da": "train", "en": "train", "en_GB": "train", "es": "train",
    "it": "train", "ml": "train", "nb": "train", "nds": "train", "pt_BR": "train", "ru": "train", "uk": "train",
    "de": "dev", "lt": "dev", "tn": "dev",
    "fr": "eval", "he": "eval", "hu": "eval", "nl": "eval",
}
KLETTRES_SOURCES: tuple[GroupedSource, ...] = tuple(
    GroupedSource(f"klettres-{lang}", f"klettres_{lang}", lang.split("_")[0], KLETTRES / lang, ("alpha/*.ogg", "syllab/*.ogg"),
                  "klettres-data", split)
    for lang, split in KLETTRES_SPLITS.items()
)

# Tux Paint's stamp descriptions (package tuxpaint-stamps-default, GPL-2 per its
# copyright file): the name of each stamp ("a brown bear") spoken by volunteers,
# home microphones, 44.1 kHz Ogg Vorbis, 0.5-1.6 s each. Its changelog credits
# the recordings per language (be Kseniya Buraya, bg Krasimir Petkov, da Joe
# Dalton, el Kiriaki Serafeim, es Estefania Ortiz, fr Jacques Chion and PaulK,
# ro "Tabbytha", ru Edwin Veber; numbers in several languages from Schoolsplay;
# ca, en, lt, nl uncredited). A language may hold more than one voice, so each
# language is one speaker group and stays in one split. Words, not letters: a
# different kind of read speech from KLettres, from other people and rooms.
TUXPAINT_SPLITS: dict[str, Split] = {
    "be": "train", "bg": "train", "en": "train", "es": "train", "fr": "train", "ru": "train",
    "da": "dev", "lt": "dev", "ro": "dev",
    "ca": "eval", "el": "eval", "nl": "eval",
}
TUXPAINT_SOURCES: tuple[GroupedSource, ...] = tuple(
    GroupedSource(f"tuxpaint-{lang}", f"tuxpaint_{lang}", lang, TUXPAINT, (f"**/*_desc{'' if lang == 'en' else '_' + lang}.ogg",),
                  "tuxpaint-stamps-default", split, max_utterances=80)
    for lang, split in TUXPAINT_SPLITS.items()
)

# KTuberling (package ktuberling-data, GPL-2+ per its copyright file, `Files: *`):
# the names of the game's stickers ("eye", "hat", "fire engine") read by one
# volunteer per language, 22-48 kHz, Ogg Vorbis, fr WAV, nn Opus at 24 kbit/s.
# Tags name some of them (ca "Orestes", el "clavisound.gr and patty", lt Donatas
# Glodenis, nn Karl Ove Hufthammer / Oystein Steffensen-Alvaervik, wa Djan
# Cayron). KLettres is a sibling KDE program, so the same volunteer may have
# read both: a language both ship goes to KLettres' split (da, en, ru, uk and
# nb/nn train; de, lt dev; fr eval). ca and el go to eval with Tux Paint's; sl
# and wa are new languages (sl dev, wa train). gl is left out: its words are
# clipped and have no room tone around them, so the speech finder keeps one
# group of 71 files. es, fi, ga, it, nl, nds, pt, ro, sr*, sv hold 11-15 words
# each (some 8 kHz): too few for a speaker group.
KTUBERLING_SPLITS: dict[str, Split] = {
    "da": "train", "en": "train", "nn": "train", "ru": "train", "uk": "train", "wa": "train",
    "de": "dev", "lt": "dev", "sl": "dev",
    "ca": "eval", "el": "eval", "fr": "eval",
}
KTUBERLING_SOURCES: tuple[GroupedSource, ...] = tuple(
    GroupedSource(f"ktuberling-{lang}", f"ktuberling_{lang}", lang, KTUBERLING / lang, ("*.ogg", "*.wav", "*.opus"),
                  "ktuberling-data", split, max_utterances=80)
    for lang, split in KTUBERLING_SPLITS.items()
)

BONAFIDE_SOURCES: tuple[BonafideSource, ...] = (
    BonafideSource("asterisk-en", "allison", "en", ASTERISK / "en_US_f_Allison", ("**/*.wav",), "asterisk-core-sounds-en-wav", "train"),
    BonafideSource("asterisk-es", "allison", "es", ASTERISK / "es_MX_f_Allison", ("**/*.wav",), "asterisk-core-sounds-es-wav", "train"),
    BonafideSource("asterisk-it", "carlo", "it", ASTERISK / "it_IT_m_Carlo", ("**/*.wav",), "asterisk-core-sounds-it-wav", "train"),
    BonafideSource("asterisk-ru", "ivrvoice_ru", "ru", ASTERISK / "ru_RU_f_IvrvoiceRU", ("**/*.wav",), "asterisk-core-sounds-ru-wav", "train"),
    BonafideSource("prompt-es-co", "es_co", "es", ASTERISK / "es", ("*.gsm",), "asterisk-prompt-es-co", "train"),
    BonafideSource("prompt-it-menardi", "menardi", "it", ASTERISK / "it_IT_f_Menardi", ("**/*.gsm", "**/*.wav"), "asterisk-prompt-it-menardi", "dev"),
    BonafideSource("asterisk-fr", "june", "fr", ASTERISK / "fr_CA_f_June", ("**/*.wav",), "asterisk-core-sounds-fr-wav", "eval"),
    BonafideSource("prompt-fr-armelle", "armelle", "fr", ASTERISK / "fr", ("**/*.gsm",), "asterisk-prompt-fr-armelle", "eval"),
    BonafideSource("pocketsphinx", "pocketsphinx", "en", POCKETSPHINX, ("cards/*.wav", "librivox/*.wav"), "pocketsphinx-testdata", "eval"),
) + KLETTRES_SOURCES + TUXPAINT_SOURCES + KTUBERLING_SOURCES


@dataclass(frozen=True)
class TtsVoice:
    """One synthetic 'speaker': an engine, a voice and the family it belongs to."""

    engine: Literal["espeak-ng", "festival", "flite"]
    voice: str
    lang: str
    family: str
    split: Split

    @property
    def speaker(self) -> str:
        return f"{self.engine}-{self.voice}".replace("+", "_")


TTS_VOICES: tuple[TtsVoice, ...] = (
    # formant synthesis (espeak-ng): languages of every split
    TtsVoice("espeak-ng", "en-us+m3", "en", "espeak_formant", "train"),
    TtsVoice("espeak-ng", "en+f2", "en", "espeak_formant", "train"),
    TtsVoice("espeak-ng", "es+m1", "es", "espeak_formant", "train"),
    TtsVoice("espeak-ng", "es+f3", "es", "espeak_formant", "train"),
    TtsVoice("espeak-ng", "it+m4", "it", "espeak_formant", "train"),
    TtsVoice("espeak-ng", "ru+m2", "ru", "espeak_formant", "train"),
    TtsVoice("espeak-ng", "ru+f4", "ru", "espeak_formant", "train"),
    TtsVoice("espeak-ng", "it+f2", "it", "espeak_formant", "dev"),
    TtsVoice("espeak-ng", "en-us+f4", "en", "espeak_formant", "dev"),
    TtsVoice("espeak-ng", "fr+m1", "fr", "espeak_formant", "eval"),
    TtsVoice("espeak-ng", "fr+f3", "fr", "espeak_formant", "eval"),
    TtsVoice("espeak-ng", "en+m7", "en", "espeak_formant", "eval"),
    # diphone concatenation (festival, flite)
    TtsVoice("festival", "kal_diphone", "en", "diphone", "train"),
    TtsVoice("festival", "pc_diphone", "it", "diphone", "train"),
    TtsVoice("festival", "lp_diphone", "it", "diphone", "dev"),
    TtsVoice("flite", "kal", "en", "diphone", "train"),
    TtsVoice("festival", "ked_diphone", "en", "diphone", "eval"),
    TtsVoice("flite", "kal16", "en", "diphone", "eval"),
    # statistical parametric (flite clustergen, festival HTS)
    TtsVoice("flite", "awb", "en", "clustergen", "train"),
    TtsVoice("flite", "rms", "en", "clustergen", "dev"),
    TtsVoice("flite", "slt", "en", "clustergen", "eval"),
    TtsVoice("festival", "cmu_us_slt_arctic_hts", "en", "hts", "eval"),
    # unit selection (festival clunits)
    TtsVoice("festival", "msu_ru_nsh_clunits", "ru", "clunits", "eval"),
)

TTS_APT = {"espeak-ng": "espeak-ng", "festival": "festival", "flite": "flite"}
FESTIVAL_VOICE_APT = {
    "kal_diphone": "festvox-kallpc16k",
    "ked_diphone": "festvox-kdlpc16k",
    "pc_diphone": "festvox-itapc16k",
    "lp_diphone": "festvox-italp16k",
    "cmu_us_slt_arctic_hts": "festvox-us-slt-hts",
    "msu_ru_nsh_clunits": "festvox-ru",
}


@dataclass(frozen=True)
class Missing:
    what: str
    apt_package: str | None = None
    pip_package: str | None = None

    def hint(self) -> str:
        if self.apt_package:
            return f"{self.what}: apt-get install {self.apt_package}"
        return f"{self.what}: pip install {self.pip_package}"


def _festival_voice_present(voice: str) -> bool:
    return any(Path("/usr/share/festival/voices").glob(f"*/{voice}"))


def check_sources() -> list[Missing]:
    """Everything the full corpus needs that this machine lacks."""
    missing: list[Missing] = []
    for src in BONAFIDE_SOURCES:
        if not src.files():
            missing.append(Missing(f"bona fide speech {src.name} ({src.root})", src.apt_package))
    for engine, pkg in TTS_APT.items():
        binary = "text2wave" if engine == "festival" else engine
        if shutil.which(binary) is None:
            missing.append(Missing(f"TTS engine {engine} ({binary} not on PATH)", pkg))
    for voice, pkg in FESTIVAL_VOICE_APT.items():
        if shutil.which("text2wave") and not _festival_voice_present(voice):
            missing.append(Missing(f"festival voice {voice}", pkg))
    try:
        from detectors.voice_clone.vocoders import import_pyworld

        import_pyworld()
    except ImportError:
        missing.append(Missing("WORLD vocoder (python module pyworld)", pip_package="pyworld==0.3.5"))
    return missing


def voice_available(v: TtsVoice) -> bool:
    binary = "text2wave" if v.engine == "festival" else v.engine
    if shutil.which(binary) is None:
        return False
    return v.engine != "festival" or _festival_voice_present(v.voice)


class TtsError(RuntimeError):
    pass


def synthesize(v: TtsVoice, text: str, timeout_s: float = 60.0) -> tuple[np.ndarray, int]:
    """Render ``text`` with voice ``v``; returns float32 samples at the engine's native rate."""
    with tempfile.TemporaryDirectory(prefix="vc-tts-") as tmp:
        out = Path(tmp) / "out.wav"
        if v.engine == "espeak-ng":
            cmd = ["espeak-ng", "-v", v.voice, "-w", str(out), text]
        elif v.engine == "flite":
            cmd = ["flite", "-voice", v.voice, "-t", text, "-o", str(out)]
        else:
            txt = Path(tmp) / "in.txt"
            # festival's Italian diphone voices read Latin-1 bytes; the Russian one reads UTF-8
            enc = "utf-8" if v.lang == "ru" else "latin-1"
            txt.write_bytes(text.encode(enc, errors="replace"))
            cmd = ["text2wave", "-eval", f"(voice_{v.voice})", str(txt), "-o", str(out)]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TtsError(f"{v.speaker}: {exc}") from exc
        if proc.returncode != 0 or not out.is_file() or out.stat().st_size < 1000:
            raise TtsError(f"{v.speaker}: exit {proc.returncode}: {proc.stderr.decode(errors='replace')[:300]}")
        d = decode_audio(out, target_rate=None, max_duration_s=120)
        return d.samples, d.sample_rate
