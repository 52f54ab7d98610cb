"""Does the log today still extend the checkpoint someone saved earlier? Checked without the database.

A receipt proves that one record was in the log at one size. Whoever keeps it
(a court, the other party, an auditor) can later ask the question a receipt
cannot answer alone: has the log been rewritten, truncated or forked since,
or shown to someone else with different contents? The answer is a Merkle
consistency proof from the saved size to the latest signed checkpoint, checked
against the root the holder saved, so the log's operator cannot choose it.

The proof's text form is the body of a C2SP tlog-witness ``add-checkpoint``
request (``c2sp.org/tlog-witness``): an ``old N`` line, one base64 hash per
line, a blank line, then the signed checkpoint. The same bytes can be sent to
an independent witness to cosign, and nothing new had to be invented.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from verifier.ledger import merkle
from verifier.ledger.errors import LedgerInputError, NoteError, ProofError
from verifier.ledger.note import Checkpoint, SignedCheckpoint, VerifierKey, b64, b64decode_strict
from verifier.ledger.receipt import HEADER as RECEIPT_HEADER
from verifier.ledger.receipt import Receipt, split_before_checkpoint

if TYPE_CHECKING:
    from verifier.ledger.core import Ledger

MAX_PROOF_LINES = 63  # tlog-witness: a client never sends more (a tree of 2^63 leaves needs fewer)


@dataclass(frozen=True)
class ExtensionProof:
    """A consistency proof from ``old_size`` to the tree the signed ``checkpoint`` commits to."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: SignedCheckpoint

    def encode(self) -> str:
        lines = [f"old {self.old_size}", *(b64(h) for h in self.proof)]
        return "\n".join(lines) + "\n\n" + self.checkpoint.text

    @classmethod
    def parse(cls, text: str | bytes) -> ExtensionProof:
        lines, cp_text = split_before_checkpoint(text, "consistency proof")
        if not re.fullmatch(r"old (0|[1-9][0-9]*)", lines[0]):
            raise LedgerInputError("not a consistency proof: the first line must be 'old N' (c2sp.org/tlog-witness)")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise LedgerInputError(f"consistency proof has {len(lines) - 1} hashes; at most {MAX_PROOF_LINES} are possible")
        try:
            proof = tuple(b64decode_strict(h, "consistency proof hash") for h in lines[1:])
        except NoteError as exc:
            raise LedgerInputError(str(exc)) from None
        if any(len(h) != 32 for h in proof):
            raise LedgerInputError("every consistency proof hash must be 32 bytes (SHA-256)")
        try:
            checkpoint = SignedCheckpoint.parse(cp_text)
        except NoteError as exc:
            raise LedgerInputError(f"consistency proof's checkpoint is malformed: {exc}") from None
        return cls(old_size=int(lines[0][4:]), proof=proof, checkpoint=checkpoint)


@dataclass(frozen=True)
class ExtensionCheck:
    """A verified extension: ``new`` is an append-only continuation of ``old``."""

    old: Checkpoint
    new: SignedCheckpoint
    signed_by: tuple[VerifierKey, ...]


def prove_extension(ledger: Ledger, old_size: int) -> ExtensionProof:
    """The proof from ``old_size`` to the ledger's latest signed checkpoint."""
    latest = ledger.latest_checkpoint()
    if latest is None:
        raise LedgerInputError("the log has no signed checkpoint yet; run `verifier ledger checkpoint` first")
    size = latest.checkpoint.size
    if old_size < 0:
        raise LedgerInputError(f"old size must be 0 or more, got {old_size}")
    if old_size > size:
        raise LedgerInputError(
            f"the latest signed checkpoint has size {size}, smaller than {old_size}: if you hold a checkpoint of "
            f"size {old_size} signed by this log, the log has been truncated or rolled back")
    proof = ledger.consistency_proof(old_size, size) if 0 < old_size < size else []
    return ExtensionProof(old_size=old_size, proof=tuple(proof), checkpoint=latest)


def saved_checkpoint(text: str | bytes) -> SignedCheckpoint:
    """The checkpoint a holder kept: a checkpoint file, or the one inside a receipt."""
    raw = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    if raw.startswith(RECEIPT_HEADER + "\n"):
        return Receipt.parse(raw).checkpoint
    try:
        return SignedCheckpoint.parse(raw)
    except NoteError as exc:
        raise LedgerInputError(f"not a checkpoint or a receipt: {exc}") from None


def verify_extension(
    saved: SignedCheckpoint, extension: ExtensionProof | str | bytes, keys: Iterable[VerifierKey],
    *, origin: str | None = None,
) -> ExtensionCheck:
    """Raise unless both checkpoints are signed by ``keys`` for one log and the newer extends the saved one.

    :class:`NoteError` for signatures, :class:`ProofError` for a log that was
    rewritten, truncated or forked, :class:`LedgerInputError` for a proof that
    starts at another size than the saved checkpoint (ask for the right one).
    """
    ext = extension if isinstance(extension, ExtensionProof) else ExtensionProof.parse(extension)
    keys = list(keys)
    try:
        saved.verify(keys, origin=origin)
    except NoteError as exc:
        raise NoteError(f"the saved checkpoint does not verify: {exc}") from None
    old, new = saved.checkpoint, ext.checkpoint.checkpoint
    try:
        good = ext.checkpoint.verify(keys, origin=old.origin)
    except NoteError as exc:
        raise NoteError(f"the newer checkpoint does not verify: {exc}") from None
    if ext.old_size != old.size:
        raise LedgerInputError(
            f"the proof starts at size {ext.old_size} but the saved checkpoint has size {old.size}; "
            f"ask for the proof from {old.size}")
    if new.size < old.size:
        raise ProofError(f"the log signed size {old.size} before and size {new.size} now: it was truncated or rolled back")
    if old.size == 0:
        if old.root_hash != merkle.EMPTY_ROOT or ext.proof:
            raise ProofError("a size-0 checkpoint must have the empty root and an empty proof")
    elif old.size == new.size:
        if ext.proof or old.root_hash != new.root_hash:
            raise ProofError(
                f"two different trees were signed at size {old.size} (roots {b64(old.root_hash)} and "
                f"{b64(new.root_hash)}): the log was forked or rewritten")
    else:
        try:
            merkle.verify_consistency(old.size, new.size, list(ext.proof), old.root_hash, new.root_hash)
        except ProofError as exc:
            raise ProofError(
                f"the proof does not show the log at size {new.size} extending the saved checkpoint at size "
                f"{old.size}: the log was forked or rewritten, or the proof is not the one it served ({exc})") from None
    return ExtensionCheck(old=old, new=ext.checkpoint, signed_by=tuple(good))
