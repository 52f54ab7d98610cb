"""RFC 3161 timestamps over signed checkpoints.

A checkpoint signature proves *who* committed to a tree head; a timestamp
token from an independent TSA proves *when* (no later than), which an auditor
cannot get from our own clock. The token covers the complete signed note text
(body and signatures), so it also dates the signature.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from verifier.ledger.errors import TimestampError

TIMEOUT_S = 10.0
MAX_RESPONSE = 1 << 20


def request_timestamp(url: str, message: bytes, *, timeout: float = TIMEOUT_S) -> bytes:
    """Ask the TSA at ``url`` for a token over SHA-256(message); return the DER TimeStampResp."""
    req = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    http = urllib.request.Request(
        url, data=req.as_bytes(), headers={"Content-Type": "application/timestamp-query"}, method="POST"
    )
    try:
        with urllib.request.urlopen(http, timeout=timeout) as resp:  # noqa: S310 (configured URL)
            body = resp.read(MAX_RESPONSE + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise TimestampError(f"timestamp authority {url} unreachable: {exc}") from None
    if len(body) > MAX_RESPONSE:
        raise TimestampError(f"timestamp authority {url} sent an oversized response")
    try:
        tsr = decode_timestamp_response(body)
    except ValueError as exc:
        raise TimestampError(f"timestamp authority {url} sent an undecodable response: {exc}") from None
    if PKIStatus(tsr.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError(f"timestamp authority {url} refused the request (status {tsr.status})")
    info = tsr.tst_info
    if info.message_imprint.message != hashlib.sha256(message).digest():
        raise TimestampError(f"timestamp authority {url} stamped a different message")
    if req.nonce is not None and info.nonce != req.nonce:
        raise TimestampError(f"timestamp authority {url} answered with the wrong nonce")
    return body


def load_roots(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise TimestampError(f"cannot read TSA trust roots from {path}: {exc}") from None


def verify_timestamp(token: bytes, message: bytes, roots: Sequence[x509.Certificate]) -> datetime:
    """Verify a stored TimeStampResp over ``message`` against trusted TSA roots; return genTime."""
    if not roots:
        raise TimestampError("no TSA trust roots configured: cannot verify the timestamp token")
    try:
        tsr = decode_timestamp_response(token)
    except ValueError as exc:
        raise TimestampError(f"stored timestamp token is not a valid TimeStampResp: {exc}") from None
    builder = VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify_message(tsr, message)
    except (VerificationError, ValueError) as exc:
        raise TimestampError(f"timestamp token does not verify: {exc}") from None
    return tsr.tst_info.gen_time
