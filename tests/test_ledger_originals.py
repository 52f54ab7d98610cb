"""Is this file the one that was received, and are the originals still held unchanged?

A receipt proves a record is in the log; an evidence intake is later asked about
the file itself. ``verify-receipt --media`` answers for one file, offline;
``ledger verify --originals`` hashes every original the records name.
"""

from __future__ import annotations

import json
import shutil

from tests.conftest import assert_no_traceback, run_cli
from verifier.errors import EXIT_INPUT_ERROR, EXIT_OK, EXIT_SECURITY_ERROR


def _verified(run, *files):
    r = run("verify", "--json", *map(str, files))
    assert_no_traceback(r)
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_the_received_file_is_recognised_offline_and_any_other_file_is_not(media_fixtures, tmp_path):
    data = tmp_path / "data"
    fx = media_fixtures[1]
    doc = _verified(lambda *a: run_cli(*a, data_dir=data), fx["mp4"]["signed"])[0]
    key = run_cli("keys", "export", data_dir=data).stdout.strip()
    court = tmp_path / "court"  # the receipt, the key and the files in question; no database
    court.mkdir()
    (court / "receipt.txt").write_text(doc["ledger"]["receipt"])
    same = shutil.copy(fx["mp4"]["signed"], court / "exhibit-a.mp4")
    shutil.rmtree(data)

    ok = run_cli("ledger", "verify-receipt", str(court / "receipt.txt"), "--key", key, "--media", str(same), cwd=court)
    assert ok.code == EXIT_OK, ok.stderr
    assert "byte for byte the file received as 'signed.mp4'" in ok.stdout
    assert doc["input"]["hashes"]["sha256"] in ok.stdout

    # the same picture re-encoded, or a single byte appended: not the received file
    other = court / "exhibit-b.mp4"
    other.write_bytes(same.read_bytes() + b"\0")
    bad = run_cli("ledger", "verify-receipt", str(court / "receipt.txt"), "--key", key, "--media", str(other), cwd=court)
    assert_no_traceback(bad)
    assert bad.code == EXIT_SECURITY_ERROR
    assert "the receipt verifies (entry 0" in bad.stderr and "is not the file this record was made for" in bad.stderr
    assert f"size {same.stat().st_size + 1}, recorded {same.stat().st_size}" in bad.stderr
    assert "OK" not in bad.stdout  # nothing reads as a pass above the failure

    missing = run_cli("ledger", "verify-receipt", str(court / "receipt.txt"), "--key", key,
                      "--media", str(court / "nowhere.mp4"), cwd=court)
    assert_no_traceback(missing)
    assert missing.code == EXIT_INPUT_ERROR and "nowhere.mp4" in missing.stderr


def test_a_key_rotation_entry_has_no_received_file(media_fixtures, tmp_path):
    data = tmp_path / "data"
    _verified(lambda *a: run_cli(*a, data_dir=data), media_fixtures[1]["png"]["plain"])
    assert run_cli("keys", "rotate", data_dir=data).code == EXIT_OK
    receipt = tmp_path / "rotation.txt"
    assert run_cli("ledger", "receipt", "1", "--out", str(receipt), data_dir=data).code == EXIT_OK
    keys = [run_cli("keys", "export", data_dir=data).stdout.strip()]
    r = run_cli("ledger", "verify-receipt", str(receipt), *sum((["--key", k] for k in keys), []),
                "--media", str(media_fixtures[1]["png"]["plain"]))
    assert_no_traceback(r)
    assert r.code == EXIT_INPUT_ERROR and "key-rotation record" in r.stderr


def test_the_originals_audit_finds_a_replaced_and_a_deleted_original(media_fixtures, tmp_path):
    data = tmp_path / "data"
    fx = media_fixtures[1]
    docs = _verified(lambda *a: run_cli(*a, data_dir=data), fx["png"]["plain"], fx["wav"]["signed"], fx["png"]["plain"])
    clean = run_cli("ledger", "verify", "--originals", data_dir=data)
    assert clean.code == EXIT_OK, clean.stderr
    assert "2 distinct files of 3 verdict records" in clean.stdout and "every one present and unchanged" in clean.stdout

    store = data / "evidence" / "sha256"
    png, wav = (docs[0]["input"]["hashes"], docs[1]["input"]["hashes"])
    replaced = store / png["sha256"][:2] / png["sha256"][2:4] / png["sha256"]
    replaced.chmod(0o644)
    raw = bytearray(replaced.read_bytes())
    raw[-1] ^= 1  # same size, one bit: only the hashes tell
    replaced.write_bytes(bytes(raw))
    (store / wav["sha256"][:2] / wav["sha256"][2:4] / wav["sha256"]).unlink()

    audit = run_cli("ledger", "verify", "--originals", data_dir=data)
    assert_no_traceback(audit)
    assert audit.code == EXIT_SECURITY_ERROR
    assert "OK, 3 entries" in audit.stdout  # the log itself is intact: the failure is in the store
    assert "FAILED, 1 missing, 1 altered" in audit.stderr
    assert f"original_altered: entries 0, 2: {replaced} has changed since it was logged" in audit.stderr
    assert "original_missing: entry 1: the original " + wav["sha256"] in audit.stderr

    # without --originals the log audit alone passes, as before
    assert run_cli("ledger", "verify", data_dir=data).code == EXIT_OK


def test_a_record_whose_hash_is_not_hex_names_no_file(tmp_path):
    """The SHA-256 picks a file in the store, so a record cannot point the audit at a path."""
    import pytest

    from verifier.ledger.errors import LedgerInputError
    from verifier.ledger.originals import audit_originals, recorded_input
    from verifier.ledger.record import canonicalize

    outside = tmp_path / "secret"
    outside.write_bytes(b"x")
    hashes = {"sha256": "../../../secret", "sha512": "0" * 128, "size": 1}
    record = canonicalize({"verification": {"input": {"hashes": hashes}}})
    with pytest.raises(LedgerInputError, match="not lower-case hex"):
        recorded_input(record)
    res = audit_originals([(0, record)], tmp_path / "store" / "evidence")
    assert res.records == 0 and res.ok


def test_checking_a_fifo_or_a_device_against_a_receipt_ends_at_once(media_fixtures, tmp_path):
    """Red-team finding: `verify-receipt --media /dev/zero` (or a FIFO) never returned."""
    import os

    data = tmp_path / "data"
    out = _verified(lambda *a: run_cli(*a, data_dir=data), media_fixtures[1]["png"]["plain"])[0]
    (tmp_path / "r.tlog-proof").write_text(out["ledger"]["receipt"])
    key = run_cli("keys", "export", data_dir=data).stdout.strip()
    os.mkfifo(tmp_path / "fifo.png")
    for media in ("/dev/zero", str(tmp_path / "fifo.png")):
        res = run_cli("ledger", "verify-receipt", str(tmp_path / "r.tlog-proof"), "--key", key, "--media", media,
                      timeout=30)
        assert res.code == 2 and "not a regular file" in res.stderr, (media, res.stderr)
