"""A holder of an old checkpoint or receipt checks, without the database, that the
log today still extends it: growth verifies from every earlier size; a rewritten,
forked or rolled-back log, a doctored proof or a foreign key does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.config import Settings
from verifier.ledger import Ledger, LedgerInputError, NoteError, ProofError
from verifier.ledger.consistency import ExtensionProof, prove_extension, saved_checkpoint, verify_extension
from verifier.ledger.note import SignedCheckpoint

from .conftest import record, twin_ledger
from .test_ledger import run_cli

ORIGIN = "test.example/ledger"


def test_the_latest_checkpoint_extends_every_earlier_one(ledger: Ledger) -> None:
    saved = []
    for i in range(13):
        saved.append(SignedCheckpoint.parse(ledger.append(record(i)).checkpoint))
    key = [ledger.verifier_key]
    for cp in saved:
        proof = prove_extension(ledger, cp.checkpoint.size)
        assert len(proof.proof) <= 2 * 4
        check = verify_extension(cp, proof.encode(), key, origin=ORIGIN)
        assert (check.old.size, check.new.checkpoint.size) == (cp.checkpoint.size, 13)
    empty = prove_extension(ledger, 0)
    assert empty.encode().startswith("old 0\n\n") and empty.proof == ()


def test_a_rewritten_log_is_caught_from_the_first_changed_entry_on(settings: Settings, ledger: Ledger,
                                                                   tmp_path: Path) -> None:
    held = {}
    for i in range(10):
        held[i + 1] = SignedCheckpoint.parse(ledger.append(record(i)).checkpoint)
    twin = twin_ledger(settings, tmp_path, "rewritten")
    for i in range(12):  # entry 6 onwards differ; the log then grows past the original
        twin.append(record(i, changed=True) if i >= 6 else record(i))
    key = [ledger.verifier_key]
    for size in range(1, 7):  # the common prefix: a holder of these saw nothing that changed
        verify_extension(held[size], prove_extension(twin, size), key)
    for size in range(7, 11):
        with pytest.raises(ProofError, match="forked or rewritten"):
            verify_extension(held[size], prove_extension(twin, size), key)
    twin.close()


def test_a_log_signed_twice_at_one_size_or_rolled_back_is_caught(settings: Settings, ledger: Ledger,
                                                                  tmp_path: Path) -> None:
    for i in range(5):
        ledger.append(record(i))
    held = SignedCheckpoint.parse(ledger.checkpoint())
    twin = twin_ledger(settings, tmp_path, "forked")
    for i in range(5):
        twin.append(record(i, fork=True))
    with pytest.raises(ProofError, match="two different trees were signed at size 5"):
        verify_extension(held, prove_extension(twin, 5), [ledger.verifier_key])

    small = twin_ledger(settings, tmp_path, "rolled-back")
    for i in range(3):
        small.append(record(i))
    with pytest.raises(LedgerInputError, match="truncated or rolled back"):
        prove_extension(small, 5)  # the log refuses to pretend ...
    shrunk = ExtensionProof(old_size=5, proof=(), checkpoint=SignedCheckpoint.parse(small.checkpoint()))
    with pytest.raises(ProofError, match="truncated or rolled back"):  # ... and a proof that does is caught
        verify_extension(held, shrunk, [ledger.verifier_key])
    twin.close()
    small.close()


def test_every_altered_proof_byte_and_foreign_signatures_fail(settings: Settings, ledger: Ledger,
                                                               tmp_path: Path) -> None:
    for i in range(6):
        ledger.append(record(i))
    held = SignedCheckpoint.parse(ledger.checkpoint())
    for i in range(6, 11):
        ledger.append(record(i))
    good = prove_extension(ledger, 6)
    key = [ledger.verifier_key]
    assert len(good.proof) >= 2
    for h in range(len(good.proof)):
        for bit in (0, 7 * 8 + 3, 31 * 8 + 7):
            hashes = list(good.proof)
            flipped = bytearray(hashes[h])
            flipped[bit // 8] ^= 1 << (bit % 8)
            hashes[h] = bytes(flipped)
            with pytest.raises(ProofError):
                verify_extension(held, ExtensionProof(6, tuple(hashes), good.checkpoint), key)
    with pytest.raises(ProofError):
        verify_extension(held, ExtensionProof(6, good.proof[:-1], good.checkpoint), key)
    with pytest.raises(LedgerInputError, match="ask for the proof from 6"):
        verify_extension(held, prove_extension(ledger, 5), key)

    other = Ledger.open(Settings(data_dir=tmp_path / "other", ledger_url=None), origin=ORIGIN)
    with pytest.raises(NoteError, match="saved checkpoint does not verify"):  # same origin, another key
        verify_extension(held, good, [other.verifier_key])
    for i in range(11):
        other.append(record(i))
    with pytest.raises(NoteError, match="newer checkpoint does not verify"):
        verify_extension(held, prove_extension(other, 6), key)
    other.close()


@pytest.mark.parametrize("text,words", [
    ("old 3\nAAAA\n", "no blank line"),
    ("old 03\n\nx\n", "first line must be 'old N'"),
    ("new 3\n\nx\n", "first line must be 'old N'"),
    ("old 3\n" + "A" * 44 + "\n" * 1 + ("A" * 43 + "=\n") * 63 + "\nx\n", "at most 63"),
    ("old 3\nnot base64!\n\nx\n", "base64"),
    ("old 3\nAAAA\n\nx\n", "32 bytes"),
    ("old 3\n\nnot a checkpoint\n", "checkpoint is malformed"),
    (b"old 3\n\n\xff\xfe", "not UTF-8"),
])
def test_malformed_proofs_are_input_errors(text: str | bytes, words: str) -> None:
    with pytest.raises(LedgerInputError, match=words):
        ExtensionProof.parse(text)


def test_keys_from_before_and_after_a_rotation_are_both_needed(ledger: Ledger) -> None:
    for i in range(4):
        ledger.append(record(i))
    held = SignedCheckpoint.parse(ledger.checkpoint())
    old_key, new_key, _ = ledger.rotate_key()
    ledger.append(record(9))
    proof = prove_extension(ledger, 4)
    with pytest.raises(NoteError):
        verify_extension(held, proof, [old_key])
    check = verify_extension(held, proof, [old_key, new_key])
    assert check.signed_by == (new_key,)


def test_cli_checks_a_receipt_against_a_later_proof_offline(settings: Settings, ledger: Ledger,
                                                            tmp_path: Path) -> None:
    receipt = ledger.append(record(0)).receipt
    for i in range(1, 5):
        ledger.append(record(i))
    key = ledger.verifier_key.encode()
    ledger.close()
    holder = tmp_path / "holder"  # the receipt, the pinned key, the proof; no database
    holder.mkdir()
    (holder / "receipt.tlog-proof").write_text(receipt)
    data = ["--data-dir", str(settings.data_dir)]
    made = run_cli("ledger", "consistency", "1", "--out", str(holder / "proof.txt"), *data)
    assert made.returncode == 0, made.stderr
    assert (holder / "proof.txt").read_text().startswith("old 1\n")

    ok = run_cli("ledger", "verify-consistency", "receipt.tlog-proof", "proof.txt", "--key", key, cwd=holder)
    assert ok.returncode == 0, ok.stderr
    assert f"log {ORIGIN} at size 5" in ok.stdout and "extends the checkpoint saved at size 1" in ok.stdout

    twin = twin_ledger(settings, tmp_path, "rewritten")
    for i in range(6):
        twin.append(record(i, rewritten=True))
    (holder / "forked.txt").write_text(prove_extension(twin, 1).encode())
    twin.close()
    bad = run_cli("ledger", "verify-consistency", "receipt.tlog-proof", "forked.txt", "--key", key, cwd=holder)
    assert bad.returncode == 3
    assert "SECURITY ERROR" in bad.stderr and "misbehavior detected" in bad.stderr and "Traceback" not in bad.stderr
    assert "OK" not in bad.stdout

    (holder / "junk.txt").write_text("hello\n")
    junk = run_cli("ledger", "verify-consistency", "junk.txt", "proof.txt", "--key", key, cwd=holder)
    assert junk.returncode == 2 and "not a checkpoint or a receipt" in junk.stderr
    assert saved_checkpoint(receipt).checkpoint.size == 1
