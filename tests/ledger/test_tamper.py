"""Tamper matrix: an attacker with database access (triggers dropped first) edits,
deletes, swaps, truncates, forges; each must fail the audit with a specific message."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from verifier.config import Settings
from verifier.ledger import Ledger, ProofError, verify_receipt
from verifier.ledger.receipt import Receipt
from verifier.ledger.store import TABLE_NAMES

from .conftest import record
from .test_ledger import run_cli

N = 12


@pytest.fixture
def filled(settings: Settings, ledger: Ledger) -> Ledger:
    for i in range(N):
        ledger.append(record(i))
    assert ledger.verify().ok
    return ledger


def _db(settings: Settings) -> sqlite3.Connection:
    path = settings.ledger_db_url.removeprefix("sqlite:///")
    con = sqlite3.connect(path, isolation_level=None)
    for t in TABLE_NAMES:  # what an attacker with file access does first
        con.execute(f"DROP TRIGGER IF EXISTS {t}_no_update")
        con.execute(f"DROP TRIGGER IF EXISTS {t}_no_delete")
    return con


def _fail(led: Ledger, code: str, text: str, **kw: object) -> None:
    res = led.verify(**kw)
    assert not res.ok
    assert res.security_failure
    codes = [p.code for p in res.problems]
    assert code in codes, res.problems
    assert any(text in p.message for p in res.problems), res.problems


def test_triggers_block_update_and_delete(settings: Settings, filled: Ledger) -> None:
    path = settings.ledger_db_url.removeprefix("sqlite:///")
    con = sqlite3.connect(path, isolation_level=None)
    for sql in ("UPDATE ledger_entry SET record = x'00' WHERE idx = 1", "DELETE FROM ledger_entry WHERE idx = 1",
                "DELETE FROM ledger_checkpoint", "UPDATE ledger_node SET hash = x'00'", "DELETE FROM ledger_key"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(sql)
    con.close()
    assert filled.verify().ok


def test_record_edited(settings: Settings, filled: Ledger) -> None:
    con = _db(settings)
    con.execute("UPDATE ledger_entry SET record = ? WHERE idx = 5", (b'{"verdict":"authentic"}',))
    _fail(filled, "leaf-mismatch", "entry 5: stored record does not hash to its stored leaf hash")


def test_record_and_leaf_edited_consistently(settings: Settings, filled: Ledger) -> None:
    from verifier.ledger.merkle import leaf_hash

    rec = b'{"verdict":"authentic"}'
    con = _db(settings)
    con.execute("UPDATE ledger_entry SET record = ?, leaf_hash = ? WHERE idx = 5", (rec, leaf_hash(rec)))
    _fail(filled, "root-mismatch", "recomputed root at size 6 differs from the signed checkpoint")


def test_row_deleted(settings: Settings, filled: Ledger) -> None:
    _db(settings).execute("DELETE FROM ledger_entry WHERE idx = 4")
    _fail(filled, "entry-missing", "entry 4 is missing (next stored entry is 5)")


def test_rows_swapped(settings: Settings, filled: Ledger) -> None:
    con = _db(settings)
    con.execute("UPDATE ledger_entry SET idx = -1 WHERE idx = 2")
    con.execute("UPDATE ledger_entry SET idx = 2 WHERE idx = 3")
    con.execute("UPDATE ledger_entry SET idx = 3 WHERE idx = -1")
    _fail(filled, "root-mismatch", "recomputed root at size 3 differs from the signed checkpoint")


def test_log_truncated(settings: Settings, filled: Ledger, tmp_path: Path) -> None:
    saved = filled.latest_checkpoint()
    assert saved is not None
    con = _db(settings)
    con.execute("DELETE FROM ledger_entry WHERE idx >= 9")
    _fail(filled, "truncated", "checkpoint at size 10 but the log has only 9 entries")
    # and an attacker who also deletes the checkpoints is caught by a checkpoint saved earlier
    con.execute("DELETE FROM ledger_checkpoint WHERE size > 9")
    _fail(filled, "fork", "has size 12 but the log has only 9 entries", from_checkpoint=saved.text)


def test_checkpoint_signature_altered(settings: Settings, filled: Ledger) -> None:
    con = _db(settings)
    note = con.execute("SELECT note FROM ledger_checkpoint WHERE size = 7").fetchone()[0]
    body, sig = note.rsplit(" ", 1)
    sig = ("B" if sig[0] != "B" else "C") + sig[1:]
    con.execute("UPDATE ledger_checkpoint SET note = ? WHERE size = 7", (body + " " + sig,))
    _fail(filled, "checkpoint-signature", "checkpoint at size 7: signature does not verify")


def test_checkpoint_from_forked_log(settings: Settings, filled: Ledger, tmp_path: Path) -> None:
    """A copy of the log (same key) diverges at size 12; its checkpoint must not be accepted."""
    fork_dir = tmp_path / "fork"
    shutil.copytree(settings.data_dir, fork_dir)
    fork = Ledger.open(Settings(data_dir=fork_dir))
    fork.append({"schema": "x", "verdict": "authentic", "forged": True})
    forked_cp = fork.append(record(99)).checkpoint
    fork.close()
    filled.append(record(100))
    filled.append(record(101))
    filled.append(record(102))
    res = filled.verify(from_checkpoint=forked_cp)
    assert not res.ok and res.problems[0].code == "fork"
    assert "does not extend the given checkpoint (size 14)" in res.problems[0].message
    details = res.problems[0].details
    assert "given checkpoint:" in details and "current checkpoint:" in details and "proof of misbehavior:" in details
    # CLI prints the SECURITY ERROR banner and exits 3
    cp_file = tmp_path / "forked.checkpoint"
    cp_file.write_text(forked_cp)
    out = run_cli("ledger", "verify", "--data-dir", str(settings.data_dir), "--from-checkpoint", str(cp_file))
    assert out.returncode == 3
    assert "\nSECURITY ERROR\n" in out.stderr and "proof of misbehavior:\n\t" in out.stderr


def test_forked_checkpoint_inserted_into_table(settings: Settings, filled: Ledger, tmp_path: Path) -> None:
    fork_dir = tmp_path / "fork"
    shutil.copytree(settings.data_dir, fork_dir)
    fork = Ledger.open(Settings(data_dir=fork_dir))
    cp = fork.append({"schema": "x", "forged": True}).checkpoint
    fork.close()
    con = _db(settings)
    con.execute("INSERT INTO ledger_checkpoint(size, root_hash, note, created_at) VALUES (13, x'00', ?, 'x')", (cp,))
    _fail(filled, "truncated", "checkpoint at size 13 but the log has only 12 entries")


def test_stored_node_altered(settings: Settings, filled: Ledger) -> None:
    _db(settings).execute("UPDATE ledger_node SET hash = zeroblob(32) WHERE seq = 2")
    _fail(filled, "node-mismatch", "stored tree node (level 1, index 0) is wrong")


def test_receipt_with_altered_record(filled: Ledger) -> None:
    text = filled.receipt(3)
    r = Receipt.parse(text)
    forged = Receipt(index=r.index, proof=r.proof, checkpoint=r.checkpoint, record=b'{"verdict":"authentic"}')
    with pytest.raises(ProofError, match="inclusion proof"):
        verify_receipt(forged.encode(), [filled.verifier_key])
    with pytest.raises(ProofError, match="not the record this receipt is for"):
        verify_receipt(text, [filled.verifier_key], record=b'{"verdict":"authentic"}')
    other = Receipt(index=4, proof=r.proof, checkpoint=r.checkpoint, record=r.record)
    with pytest.raises(ProofError):
        verify_receipt(other.encode(), [filled.verifier_key])


def _forged_log(root: Path, origin: str, n: int = N) -> Ledger:
    """A whole log made by someone else, with their own key, under a name of their choosing."""
    forged = Ledger.open(Settings(data_dir=root, ledger_url=None), origin=origin)
    for i in range(n):
        forged.append(record(i, verdict="authentic (forged)"))
    return forged


def test_a_forged_log_under_another_origin_fails_with_the_real_key_pinned(settings: Settings, filled: Ledger,
                                                                          tmp_path: Path) -> None:
    """Red-team finding: the audit fell back to the database's own keys when no pinned key
    carried the log's origin, so a replaced database (holding the real public key in an extra
    key row, so the real key file still opened it) passed `ledger verify --key REAL`."""
    real = filled.verifier_key
    forged = _forged_log(tmp_path / "atk", "evil.example/ledger")
    forged.close()
    con = sqlite3.connect(tmp_path / "atk" / "ledger.sqlite")
    con.execute("INSERT INTO ledger_key VALUES (?, ?, ?, NULL, 'x')", ("ab" * 4, real.encode(), 10**15))
    con.commit()
    con.close()
    res = forged.verify(trusted_keys=[real])
    assert not res.ok and res.security_failure
    assert {"key-unknown", "key-table"} <= {p.code for p in res.problems}
    assert "not the log you pinned" in res.reason or any("not the log you pinned" in p.message for p in res.problems)

    # same origin, another key: the pinned key is not the log's genesis key
    other = _forged_log(tmp_path / "atk2", filled.origin, n=3)
    res = other.verify(trusted_keys=[real])
    assert not res.ok and "key-unknown" in [p.code for p in res.problems]
    other.close()


def test_a_key_added_to_the_table_is_flagged_and_never_published(settings: Settings, filled: Ledger,
                                                                 tmp_path: Path) -> None:
    """Red-team finding: an extra key row (no rotation entry announcing it) passed the audit and
    was served as a key of the log, so receipts signed with it verified against the published keys."""
    stranger = _forged_log(tmp_path / "atk", filled.origin, n=0)
    con = _db(settings)
    vk = stranger.verifier_key
    con.execute("INSERT INTO ledger_key VALUES (?, ?, 0, NULL, 'x')", (vk.key_id_hex, vk.encode()))
    _fail(filled, "key-table", "no rotation entry announces")
    from verifier.ledger import LedgerStorageError

    with pytest.raises(LedgerStorageError, match="no rotation entry"):
        filled.verifier_keys()
    stranger.close()


# -- the signer refuses to launder rows it did not write ---------------------------------


def _append_behind_the_signers_back(settings: Settings, raw: bytes) -> None:
    """What someone with the database but not the key can do: add a well-formed entry at the
    end, with the tree nodes it needs (inserts pass the append-only triggers)."""
    from verifier.ledger import merkle

    con = sqlite3.connect(settings.ledger_db_url.removeprefix("sqlite:///"), isolation_level=None)
    size = con.execute("SELECT COUNT(*) FROM ledger_entry").fetchone()[0]
    inner = {seq: bytes(h) for seq, h in con.execute("SELECT seq, hash FROM ledger_node")}
    leaves = {idx: bytes(h) for idx, h in con.execute("SELECT idx, leaf_hash FROM ledger_entry")}
    cr = merkle.CompactRange.from_fetch(
        size, lambda keys: {k: leaves[k[1]] if k[0] == 0 else inner[merkle.node_seq(*k)] for k in keys})
    leaf = merkle.leaf_hash(raw)
    con.execute("INSERT INTO ledger_entry (idx, leaf_hash, record, appended_at) VALUES (?, ?, ?, 'x')", (size, leaf, raw))
    for level, index, h in cr.append(leaf):
        if level == 0:
            continue  # leaves live in ledger_entry
        con.execute("INSERT INTO ledger_node (seq, hash) VALUES (?, ?)", (merkle.node_seq(level, index), h))
    con.close()


def test_an_entry_inserted_behind_the_signer_s_back_is_never_signed(settings: Settings, filled: Ledger) -> None:
    """Red-team finding: the next ordinary append signed a checkpoint over an inserted row, so a
    forged verdict came out with a valid receipt signed by the operator's own key."""
    from verifier.ledger import SecurityError

    _append_behind_the_signers_back(settings, b'{"schema":"x","verdict":"authentic (forged)"}')
    fresh = Ledger.open(settings)  # another process: no cached tree edge to fall back on
    for act in (lambda: fresh.append(record(50)), fresh.checkpoint):
        with pytest.raises(SecurityError, match="does not vouch for that tree"):
            act()
    assert fresh.size == N + 1 and fresh.latest_checkpoint().checkpoint.size == N  # nothing was signed
    res = fresh.verify()
    assert any("13" in w or "12..12" in w for w in res.warnings)
    out = run_cli("ledger", "checkpoint", "--data-dir", str(settings.data_dir))
    assert out.returncode == 3 and "SECURITY ERROR" in out.stderr and "Traceback" not in out.stderr
    fresh.close()


