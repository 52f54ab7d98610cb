"""Exception types of the ledger.

Every failure a caller can act on has its own type, so the CLI can map it to an
exit code and print one clear line instead of a traceback, and the pipeline can
tell "the ledger is unavailable" from "the ledger has been tampered with".
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of every error raised by :mod:`verifier.ledger`."""


class LedgerInputError(LedgerError):
    """The caller gave something unusable: a record that is not JSON, a bad index, a bad file."""


class LedgerStorageError(LedgerError):
    """The database could not be opened, read or written (locked, unreachable, wrong schema)."""


class LedgerKeyError(LedgerError):
    """The signing key is missing, unreadable, of the wrong type, or not the ledger's key."""


class NoteError(LedgerError):
    """A signed note, checkpoint or verifier key string is malformed or does not verify."""


class ProofError(LedgerError):
    """A Merkle inclusion or consistency proof is malformed or does not verify."""


class TimestampError(LedgerError):
    """An RFC 3161 timestamp could not be obtained, or the stored token does not verify."""


class SecurityError(LedgerError):
    """The log is inconsistent with what it signed earlier: tampering, truncation or a fork.

    Raised (or reported) only when evidence contradicts a signed statement, so it
    must never be silenced: it maps to exit code 3 and a ``SECURITY ERROR`` banner.
    """
