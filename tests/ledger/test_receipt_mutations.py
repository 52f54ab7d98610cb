"""Property test: a receipt changed anywhere either fails with a typed ledger
error or still proves exactly the same record at the same index.

A court will be handed receipts that passed through e-mail, PDFs and hostile
hands. The offline check must never crash on one (a traceback is no answer)
and must never accept one that now proves something else: no byte of the
record, index, proof or signed checkpoint may change without the check
failing. Only bytes the format ignores may change harmlessly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.ledger import Ledger, verify_receipt
from verifier.ledger.errors import LedgerError

from .conftest import record


@pytest.fixture(scope="module")
def receipt_and_key(tmp_path_factory):
    from verifier.config import Settings

    data = tmp_path_factory.mktemp("ledger")
    led = Ledger.open(Settings(data_dir=data, ledger_url=None), origin="test.example/ledger")
    try:
        for i in range(13):
            led.append(record(i))
        return led.receipt(6).encode(), led.verifier_key
    finally:
        led.close()


def _check(blob: bytes, key):
    try:
        return verify_receipt(blob, [key])
    except LedgerError:
        return None


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_a_mutated_receipt_fails_or_proves_the_same_record(receipt_and_key, data):
    blob, key = receipt_and_key
    good = verify_receipt(blob, [key])
    b = bytearray(blob)
    kind = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
    at = data.draw(st.integers(0, len(b) - 1))
    if kind == "flip":
        b[at] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "delete":
        del b[at:at + data.draw(st.integers(1, 16))]
    elif kind == "insert":
        b[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    else:
        del b[at:]
    got = _check(bytes(b), key)
    if got is not None:
        assert (got.index, got.record, got.leaf_hash) == (good.index, good.record, good.leaf_hash)
        assert got.checkpoint.checkpoint == good.checkpoint.checkpoint


def test_every_single_bit_flip_of_the_signed_parts_is_rejected(receipt_and_key):
    """Exhaustive over every bit of the receipt: whatever still verifies must
    prove the same record, and the count of harmless flips is small (they can
    only sit in bytes the format does not sign or hash)."""
    blob, key = receipt_and_key
    good = verify_receipt(blob, [key])
    accepted = 0
    for i in range(len(blob)):
        for bit in range(8):
            b = bytearray(blob)
            b[i] ^= 1 << bit
            got = _check(bytes(b), key)
            if got is not None:
                accepted += 1
                assert (got.index, got.record) == (good.index, good.record)
    assert accepted == 0, f"{accepted} single-bit flips still verify"


def test_a_mutated_verifier_key_never_verifies_a_receipt(receipt_and_key):
    """The key string a court is handed (`verifier keys export`) is hostile
    input too: a changed character is a malformed key or a different key,
    and a different key verifies nothing."""
    from verifier.ledger.note import VerifierKey

    blob, key = receipt_and_key
    text = key.encode()
    for i in range(len(text)):
        for c in {"A", "B", "/", "+", "=", "x", " "} - {text[i]}:
            try:
                other = VerifierKey.parse(text[:i] + c + text[i + 1:])
            except LedgerError:
                continue
            assert _check(blob, other) is None, f"key altered at {i} ({c!r}) still verifies"