def test_a_rewritten_history_with_its_checkpoints_deleted_is_never_signed(settings: Settings, filled: Ledger) -> None:
    from verifier.ledger import SecurityError

    con = _db(settings)
    keep = [bytes(r) for (r,) in con.execute("SELECT record FROM ledger_entry ORDER BY idx")]
    for table in ("ledger_checkpoint", "ledger_entry", "ledger_node"):
        con.execute(f"DELETE FROM {table}")
    for i, raw in enumerate(keep):  # the same history with entry 3 rewritten, every node consistent
        _append_behind_the_signers_back(settings, b'{"rewritten":3}' if i == 3 else raw)
    fresh = Ledger.open(settings)
    with pytest.raises(SecurityError):
        fresh.append(record(60))
    res = fresh.verify()
    assert not res.ok and "unsigned" in [p.code for p in res.problems]
    fresh.close()


def test_a_rolled_back_database_is_refused_and_lazy_checkpointing_still_works(settings: Settings,
                                                                             tmp_path: Path) -> None:
    from verifier.ledger import SecurityError

    led = Ledger.open(settings, checkpoint_every=4)
    for i in range(6):  # checkpoints at 4; entries 4, 5 wait for the next one
        led.append(record(i))
    led.close()
    backup = tmp_path / "backup.sqlite"
    shutil.copy(settings.ledger_db_url.removeprefix("sqlite:///"), backup)
    again = Ledger.open(settings, checkpoint_every=4)  # a new process picks up the uncovered tail
    again.append(record(6))
    again.append(record(7))
    assert again.latest_checkpoint().checkpoint.size == 8 and again.verify().ok
    again.close()
    shutil.copy(backup, settings.ledger_db_url.removeprefix("sqlite:///"))  # restored from an old copy
    old = Ledger.open(settings, checkpoint_every=4)
    with pytest.raises(SecurityError, match="rolled back"):
        old.append(record(8))
    old.close()


