"""Ledger behaviour: append, receipts, raw bytes, keys, rotation, batching, CLI."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.config import Settings
from verifier.ledger import (
    Ledger,
    LedgerInputError,
    LedgerKeyError,
    NoteError,
    SignedCheckpoint,
    canonicalize,
    merkle,
    verify_receipt,
)

from .conftest import record

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "tests" / "ledger" / "cli_entry.py"), *args],
                          capture_output=True, text=True, cwd=cwd, env=e, timeout=120)


def test_append_returns_verifiable_receipt(ledger: Ledger) -> None:
    entries = [ledger.append(record(i)) for i in range(7)]
    assert [e.index for e in entries] == list(range(7))
    for i, e in enumerate(entries):
        raw = canonicalize(record(i))
        assert ledger.raw(i) == raw
        assert e.leaf_hash == merkle.leaf_hash(raw).hex()
        chk = verify_receipt(e.receipt, [ledger.verifier_key], record=raw, origin=ledger.origin)
        assert chk.checkpoint.checkpoint.size == i + 1
        assert e.checkpoint == chk.checkpoint.text
    later = ledger.receipt(2)
    assert verify_receipt(later, [ledger.verifier_key]).checkpoint.checkpoint.size == 7
    res = ledger.verify()
    assert res.ok, res.problems
    assert (res.size, res.checkpoints_checked, res.consistency_checked) == (7, 7, 6)


def test_canonical_json_is_rfc8785(ledger: Ledger) -> None:
    e = ledger.append({"b": 1, "a": [1.0, 1e21, "\u00e9"], "schema": "s/1"})
    assert ledger.raw(e.index) == b'{"a":[1,1e+21,"\xc3\xa9"],"b":1,"schema":"s/1"}'


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": object()}, {1: 2}, [1, 2], "text"])
def test_bad_records_raise_ledger_input_error(ledger: Ledger, bad: object) -> None:
    with pytest.raises(LedgerInputError):
        ledger.append(bad)  # type: ignore[arg-type]
    assert ledger.size == 0


def test_reserved_kind_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerInputError, match="reserved"):
        ledger.append({"kind": "av-verifier/ledger-key-rotation@1"})


def test_origin_and_key_file_mode(settings: Settings, ledger: Ledger) -> None:
    assert ledger.origin == "test.example/ledger"
    mode = stat.S_IMODE(settings.ledger_key_path.stat().st_mode)
    assert mode == 0o600
    assert ledger.verifier_key.encode().startswith("test.example/ledger+")
    again = Ledger.open(settings, origin="ignored.example/other")
    assert again.origin == "test.example/ledger"
    again.close()


def test_default_origin(tmp_path: Path) -> None:
    led = Ledger.open(Settings(data_dir=tmp_path))
    assert led.origin.startswith("av-verifier/") and led.origin.endswith("/ledger")
    led.close()


def test_passphrase_protected_key(settings: Settings) -> None:
    led = Ledger.open(settings, passphrase=b"correct horse")
    led.append(record(0))
    led.close()
    assert b"ENCRYPTED" in settings.ledger_key_path.read_bytes()
    with pytest.raises(LedgerKeyError, match="encrypted"):
        Ledger.open(settings)
    with pytest.raises(LedgerKeyError, match="passphrase"):
        Ledger.open(settings, passphrase=b"wrong")
    os.environ["VERIFIER_LEDGER_KEY_PASSPHRASE"] = "correct horse"
    try:
        Ledger.open(settings).close()
    finally:
        del os.environ["VERIFIER_LEDGER_KEY_PASSPHRASE"]


def test_wrong_key_file_refused(settings: Settings, ledger: Ledger, tmp_path: Path) -> None:
    ledger.append(record(0))
    other = Settings(data_dir=tmp_path / "other")
    Ledger.open(other).close()  # creates a different key in another data dir
    with pytest.raises(LedgerKeyError, match="current signing key"):
        Ledger.open(Settings(data_dir=other.data_dir, ledger_url=settings.ledger_db_url))


def test_checkpoint_batching_and_on_demand(settings: Settings) -> None:
    led = Ledger.open(settings, checkpoint_every=5)
    out = [led.append(record(i)) for i in range(7)]
    assert [bool(e.receipt) for e in out] == [False] * 4 + [True] + [False] * 2
    with pytest.raises(LedgerInputError, match="not covered"):
        led.receipt(6)
    cp = SignedCheckpoint.parse(led.checkpoint())
    assert cp.checkpoint.size == 7
    assert led.checkpoint() == cp.text  # idempotent at the same size
    verify_receipt(led.receipt(6), [led.verifier_key])
    many = led.append_many([record(i) for i in range(10)])
    assert all(e.receipt for e in many)
    assert led.verify().ok
    led.close()


def test_key_rotation_recorded_in_log(settings: Settings, ledger: Ledger) -> None:
    for i in range(3):
        ledger.append(record(i))
    old_key = ledger.verifier_key
    old, new, idx = ledger.rotate_key()
    assert old == old_key and idx == 3 and ledger.verifier_key == new
    e = ledger.append(record(4))
    verify_receipt(e.receipt, [new])
    with pytest.raises(NoteError):
        verify_receipt(e.receipt, [old])
    # the checkpoint that includes the rotation is signed by both keys
    cp4 = [c for c in ledger.checkpoints() if c.size == 4][0]
    SignedCheckpoint.parse(cp4.note).verify([old])
    SignedCheckpoint.parse(cp4.note).verify([new])
    assert json.loads(ledger.raw(3))["kind"] == "av-verifier/ledger-key-rotation@1"
    res = ledger.verify(trusted_keys=[old])
    assert res.ok, res.problems
    # a fresh process picks up the new key file; the retired key is archived
    Ledger.open(settings).close()
    assert list(settings.ledger_key_path.parent.glob("*.retired"))
    assert [k.key_id for k in ledger.verifier_keys()] == [old.key_id, new.key_id]


def test_proofs_do_not_load_the_log(ledger: Ledger) -> None:
    ledger.append_many([record(i) for i in range(1000)])
    calls: list[int] = []
    fetch = ledger.store.fetch_nodes

    def counting(conn, keys):  # type: ignore[no-untyped-def]
        calls.append(len(keys))
        return fetch(conn, keys)

    ledger.store.fetch_nodes = counting  # type: ignore[method-assign]
    proof = ledger.inclusion_proof(123, 1000)
    assert len(calls) == 1 and calls[0] <= 2 * 10
    merkle.verify_inclusion(123, 1000, merkle.leaf_hash(ledger.raw(123)), proof, ledger.root(1000))
    calls.clear()
    ledger.consistency_proof(377, 1000)
    assert len(calls) == 1 and calls[0] <= 2 * 10


# --- CLI -------------------------------------------------------------------


def test_cli_end_to_end_and_offline_receipt(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = run_cli("keys", "init", "--data-dir", str(data))
    assert r.returncode == 0, r.stderr
    vkey = r.stdout.strip()
    led = Ledger.open(Settings(data_dir=data))
    for i in range(5):
        led.append(record(i))
    led.close()
    assert run_cli("keys", "export", "--data-dir", str(data)).stdout.strip() == vkey
    rc = run_cli("ledger", "receipt", "3", "--data-dir", str(data))
    assert rc.returncode == 0, rc.stderr
    raw = run_cli("ledger", "show", "3", "--raw", "--data-dir", str(data))
    assert raw.stdout.encode() == canonicalize(record(3))
    # copy only receipt, record and public key into an empty dir; no database there
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "verdict.tlog-proof").write_text(rc.stdout)
    (empty / "record.json").write_text(json.dumps(record(3), indent=2))
    (empty / "ledger.vkey").write_text(vkey + "\n")
    env = {"VERIFIER_DATA_DIR": str(empty / "nowhere")}
    ok = run_cli("ledger", "verify-receipt", "verdict.tlog-proof", "--record", "record.json",
                 "--key", "ledger.vkey", cwd=empty, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "OK: entry 3" in ok.stdout
    assert sorted(p.name for p in empty.iterdir()) == ["ledger.vkey", "record.json", "verdict.tlog-proof"]
    (empty / "record.json").write_text(json.dumps(record(3, verdict="authentic")))
    bad = run_cli("ledger", "verify-receipt", "verdict.tlog-proof", "--record", "record.json",
                  "--key", vkey, cwd=empty, env=env)
    assert bad.returncode == 3 and "not the record this receipt is for" in bad.stderr
    assert "Traceback" not in bad.stderr
    v = run_cli("ledger", "verify", "--data-dir", str(data), "--key", vkey)
    assert v.returncode == 0, v.stderr
    lst = run_cli("ledger", "list", "--data-dir", str(data))
    assert lst.returncode == 0 and len(lst.stdout.strip().splitlines()) == 6
    exp = run_cli("ledger", "export", "--data-dir", str(data))
    kinds = [json.loads(line)["type"] for line in exp.stdout.splitlines()]
    assert kinds.count("entry") == 5 and kinds.count("checkpoint") == 5
    missing = run_cli("ledger", "show", "99", "--data-dir", str(data))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    nofile = run_cli("ledger", "verify-receipt", "nope", "--key", vkey, cwd=empty)
    assert nofile.returncode == 2 and "Traceback" not in nofile.stderr
    rot = run_cli("keys", "rotate", "--data-dir", str(data))
    assert rot.returncode == 0, rot.stderr
    assert run_cli("ledger", "verify", "--data-dir", str(data), "--key", vkey).returncode == 0


def test_reading_and_auditing_need_no_private_key_and_create_nothing(settings: Settings, tmp_path: Path) -> None:
    """Red-team finding: every read command opened (and on a wrong --data-dir created) the
    private key, so an auditor had to be handed the signing key, and a lost or mis-permissioned
    key made the log unreadable; `ledger verify` on a mistyped directory made a new empty ledger
    and said OK."""
    led = Ledger.open(settings)
    for i in range(3):
        led.append(record(i))
    vkey = led.verifier_key.encode()
    led.close()
    data = str(settings.data_dir)
    settings.ledger_key_path.rename(tmp_path / "key-held-elsewhere")
    for args in (["ledger", "verify", "--key", vkey], ["ledger", "show", "1"], ["ledger", "list"],
                 ["ledger", "export"], ["ledger", "receipt", "2"], ["ledger", "consistency", "1"]):
        out = run_cli(*args, "--data-dir", data)
        assert out.returncode == 0, (args, out.stderr)
    assert not settings.ledger_key_path.exists()  # and no new key was made in its place
    sign = run_cli("ledger", "checkpoint", "--data-dir", data)
    assert sign.returncode == 2 and "not found" in sign.stderr

    # an audit of a copy kept as evidence leaves it byte for byte as it was (red-team: the audit
    # switched a rollback-journal database to WAL, changing its SHA-256)
    import hashlib
    import sqlite3

    db = Path(settings.ledger_db_url.removeprefix("sqlite:///"))
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = DELETE")
    con.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for args in (["ledger", "verify", "--key", vkey], ["ledger", "export"]):
        assert run_cli(*args, "--data-dir", data).returncode == 0
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before

    nowhere = tmp_path / "typo"
    for args in (["ledger", "verify"], ["keys", "export"], ["keys", "show"]):
        out = run_cli(*args, "--data-dir", str(nowhere))
        assert out.returncode == 2 and "no ledger" in out.stderr and not nowhere.exists(), args
    assert run_cli("keys", "export", "--data-dir", data).stdout.strip() == vkey  # no private key needed
    ro = Ledger.open(settings, readonly=True)
    with pytest.raises(LedgerInputError, match="read-only"):
        ro.append(record(9))
    assert ro.verifier_key.encode() == vkey
    ro.close()


def test_a_receipt_with_its_line_ends_changed_is_not_the_signed_receipt(ledger: Ledger, tmp_path: Path) -> None:
    """Red-team finding: the CLI read receipts with newline translation, so a CRLF copy verified."""
    entry = ledger.append(record(0))
    (tmp_path / "r.tlog-proof").write_bytes(entry.receipt.replace("\n", "\r\n").encode())
    (tmp_path / "ok.tlog-proof").write_bytes(entry.receipt.encode())
    key = ledger.verifier_key.encode()
    bad = run_cli("ledger", "verify-receipt", str(tmp_path / "r.tlog-proof"), "--key", key)
    assert bad.returncode in (2, 3) and "OK" not in bad.stdout and "Traceback" not in bad.stderr
    assert run_cli("ledger", "verify-receipt", str(tmp_path / "ok.tlog-proof"), "--key", key).returncode == 0


@pytest.mark.parametrize("odd", ["case?1", "case#2", "odd%41"])
def test_the_ledger_stays_inside_a_data_dir_whose_name_has_url_characters(tmp_path, odd):
    from sqlalchemy.engine import make_url

    settings = Settings(data_dir=tmp_path / odd)
    assert Path(make_url(settings.ledger_db_url).database) == tmp_path / odd / "ledger.sqlite"
    led = Ledger.open(settings)
    led.close()
    assert (tmp_path / odd / "ledger.sqlite").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [odd]  # nothing beside it ("case", "oddA")
