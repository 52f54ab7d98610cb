"""Which detectors a verification runs, and the identity claims it checks.

The CLI (``--detectors``, ``--claimed-person``, ``--claimed-speaker``) and the
HTTP service (form fields of the same names) turn a user's request into one
``DetectorSelection`` here, so both accept and refuse exactly the same
things. A claim about someone never enrolled is refused before any file is
received: "no reference" must not quietly become "no evidence". With a
ledger, a claim is also refused when the reference is not the one its latest
enrolment recorded (``verifier.enrolment_log``): a swapped reference would
turn an impostor into a match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from verifier.errors import InputError

if TYPE_CHECKING:
    from verifier.enrolment_log import EnrolmentLog
    from verifier.ledger import Ledger


class SelectionError(InputError):
    """The requested detectors or claims cannot be honoured; the message says why."""


@dataclass(frozen=True)
class DetectorSelection:
    names: tuple[str, ...] | None = None  # None: the default detectors
    options: dict[str, str] = field(default_factory=dict)


def face_reference_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "references" / "faces"


def voice_reference_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "references" / "voices"


def parse_detector_list(spec: str | None) -> list[str] | None:
    """'all', 'none', or comma-separated names; None keeps the defaults."""
    from detectors.base import available_detectors

    if spec is None or not spec.strip():
        return None
    spec = spec.strip()
    names = available_detectors() if spec == "all" else [] if spec == "none" else [d.strip() for d in spec.split(",") if d.strip()]
    unknown = [n for n in names if n not in available_detectors()]
    if unknown:
        raise SelectionError(f"unknown detector(s) {', '.join(unknown)}; available: {', '.join(available_detectors())}")
    return list(dict.fromkeys(names))  # a name given twice runs once (its evidence counts once)


def _claim_options(key: str, ref, modality: str, log: EnrolmentLog | None) -> dict[str, str]:
    """What the claim detector is told besides the name: the SHA-256 of the
    reference checked here (it must read the same bytes) and, with a ledger,
    the enrolment entry that recorded them."""
    options = {f"{key}_sha256": ref.sha256}
    if log is not None:
        options[f"{key}_enrolment"] = str(log.check(modality, ref.name, ref.sha256).index)  # type: ignore[arg-type]
    return options


def select_detectors(data_dir: Path, detectors: str | None = None, claimed_person: str | None = None,
                     claimed_speaker: str | None = None, ledger: Ledger | None = None) -> DetectorSelection:
    """``ledger``: check the claimed references against their enrolments there
    (:class:`verifier.enrolment_log.ReferenceIntegrityError` when they differ)."""
    from detectors.identity.enroll import EnrolmentError  # the speaker store raises the same type

    names = parse_detector_list(detectors)
    options: dict[str, str] = {}
    log = None
    if ledger is not None and (claimed_person or claimed_speaker):
        from verifier.enrolment_log import EnrolmentLog

        log = EnrolmentLog(ledger)  # one audit for both claims
    if claimed_person:
        from detectors.identity.enroll import ReferenceStore

        ref_dir = face_reference_dir(data_dir)
        try:
            ref = ReferenceStore(ref_dir).load(claimed_person)
        except EnrolmentError as exc:
            raise SelectionError(f"claimed person: {exc} (enrol first: verifier enroll NAME --face PHOTO...)") from None
        options |= {"claimed_person": claimed_person, "reference_dir": str(ref_dir)}
        options |= _claim_options("claimed_person", ref, "face", log)
        names = sorted(set(names or []) | {"face_identity_claim"})
    if claimed_speaker:
        from detectors.speaker.enroll import VoiceStore

        ref_dir = voice_reference_dir(data_dir)
        try:
            vref = VoiceStore(ref_dir).load(claimed_speaker)
        except EnrolmentError as exc:
            raise SelectionError(f"claimed speaker: {exc}") from None
        options |= {"claimed_speaker": claimed_speaker, "voice_reference_dir": str(ref_dir)}
        options |= _claim_options("claimed_speaker", vref, "voice", log)
        names = sorted(set(names or []) | {"speaker_claim"})
    return DetectorSelection(tuple(names) if names is not None else None, options)