def test_a_row_under_a_negative_index_is_flagged_and_never_shown(settings: Settings, filled: Ledger) -> None:
    from verifier.ledger import LedgerInputError

    _db(settings).execute("INSERT INTO ledger_entry (idx, leaf_hash, record, appended_at) VALUES (-1, x'00', '{}', 'x')")
    _fail(filled, "entry-stray", "negative indexes")
    with pytest.raises(LedgerInputError, match="numbered from 0"):
        filled.entry(-1)


def test_a_database_rolled_back_by_a_single_write_is_refused(settings: Settings, filled: Ledger, tmp_path: Path) -> None:
    """Second red-team round: the head note kept the tree before the last write as acceptable (for
    a commit that fails), so restoring the database from just before the last append let the
    operator's key sign a second, different checkpoint at that size."""
    from verifier.ledger import SecurityError

    db = Path(settings.ledger_db_url.removeprefix("sqlite:///"))
    filled.close()
    shutil.copy(db, tmp_path / "before.sqlite")
    led = Ledger.open(settings)
    led.append(record(100))  # the entry someone would rather not have on record
    led.close()
    shutil.copy(tmp_path / "before.sqlite", db)
    for name in ("ledger.sqlite-wal", "ledger.sqlite-shm"):
        (db.parent / name).unlink(missing_ok=True)
    again = Ledger.open(settings)
    with pytest.raises(SecurityError, match="rolled back"):
        again.append(record(101))
    again.close()


