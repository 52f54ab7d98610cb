"""Receipts: self-contained, offline-verifiable proofs that a record is in the log.

The format is C2SP tlog-proof (``c2sp.org/tlog-proof@v1``): header line, an
``extra`` line carrying the record's canonical bytes (base64), the entry index,
the inclusion proof hashes, a blank line, then the signed checkpoint. Carrying
the record makes a receipt useful alone; with ``--record FILE`` the verifier
also checks that the file is the very record that was logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from verifier.ledger import merkle
from verifier.ledger.errors import LedgerInputError, NoteError, ProofError
from verifier.ledger.note import SignedCheckpoint, VerifierKey, b64, b64decode_strict

HEADER = "c2sp.org/tlog-proof@v1"


def split_before_checkpoint(text: str | bytes, what: str) -> tuple[list[str], str]:
    """The lines before the first blank line, and the signed checkpoint after it: the layout of
    both a tlog-proof receipt and a tlog-witness consistency proof."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise LedgerInputError(f"{what} is not UTF-8 text") from None
    head, sep, cp_text = text.partition("\n\n")
    if not sep:
        raise LedgerInputError(f"{what} has no blank line before its checkpoint")
    return head.split("\n"), cp_text


@dataclass(frozen=True)
class Receipt:
    index: int
    proof: tuple[bytes, ...]
    checkpoint: SignedCheckpoint
    record: bytes | None = None  # canonical record bytes (the "extra" data)

    def encode(self) -> str:
        lines = [HEADER]
        if self.record is not None:
            lines.append(f"extra {b64(self.record)}")
        lines.append(f"index {self.index}")
        lines.extend(b64(h) for h in self.proof)
        return "\n".join(lines) + "\n\n" + self.checkpoint.text

    @classmethod
    def parse(cls, text: str | bytes) -> Receipt:
        lines, cp_text = split_before_checkpoint(text, "receipt")
        if lines[0] != HEADER:
            raise LedgerInputError(f"not a tlog proof: first line must be {HEADER!r}")
        pos, record = 1, None
        if pos < len(lines) and lines[pos].startswith("extra "):
            record = b64decode_strict(lines[pos][6:], "receipt extra data")
            pos += 1
        if pos >= len(lines) or not re.fullmatch(r"index (0|[1-9][0-9]*)", lines[pos]):
            raise LedgerInputError("receipt is missing its 'index N' line")
        index = int(lines[pos][6:])
        proof = tuple(b64decode_strict(h, "proof hash") for h in lines[pos + 1 :])
        try:
            checkpoint = SignedCheckpoint.parse(cp_text)
        except NoteError as exc:
            raise LedgerInputError(f"receipt checkpoint is malformed: {exc}") from None
        return cls(index=index, proof=proof, checkpoint=checkpoint, record=record)


@dataclass(frozen=True)
class ReceiptCheck:
    """A successfully verified receipt."""

    index: int
    leaf_hash: bytes
    record: bytes
    checkpoint: SignedCheckpoint
    signed_by: tuple[VerifierKey, ...]


def verify_receipt(
    receipt: Receipt | str | bytes,
    keys: Iterable[VerifierKey],
    *,
    record: bytes | None = None,
    origin: str | None = None,
) -> ReceiptCheck:
    """Verify signature, inclusion proof and (if given) the record; raise on any failure.

    ``record`` must be canonical bytes (see :func:`record.canonicalize_json_bytes`).
    Raises :class:`NoteError` for signature problems, :class:`ProofError` for
    proof or record mismatches, :class:`LedgerInputError` for malformed input.
    """
    r = receipt if isinstance(receipt, Receipt) else Receipt.parse(receipt)
    if r.record is None and record is None:
        raise LedgerInputError("receipt carries no record: pass the record file with --record")
    if r.record is not None and record is not None and r.record != record:
        raise ProofError("the given record is not the record this receipt is for (canonical bytes differ)")
    data = record if record is not None else r.record
    assert data is not None
    good = r.checkpoint.verify(list(keys), origin=origin)
    leaf = merkle.leaf_hash(data)
    cp = r.checkpoint.checkpoint
    merkle.verify_inclusion(r.index, cp.size, leaf, list(r.proof), cp.root_hash)
    return ReceiptCheck(index=r.index, leaf_hash=leaf, record=data, checkpoint=r.checkpoint, signed_by=tuple(good))


def build_receipt(index: int, proof: Sequence[bytes], checkpoint: SignedCheckpoint, record: bytes) -> str:
    return Receipt(index=index, proof=tuple(proof), checkpoint=checkpoint, record=record).encode()
