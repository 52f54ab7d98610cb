"""Enrolments in the ledger: which reference an identity claim was compared with,
and that it is the reference that was enrolled.

Why: a reference (a person's face or voice embeddings) is a small JSON file in
the data directory. Whoever can write there could put their own voice under
"Jane Doe (CFO)", and every later ``verify --claimed-speaker 'Jane Doe (CFO)'``
would hear the impostor as a match, leaving no trace. So every enrolment
appends a record to the signed ledger (the person's name, face or voice, the
SHA-256 of the reference file it wrote, the SHA-256 of each file enrolled), and
a claim check reads the reference once, hashes those bytes, and requires them
to be the ones the latest enrolment of that name recorded, under a checkpoint
signed by the ledger's key. The verdict names the reference's SHA-256 and that
ledger entry, so anyone can later see what the media was compared with.

"The latest enrolment" is only as good as the log it is read from, so the
check runs on the ledger opened with its signing key (a ledger built with
another key does not open), audits the whole log first (a row whose record
was edited to hide a newer enrolment fails its leaf hash), and refuses a log
smaller than the one this host last wrote (an older copy of the database put
back brings an older enrolment back with it). The audit costs about as much
as ``verifier ledger verify``: 0.34 s at 20,000 entries of 3 KB (median of 5).

Embeddings are not put in the ledger: logs are exported and bundled, and a
face or voice embedding is biometric data. Their hash binds them as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Literal

from verifier.errors import EXIT_SECURITY_ERROR, VerifierError

if TYPE_CHECKING:
    from verifier.ledger import Ledger

ENROLMENT_KIND = "av-verifier/enrolment@1"
# JCS sorts keys and "kind" sorts before every other key of an enrolment record
# (model_sha256, modality, name, operation, recorded_at, reference_sha256,
# sources_sha256), so this prefix finds them without parsing every verdict.
ENROLMENT_PREFIX = b'{"kind":"' + ENROLMENT_KIND.encode() + b'"'

Modality = Literal["face", "voice"]
Operation = Literal["enrol", "replace", "adopt"]


class ReferenceIntegrityError(VerifierError):
    """A reference is not the one the ledger says was enrolled (changed or placed
    outside ``verifier enroll``), or the ledger's enrolment entry does not verify.
    A security failure (exit 3): a claim must not be checked against it."""

    exit_code = EXIT_SECURITY_ERROR


class EnrolmentLogUnavailableError(VerifierError):
    """The ledger could not be read or written for an enrolment or its check:
    the operator's to fix; nothing is compared or enrolled meanwhile (exit 3)."""

    exit_code = EXIT_SECURITY_ERROR


@dataclass(frozen=True)
class EnrolmentEntry:
    """One enrolment as the ledger recorded it."""

    index: int
    modality: Modality
    name: str
    reference_sha256: str
    operation: str
    recorded_at: str