def _plant_checkpoint_copy(settings: Settings, led: Ledger, size: int) -> None:
    """A byte copy of the latest genuine checkpoint note, filed under another size."""
    note = led.latest_checkpoint()
    con = sqlite3.connect(settings.ledger_db_url.removeprefix("sqlite:///"), isolation_level=None)
    con.execute("INSERT INTO ledger_checkpoint (size, root_hash, note, created_at) VALUES (?, ?, ?, 'x')",
                (size, note.checkpoint.root_hash, note.text))
    con.close()


def _refused(settings: Settings, why: str) -> None:
    """A writer opened afresh (no cached tree) refuses to append, saying ``why``."""
    from verifier.ledger import SecurityError

    fresh = Ledger.open(settings)
    try:
        with pytest.raises(SecurityError, match=why):
            fresh.append(record(7))
    finally:
        fresh.close()


def test_a_checkpoint_note_copied_to_another_size_vouches_for_nothing(settings: Settings, filled: Ledger) -> None:

    for i in range(3):
        _append_behind_the_signers_back(settings, f'{{"planted":{i}}}'.encode())
    _plant_checkpoint_copy(settings, filled, N + 3)
    _refused(settings, "does not vouch")


def test_lazy_checkpointing_survives_a_lost_note_only_by_a_deliberate_adopt(settings: Settings) -> None:
    """Second red-team round: losing the note beside the key (a crash, a restored key directory)
    wedged a lazily checkpointed ledger for good. Now the writer refuses, the operator audits and
    adopts the rows, and appending resumes."""
    from verifier.ledger import SecurityError

    led = Ledger.open(settings, checkpoint_every=5)
    for i in range(3):
        led.append(record(i))
    led.close()
    (settings.ledger_key_path.with_name(settings.ledger_key_path.name + ".head")).unlink()
    again = Ledger.open(settings, checkpoint_every=5)
    with pytest.raises(SecurityError, match="checkpoint --adopt"):
        again.append(record(3))
    assert _size_of(again.checkpoint(adopt=True)) == 3
    again.append(record(3))
    assert again.verify().ok
    again.close()


