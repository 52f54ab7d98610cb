"""An auditor with only the exported file and a pinned key re-checks the whole log:
an honest export passes (across a key rotation), and every way of doctoring one
(an edited record, a rewritten history, a missing entry, a dropped tail, a
foreign key, a fork from a checkpoint the auditor kept) fails with its reason."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from verifier.config import Settings
from verifier.ledger import Ledger, LedgerInputError
from verifier.ledger.export import audit_export, export_lines
from verifier.ledger.record import canonicalize_json_bytes

from .conftest import record, twin_ledger
from .test_ledger import run_cli

ORIGIN = "test.example/ledger"


@pytest.fixture
def filled(ledger: Ledger) -> Ledger:
    for i in range(9):
        ledger.append(record(i))
    return ledger


def _codes(lines: list[str], ledger: Ledger, **kw: object) -> list[str]:
    res = audit_export(lines, [ledger.verifier_key], **kw)  # type: ignore[arg-type]
    return [p.code for p in res.problems]


def _entry(lines: list[str], index: int) -> tuple[int, dict]:
    at = next(i for i, line in enumerate(lines) if json.loads(line).get("index") == index)
    return at, json.loads(lines[at])


def test_an_honest_export_passes_with_the_same_counts_as_the_database_audit(filled: Ledger) -> None:
    lines = list(export_lines(filled))
    res = audit_export(lines, [filled.verifier_key])
    db = filled.verify(trusted_keys=[filled.verifier_key])
    assert res.ok and db.ok, res.problems
    assert (res.size, res.root_hash, res.checkpoints_checked, res.consistency_checked) == \
        (db.size, db.root_hash, db.checkpoints_checked, db.consistency_checked) == (9, db.root_hash, 9, 8)


def test_an_edited_record_and_a_consistently_rewritten_history_are_both_caught(filled: Ledger) -> None:
    lines = list(export_lines(filled))
    at, e = _entry(lines, 4)
    edited = dict(e, record_b64=base64.b64encode(canonicalize_json_bytes(
        json.dumps(record(4, verdict="authentic")).encode())).decode())
    doctored = lines[:at] + [json.dumps(edited) + "\n"] + lines[at + 1:]
    assert {"leaf-mismatch", "root-mismatch"} <= set(_codes(doctored, filled))

    # the forger recomputes the leaf too: the signed checkpoints still give it away
    from verifier.ledger import merkle

    raw = base64.b64decode(edited["record_b64"])
    rewritten = dict(edited, leaf_hash=merkle.leaf_hash(raw).hex())
    doctored = lines[:at] + [json.dumps(rewritten) + "\n"] + lines[at + 1:]
    codes = _codes(doctored, filled)
    assert "leaf-mismatch" not in codes and codes.count("root-mismatch") == 5  # checkpoints at sizes 5..9


def test_a_missing_entry_a_dropped_tail_and_a_foreign_key_fail(filled: Ledger, tmp_path: Path) -> None:
    lines = list(export_lines(filled))
    at, _ = _entry(lines, 3)
    with pytest.raises(LedgerInputError, match="entry 4 where entry 3 was due"):
        audit_export(lines[:at] + lines[at + 1:], [filled.verifier_key])

    last, _ = _entry(lines, 8)
    dropped = lines[:last - 1] + lines[last + 1:]  # entries 7 and 8 gone, their checkpoints kept
    assert "truncated" in _codes(dropped, filled)

    other = Ledger.open(Settings(data_dir=tmp_path / "other", ledger_url=None), origin=ORIGIN)
    res = audit_export(lines, [other.verifier_key])
    assert not res.ok and {"key-unknown", "checkpoint-signature"} <= {p.code for p in res.problems}
    other.close()
    with pytest.raises(LedgerInputError, match="pin the ledger's key"):
        audit_export(lines, [])


def test_a_fork_from_a_checkpoint_the_auditor_kept_is_caught(settings: Settings, filled: Ledger,
                                                            tmp_path: Path) -> None:
    kept = filled.checkpoint()  # size 9, saved by the auditor
    twin = twin_ledger(settings, tmp_path, "twin")  # same key, a different history
    for i in range(12):
        twin.append(record(i, twin=True))
    twin_lines = list(export_lines(twin))
    assert audit_export(twin_lines, [filled.verifier_key]).ok  # a consistent log on its own ...
    res = audit_export(twin_lines, [filled.verifier_key], from_checkpoint=kept)
    assert not res.ok and "fork" in [p.code for p in res.problems]  # ... but not the one the auditor saw
    assert audit_export(list(export_lines(filled)), [filled.verifier_key], from_checkpoint=kept).ok
    twin.close()


def test_keys_are_followed_through_a_rotation_from_the_pinned_genesis_key(filled: Ledger) -> None:
    genesis = filled.verifier_key
    filled.rotate_key()
    filled.append(record(99))
    res = audit_export(list(export_lines(filled)), [genesis])
    assert res.ok, res.problems
    assert res.size == 11


@pytest.mark.parametrize("bad,words", [
    (["not json\n"], "line 1 is not JSON"),
    (['{"type": "entry", "index": 0}\n'], "first line must be the 'ledger' header"),
    (['{"type": "ledger", "origin": "o", "keys": []}\n', '{"type": "entry", "index": "0"}\n'], "'index' must be int"),
    (['{"type": "ledger", "origin": "o", "keys": []}\n', '{"type": "gossip"}\n'], "unknown line type"),
    ([], "export is empty"),
])
def test_malformed_exports_are_input_errors(filled: Ledger, bad: list[str], words: str) -> None:
    with pytest.raises(LedgerInputError, match=words):
        audit_export(bad, [filled.verifier_key])


def test_cli_exports_and_audits_offline(settings: Settings, filled: Ledger, tmp_path: Path) -> None:
    key = filled.verifier_key.encode()
    receipt = filled.receipt(2)
    filled.close()
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    data = ["--data-dir", str(settings.data_dir)]
    assert run_cli("ledger", "export", "--out", str(auditor / "log.jsonl"), *data).returncode == 0
    (auditor / "receipt.tlog-proof").write_text(receipt)
    ok = run_cli("ledger", "verify-export", "log.jsonl", "--key", key, "--from-checkpoint", "receipt.tlog-proof",
                 cwd=auditor)
    assert ok.returncode == 0, ok.stderr
    assert "OK, 9 entries" in ok.stdout

    lines = (auditor / "log.jsonl").read_text().splitlines(keepends=True)
    at, e = _entry(lines, 0)
    e["record_b64"] = base64.b64encode(b'{"forged":true}').decode()
    (auditor / "forged.jsonl").write_text("".join(lines[:at] + [json.dumps(e) + "\n"] + lines[at + 1:]))
    bad = run_cli("ledger", "verify-export", "forged.jsonl", "--key", key, cwd=auditor)
    assert bad.returncode == 3 and "SECURITY ERROR" in bad.stderr and "leaf-mismatch" in bad.stderr
    assert "Traceback" not in bad.stderr and "OK" not in bad.stdout


def test_an_export_of_another_log_fails_whatever_its_header_claims(filled: Ledger, tmp_path: Path) -> None:
    """Red-team finding: every key in an export's header became a genesis key, and a pinned key
    not named for the export's origin was set aside, so a log forged under another origin (its
    header listing the forger's key, then the real one) passed with the real key pinned."""
    real = filled.verifier_key
    for origin in ("evil.example/ledger", ORIGIN):
        forged = Ledger.open(Settings(data_dir=tmp_path / origin.split(".")[0], ledger_url=None), origin=origin)
        for i in range(9):
            forged.append(record(i, verdict="forged"))
        lines = list(export_lines(forged))
        header = json.loads(lines[0])
        header["keys"] = [forged.verifier_key.encode(), real.encode()]
        lines[0] = json.dumps(header) + "\n"
        res = audit_export(lines, [real])
        assert not res.ok and res.security_failure and "key-unknown" in [p.code for p in res.problems], origin
        forged.close()


def test_an_export_with_no_checkpoint_vouches_for_nothing(filled: Ledger) -> None:
    lines = [line for line in export_lines(filled) if json.loads(line).get("type") != "checkpoint"]
    res = audit_export(lines, [filled.verifier_key])
    assert not res.ok and "unsigned" in [p.code for p in res.problems]
