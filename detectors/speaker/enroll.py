"""Voice enrolment: reference voice embeddings for a named person.

Mirrors the face references (``detectors.identity.enroll``): one small JSON
file per person under ``<data_dir>/references/voices``, holding two 256-D
embeddings per enrolled recording (as recorded, and through the telephone
band: see ``band.py``), each recording's SHA-256, seconds of speech and
room reading (steepest decay, whether noise was removed: a comparison uses
the clean-recording calibration only when every reference read dry), and
the voice encoder's SHA-256. Embeddings, not audio, are stored:
enough to compare, and far less sensitive to keep than a voice sample that
could itself feed a voice clone. Enrolling a name again adds recordings; a
recording enrolled before (same SHA-256) is read again and replaces its old
entry instead of counting twice (which would also pull the centroid toward
it). A different encoder invalidates old references (the hash is checked
on load). Reading, locking and writing are the face store's
(``detectors.identity.enroll``), and so is the ledger check of enrolments.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.decode import AudioDecodeError, NoAudioStreamError
from detectors.identity.enroll import (
    EnrolmentError,
    EnrolmentGuard,
    StaleReferenceError,
    UnknownPersonError,
    embedding_rows,
    finite_round,
    read_reference,
    reference_file,
    save_reference,
    string_list,
)
from detectors.speaker.band import is_narrowband, to_telephone
from detectors.speaker.encoder import embed_utterance, model_sha256
from detectors.speaker.speech import reads_dry, speech_of_file

MIN_ENROL_SPEECH_S = 3.0
# How speech is prepared before embedding (``speech.speech_of_samples``). A
# reference prepared another way is not comparable with the calibration: 2 =
# denoised under ``speech.DENOISE_BELOW_DB`` (thirteenth session); files
# without the field were enrolled without denoising.
SPEECH_PATH_VERSION = 2

__all__ = ["MIN_ENROL_SPEECH_S", "EnrolmentError", "StaleReferenceError", "UnknownPersonError", "VoiceReference", "VoiceStore"]


@dataclass(frozen=True)
class VoiceReference:
    name: str
    embeddings: np.ndarray  # (n, 256), one per enrolled recording, L2-normed, as recorded
    embeddings_telephone: np.ndarray  # (n, 256), the same speech through the telephone band
    narrowband: tuple[bool, ...]  # recording had (almost) no energy above 4.2 kHz
    file_sha256: tuple[str, ...]
    speech_s: tuple[float, ...]
    model_sha256: str
    # Per recording, as ``Speech`` read it; None = enrolled before rooms were read (twelfth-thirteenth sessions).
    decay_db: tuple[float | None, ...] = ()
    denoised: tuple[bool, ...] = ()
    sha256: str = ""  # of the reference file's bytes as read or written

    @property
    def sources_sha256(self) -> tuple[str, ...]:
        return self.file_sha256

    @property
    def dry(self) -> bool:
        """Every recording read dry (see ``Speech.dry``); unknown counts as not dry."""
        return len(self.decay_db) == len(self.file_sha256) and all(map(reads_dry, self.decay_db, self.denoised))

    @property
    def room_unknown(self) -> bool:
        return any(d is None for d in self.decay_db) or len(self.decay_db) != len(self.file_sha256)

    def embeddings_for(self, band: str) -> np.ndarray:
        return self.embeddings_telephone if band == "telephone" else self.embeddings


def _padded(values: list, n: int, fill) -> tuple:
    """Per-recording readings, ``fill`` for recordings enrolled before they were kept (listed first)."""
    return tuple([fill] * (n - len(values)) + list(values))


class VoiceStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        return reference_file(self.root, name)

    def enroll(self, name: str, files: list[Path], min_speech_s: float = MIN_ENROL_SPEECH_S, *, replace: bool = False,
               guard: EnrolmentGuard | None = None) -> VoiceReference:
        """Embed each recording's speech and add it to ``name``'s reference
        (``replace``: start a new one).

        All files are checked before anything is written, so a bad file
        leaves an existing reference unchanged.
        """
        self._path(name)  # validate the name before the (slow) decoding
        if not files:
            raise EnrolmentError("voice enrolment needs at least one recording of the person speaking")
        rows: dict[str, tuple] = {}  # SHA-256 -> (emb, tel, narrowband, sha, seconds, decay, denoised); a file twice counts once
        for p in files:
            p = Path(p)
            try:
                speech = speech_of_file(p)
            except NoAudioStreamError:
                raise EnrolmentError(f"{p}: the file has no audio stream; enrol a recording of the person speaking") from None
            except AudioDecodeError as exc:
                raise EnrolmentError(f"{p}: audio could not be decoded ({str(exc).removeprefix(f'{p}: ')})") from None
            if speech.seconds < min_speech_s:
                raise EnrolmentError(
                    f"{p}: only {speech.seconds:.1f} s of speech found ({speech.vad_backend} VAD); a voice reference needs "
                    f"at least {min_speech_s:.0f} s of this one person speaking per file (10-30 s is better)")
            sha = hashlib.sha256(p.read_bytes()).hexdigest()
            rows.setdefault(sha, (
                embed_utterance(speech.samples), embed_utterance(to_telephone(speech.samples)),
                is_narrowband(speech.samples), sha, round(speech.seconds, 2),
                # Rounded down: a reading just under the dry threshold must not become dry in storage.
                None if speech.decay_db is None else math.floor(speech.decay_db * 100) / 100, speech.denoised))
        model = model_sha256()

        def build(old: VoiceReference | None) -> tuple[dict, list[list]]:
            merged = list(rows.values())
            if old is not None:
                old_rows = zip(old.embeddings, old.embeddings_telephone, old.narrowband, old.file_sha256, old.speech_s,
                               old.decay_db, old.denoised)
                merged = [r for r in old_rows if r[3] not in rows] + merged  # re-enrolled recordings are replaced
            embs, tels, nbs, shas, secs, decays, noisy = cols = [list(col) for col in zip(*merged)]
            doc = dict(
                name=name, kind="voice", model="resemblyzer-0.1.4 GE2E voice encoder", model_sha256=model,
                file_sha256=list(shas), speech_s=list(secs), narrowband=[bool(b) for b in nbs],
                embeddings=[[finite_round(v) for v in e] for e in embs],
                embeddings_telephone=[[finite_round(v) for v in e] for e in tels],
                speech_path_version=SPEECH_PATH_VERSION, decay_db=list(decays), denoised=list(noisy),
            )
            return doc, cols

        (embs, tels, nbs, shas, secs, decays, noisy), digest = save_reference(
            self.root, self._path(name), lambda: self.load(name), build, replace=replace, guard=guard,
            sources_sha256=list(rows), model_sha256=model)
        return VoiceReference(name, np.array(embs), np.array(tels), tuple(bool(b) for b in nbs), tuple(shas), tuple(secs),
                              model, tuple(decays), tuple(bool(b) for b in noisy), digest)

    def load(self, name: str) -> VoiceReference:
        p = self._path(name)
        if not p.exists():
            raise UnknownPersonError(f"no voice reference enrolled for {name!r} in {self.root} "
                                     f"(enrol first: verifier enroll {name!r} RECORDING...)")
        d, digest = read_reference(p, name)
        if d.get("model_sha256") != model_sha256():
            raise StaleReferenceError(f"{name!r} was enrolled with another voice encoder; enrol the recordings again")
        if d.get("speech_path_version", 1) != SPEECH_PATH_VERSION:
            raise StaleReferenceError(f"{name!r} was enrolled by an older version that did not remove background noise "
                                 "before comparing voices; enrol the recordings again")
        if d.get("name") != name:
            raise EnrolmentError(f"the reference file of {name!r} names another person ({str(d.get('name'))[:64]!r}); "
                                 "remove it and enrol again")
        files = string_list(d, "file_sha256", name)
        n = len(files)
        try:
            narrowband = tuple(bool(b) for b in d["narrowband"])
            speech_s = tuple(float(x) for x in d["speech_s"])
            decay = _padded([None if x is None else float(x) for x in d.get("decay_db", [])], n, None)
            denoised = _padded([bool(b) for b in d.get("denoised", [])], n, False)
        except (KeyError, TypeError, ValueError):
            narrowband = speech_s = decay = denoised = ()
        if not (len(narrowband) == len(speech_s) == len(decay) == len(denoised) == n):
            raise EnrolmentError(f"the reference file of {name!r} is damaged or was not written by `verifier enroll` "
                                 "(its per-recording lists disagree); remove it and enrol again")
        return VoiceReference(name, embedding_rows(d, "embeddings", 256, n, name),
                              embedding_rows(d, "embeddings_telephone", 256, n, name), narrowband, files, speech_s,
                              d["model_sha256"], decay, denoised, digest)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(json.loads(p.read_text())["name"] for p in self.root.glob("*.json"))