def _size_of(checkpoint_text: str) -> int:
    from verifier.ledger.note import SignedCheckpoint

    return SignedCheckpoint.parse(checkpoint_text).checkpoint.size


def test_a_checkpoint_row_planted_beyond_the_log_is_named_not_a_storage_error(settings: Settings, filled: Ledger) -> None:

    _plant_checkpoint_copy(settings, filled, N + 1)
    _refused(settings, "checkpoint row for size 13")


def _snapshot(settings: Settings, to: Path) -> None:
    """A consistent copy of the live database (WAL included), as a backup tool takes one."""
    src = sqlite3.connect(settings.ledger_db_url.removeprefix("sqlite:///"))
    dst = sqlite3.connect(to)
    src.backup(dst)
    src.close()
    dst.close()


def _restore(settings: Settings, frm: Path) -> None:
    """Write an old copy back over the live database, through SQLite (as a restore would)."""
    src = sqlite3.connect(frm)
    dst = sqlite3.connect(settings.ledger_db_url.removeprefix("sqlite:///"))
    src.backup(dst)
    src.close()
    dst.close()


def test_a_long_lived_writer_refuses_a_database_rolled_back_to_its_own_last_size(settings: Settings,
                                                                               tmp_path: Path) -> None:
    """Third red-team round: a writer kept open (the service) trusted its cached tree edge when the
    database's size matched it, so a restore to that size after another writer's appends let the
    key sign a second tree at the next size, and lowered the note's floor."""
    from verifier.ledger import SecurityError

    service = Ledger.open(settings)
    for i in range(3):
        service.append(record(i))
    _snapshot(settings, tmp_path / "at3.sqlite")
    cli = Ledger.open(settings)
    cli.append(record(3))
    cli.append(record(4))
    cli.close()
    _restore(settings, tmp_path / "at3.sqlite")
    with pytest.raises(SecurityError, match="rolled back"):
        service.append(record(99))
    service.close()


def test_adopt_never_signs_rows_that_do_not_extend_the_noted_tree(settings: Settings, tmp_path: Path) -> None:
    from verifier.ledger import SecurityError

    led = Ledger.open(settings)
    for i in range(3):
        led.append(record(i))
    _snapshot(settings, tmp_path / "at3.sqlite")
    led.append(record(3))
    led.append(record(4))
    led.close()
    _restore(settings, tmp_path / "at3.sqlite")
    for i in range(3):  # rolled back to 3, then extended past the noted 5 with other rows
        _append_behind_the_signers_back(settings, f'{{"forged":{i}}}'.encode())
    again = Ledger.open(settings)
    with pytest.raises(SecurityError) as refused:
        again.append(record(9))
    assert "--adopt" not in str(refused.value)
    with pytest.raises(SecurityError, match="not adopting"):
        again.checkpoint(adopt=True)
    again.close()
