"""Verdict records as RFC 8785 (JCS) canonical JSON, and the key-rotation record.

The ledger hashes bytes, not objects: the record is canonicalised once, and
those exact bytes are stored, hashed into the leaf and printed by
``ledger show --raw``. Anyone can re-canonicalise the JSON with any JCS
implementation and get the same leaf hash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785

from verifier.ledger.errors import LedgerInputError, NoteError
from verifier.ledger.note import NoteSigner, VerifierKey, b64, b64decode_strict

ROTATION_KIND = "av-verifier/ledger-key-rotation@1"
# JCS sorts keys, and "kind" sorts before every other key of a rotation record, so
# this prefix identifies candidate rotation records without parsing every entry.
ROTATION_PREFIX = b'{"kind":"' + ROTATION_KIND.encode() + b'"'
_ROTATION_CONTEXT = b"av-verifier ledger key rotation\n"


def canonicalize(record: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical bytes of a JSON object; :class:`LedgerInputError` if it is not one."""
    if not isinstance(record, Mapping):
        raise LedgerInputError(f"a ledger record must be a JSON object (mapping), got {type(record).__name__}")
    try:
        return rfc8785.dumps(dict(record))
    except rfc8785.CanonicalizationError as exc:
        raise LedgerInputError(f"record cannot be canonicalised as RFC 8785 JSON: {exc}") from None


def canonicalize_json_bytes(data: bytes) -> bytes:
    """Parse JSON text (e.g. a record file) and return its canonical bytes."""
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LedgerInputError(f"record is not valid JSON: {exc}") from None
    return canonicalize(obj)


def is_reserved(record: Mapping[str, Any]) -> bool:
    return record.get("kind") == ROTATION_KIND


@dataclass(frozen=True)
class Rotation:
    previous: VerifierKey
    new: VerifierKey


def _statement(body: Mapping[str, Any]) -> bytes:
    return _ROTATION_CONTEXT + rfc8785.dumps(dict(body))


def build_rotation_record(origin: str, old: NoteSigner, new: NoteSigner, rotated_at: str) -> bytes:
    """A log entry announcing ``new`` as the log key, signed by the old key and by the new one."""
    body = {
        "kind": ROTATION_KIND,
        "origin": origin,
        "previous_key": old.verifier_key.encode(),
        "new_key": new.verifier_key.encode(),
        "rotated_at": rotated_at,
    }
    stmt = _statement(body)
    record = dict(body)
    record["signature_by_previous"] = b64(old.private_key.sign(stmt))
    record["signature_by_new"] = b64(new.private_key.sign(stmt))
    return rfc8785.dumps(record)


def parse_rotation(raw: bytes, origin: str) -> Rotation:
    """Check a rotation record's form and both signatures; :class:`NoteError` if anything is off."""
    try:
        rec = json.loads(raw)
        body = {k: rec[k] for k in ("kind", "origin", "previous_key", "new_key", "rotated_at")}
        sig_prev = b64decode_strict(rec["signature_by_previous"], "rotation signature")
        sig_new = b64decode_strict(rec["signature_by_new"], "rotation signature")
    except (ValueError, KeyError, TypeError) as exc:
        raise NoteError(f"malformed key-rotation record: {exc}") from None
    if body["kind"] != ROTATION_KIND or body["origin"] != origin:
        raise NoteError("key-rotation record is for another log or of another kind")
    prev, new = VerifierKey.parse(body["previous_key"]), VerifierKey.parse(body["new_key"])
    stmt = _statement(body)
    if not prev.verify(stmt, sig_prev):
        raise NoteError(f"key-rotation record is not signed by the previous key {prev.key_id_hex}")
    if not new.verify(stmt, sig_new):
        raise NoteError(f"key-rotation record is not signed by the new key {new.key_id_hex}")
    return Rotation(previous=prev, new=new)
