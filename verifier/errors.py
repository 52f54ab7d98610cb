"""Exception types a user can act on, and the exit codes they map to.

Exit codes are part of the CLI contract (documented in the README):
0 verification completed and nothing was flagged (authentic_provenance,
no_manipulation_detected, inconclusive: read the label), 2 input error,
3 ledger/audit security failure, 4 internal error, 10 tampered,
11 likely manipulated, 12 declared synthetic. With several files the most
severe code wins, in the order 4, 2, 10, 11, 12, 3, 0.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INPUT_ERROR = 2
EXIT_SECURITY_ERROR = 3
EXIT_INTERNAL_ERROR = 4
EXIT_TAMPERED = 10
EXIT_MANIPULATED = 11
EXIT_DECLARED_SYNTHETIC = 12

_SEVERITY = (EXIT_INTERNAL_ERROR, EXIT_INPUT_ERROR, EXIT_TAMPERED, EXIT_MANIPULATED,
             EXIT_DECLARED_SYNTHETIC, EXIT_SECURITY_ERROR, EXIT_OK)


def most_severe(codes: list[int]) -> int:
    present = set(codes)
    return next((c for c in _SEVERITY if c in present), EXIT_OK)


class VerifierError(Exception):
    """Base class: the message is shown to the user as is, on one line."""

    exit_code = EXIT_INTERNAL_ERROR


class InputError(VerifierError):
    """The input cannot be verified as given (missing, unreadable, not media)."""

    exit_code = EXIT_INPUT_ERROR


class NotMediaError(InputError):
    pass


class FileTooLargeError(InputError):
    pass


class EvidenceStoreError(VerifierError):
    """The evidence store or custody log cannot be written, or holds bytes that do not match
    their name: a record cannot be kept, which is the operator's to fix (exit 3, HTTP 503)."""

    exit_code = EXIT_SECURITY_ERROR


class ConfigError(VerifierError):
    exit_code = EXIT_INPUT_ERROR


class SigningError(VerifierError):
    exit_code = EXIT_INPUT_ERROR


class UnrecordedVerdictError(VerifierError):
    """The verification finished but its ledger entry could not be written.

    Carries the finished record, so the caller can still show (or return) the
    verdict it did reach, marked as not recorded, instead of dropping it."""

    exit_code = EXIT_SECURITY_ERROR

    def __init__(self, message: str, verification: object):
        super().__init__(message)
        self.verification = verification
