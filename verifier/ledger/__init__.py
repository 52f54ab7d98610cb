"""Signed, tamper-evident verdict ledger: an RFC 6962 Merkle log with C2SP checkpoints.

Public API (the rest of the tool integrates against these names only)::

    from verifier.ledger import Ledger, LedgerError
    with Ledger.open(settings) as led:
        entry = led.append(record)        # AppendedEntry(index, leaf_hash, receipt, checkpoint)
        led.receipt(entry.index)          # C2SP tlog-proof text, verifiable offline
        led.verify()                      # AuditResult (ok / problems)

The ledger imports nothing about media, provenance or detectors: it stores
records, it does not interpret them.
"""

from verifier.ledger.audit import AuditProblem, AuditResult
from verifier.ledger.core import AppendedEntry, CheckpointView, EntryView, Ledger, default_origin
from verifier.ledger.errors import (
    LedgerError,
    LedgerInputError,
    LedgerKeyError,
    LedgerStorageError,
    NoteError,
    ProofError,
    SecurityError,
    TimestampError,
)
from verifier.ledger.note import Checkpoint, SignedCheckpoint, VerifierKey
from verifier.ledger.receipt import Receipt, ReceiptCheck, verify_receipt
from verifier.ledger.record import canonicalize

__all__ = [
    "AppendedEntry",
    "AuditProblem",
    "AuditResult",
    "Checkpoint",
    "CheckpointView",
    "EntryView",
    "Ledger",
    "LedgerError",
    "LedgerInputError",
    "LedgerKeyError",
    "LedgerStorageError",
    "NoteError",
    "ProofError",
    "Receipt",
    "ReceiptCheck",
    "SecurityError",
    "SignedCheckpoint",
    "TimestampError",
    "VerifierKey",
    "canonicalize",
    "default_origin",
    "verify_receipt",
]