def enrolment_record(modality: Modality, name: str, reference_sha256: str, sources_sha256: list[str],
                     model_sha256: str, operation: Operation) -> dict:
    return {
        "kind": ENROLMENT_KIND,
        "modality": modality,
        "name": name,
        "operation": operation,
        "reference_sha256": reference_sha256,
        "sources_sha256": list(sources_sha256),
        "model_sha256": model_sha256,
        "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def record_enrolment(ledger: Ledger, record: dict) -> int:
    """Append an enrolment record and make sure a signed checkpoint covers it at
    once (a lazily checkpointing ledger would otherwise leave it unverifiable
    until the next checkpoint, and every claim about the person refused)."""
    entry = ledger.append(record)
    latest = ledger.latest_checkpoint()
    if latest is None or latest.checkpoint.size <= entry.index:
        ledger.checkpoint()
    return entry.index


class LedgerGuard:
    """The ledger's side of an enrolment (``detectors.identity.enroll.EnrolmentGuard``):
    adding to a reference requires it to be the one last enrolled (else a planted
    reference would survive every later enrolment), and the new reference is
    recorded before its file is written. ``adopt`` records an existing reference
    as it is: the operator's statement that it is the person's."""

    def __init__(self, ledger: Ledger, modality: Modality, name: str, log: EnrolmentLog | None = None):
        self.ledger, self.modality, self.name = ledger, modality, name
        self.log = log if log is not None else EnrolmentLog(ledger)  # share one per command: one audit
        self.index: int | None = None

    def accept_existing(self, reference_sha256: str) -> None:
        try:
            self.log.check(self.modality, self.name, reference_sha256)
        except ReferenceIntegrityError as exc:
            raise ReferenceIntegrityError(f"not adding to it: {exc}") from None

    def commit(self, reference_sha256: str, sources_sha256: list[str], model_sha256: str, replace: bool) -> None:
        self._record(reference_sha256, sources_sha256, model_sha256, "replace" if replace else "enrol")

    def adopt(self, reference_sha256: str, sources_sha256: list[str], model_sha256: str) -> int:
        """Record a reference enrolled before enrolments were recorded. Only for a
        name the ledger has never enrolled: adopting over a recorded enrolment
        would bless whatever file was put in its place."""
        recorded = self.log.latest(self.modality, self.name)
        if recorded is not None:
            same = recorded.reference_sha256 == reference_sha256
            raise ReferenceIntegrityError(
                f"not adopting the {self.modality} reference of {self.name!r}: the ledger already recorded "
                + ("this very reference" if same else "another one") + f" for that name at entry {recorded.index} "
                f"({recorded.recorded_at}); --adopt is for references enrolled before enrolments were recorded"
                + ("" if same else "; find out why the file changed, then enrol the person again with --replace"))
        return self._record(reference_sha256, sources_sha256, model_sha256, "adopt")

    def _record(self, reference_sha256: str, sources_sha256: list[str], model_sha256: str, operation: Operation) -> int:
        from verifier.ledger import LedgerError

        record = enrolment_record(self.modality, self.name, reference_sha256, sources_sha256, model_sha256, operation)
        try:
            self.index = record_enrolment(self.ledger, record)
        except LedgerError as exc:
            raise EnrolmentLogUnavailableError(f"the enrolment could not be recorded in the ledger, so the {self.modality} "
                                               f"reference was not changed: {exc}") from None
        return self.index


def _parse(raw: bytes, index: int) -> EnrolmentEntry | None:
    try:
        rec = json.loads(raw)
        return EnrolmentEntry(index, rec["modality"], rec["name"], rec["reference_sha256"], rec["operation"],
                              rec["recorded_at"])
    except (ValueError, KeyError, TypeError):
        return None


class EnrolmentLog:
    """The enrolments of one ledger, for one command or request. The log is checked
    whole (see the module's docstring) once, at first use: a verification with a
    face and a voice claim, or an enrolment of both, audits it once, not per claim."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self._whole = False

    def _ensure_whole(self, what: str) -> None:
        if self._whole:
            return
        ledger = self.ledger
        if not ledger.can_sign:
            raise ReferenceIntegrityError(f"{what}: the ledger was opened without its signing key, so nothing ties it to "
                                          "this installation's key; identity claims are checked on the ledger opened with its key")
        noted = ledger.noted_size()
        if ledger.size < noted:
            raise ReferenceIntegrityError(
                f"{what}: the ledger holds {ledger.size} entries but this host last wrote it at {noted}: it was rolled "
                "back (an older copy of the database put back?); run `verifier ledger verify` and restore the latest database")
        audit = ledger.verify()
        incomplete = [p for p in audit.problems if p.code == "error"]  # an audit that could not finish vouches for nothing
        if audit.security_failure or incomplete:
            raise ReferenceIntegrityError(f"{what}: the ledger fails its audit ({audit.reason}); run `verifier ledger verify`")
        self._whole = True

    def latest(self, modality: Modality, name: str) -> EnrolmentEntry | None:
        """The latest enrolment of ``name``'s ``modality``, after checking that the log is
        whole and a checkpoint signed by its key covers the entry; None if there is none."""
        from verifier.ledger import LedgerError, verify_receipt

        ledger = self.ledger
        try:
            self._ensure_whole(f"the {modality} reference of {name!r} cannot be checked against its enrolment")
            rows = ledger.entries_starting_with(ENROLMENT_PREFIX)
        except LedgerError as exc:
            raise EnrolmentLogUnavailableError(f"the ledger could not be read to check the {modality} reference of "
                                               f"{name!r} against its enrolment: {exc}") from None
        for row in reversed(rows):
            entry = _parse(row.record, row.index)
            if entry is None or entry.modality != modality or entry.name != name:
                continue
            try:
                verify_receipt(ledger.receipt(row.index), ledger.verifier_keys(), record=row.record, origin=ledger.origin)
            except LedgerError as exc:
                raise ReferenceIntegrityError(
                    f"the ledger's enrolment of the {modality} of {name!r} (entry {row.index}) does not verify against a "
                    f"checkpoint signed by the ledger's key ({exc}): do not rely on it; run `verifier ledger verify`") from None
            return entry
        return None

    def check(self, modality: Modality, name: str, reference_sha256: str) -> EnrolmentEntry:
        """The enrolment whose reference is exactly these bytes, or
        :class:`ReferenceIntegrityError` saying what is wrong and what to do."""
        latest = self.latest(modality, name)
        if latest is None:
            raise ReferenceIntegrityError(
                f"the {modality} reference enrolled as {name!r} is not recorded in the ledger (enrolled before enrolments "
                f"were recorded, or put in the data directory by hand): check where it came from, then record it as it is "
                f"with `verifier enroll {name!r} --adopt`, or enrol the person again with --replace")
        if latest.reference_sha256 != reference_sha256:
            raise ReferenceIntegrityError(
                f"the {modality} reference enrolled as {name!r} (SHA-256 {reference_sha256[:16]}...) is not the one the "
                f"ledger recorded at its latest enrolment (entry {latest.index}, {latest.recorded_at}, SHA-256 "
                f"{latest.reference_sha256[:16]}...): it was changed outside `verifier enroll`. Find out why before "
                f"relying on it; enrol the person again with --replace")
        return latest


def latest_enrolment(ledger: Ledger, modality: Modality, name: str) -> EnrolmentEntry | None:
    return EnrolmentLog(ledger).latest(modality, name)


def check_reference(ledger: Ledger, modality: Modality, name: str, reference_sha256: str) -> EnrolmentEntry:
    return EnrolmentLog(ledger).check(modality, name, reference_sha256)


__all__ = ["ENROLMENT_KIND", "ENROLMENT_PREFIX", "EnrolmentEntry", "EnrolmentLog", "EnrolmentLogUnavailableError",
           "LedgerGuard", "ReferenceIntegrityError", "check_reference", "enrolment_record", "latest_enrolment", "record_enrolment"]
