"""verify records every verdict; its receipt verifies offline with only the
receipt, the record and the public key (no database), as a court would check it."""

from __future__ import annotations

import json
import shutil

from tests.conftest import assert_no_traceback, run_cli
from verifier.errors import EXIT_OK, EXIT_SECURITY_ERROR


def test_receipt_from_verify_checks_out_on_a_machine_without_the_database(media_fixtures, tmp_path, test_root):
    data = tmp_path / "data"
    r = run_cli("verify", "--json", "--trust-anchors", str(test_root), str(media_fixtures[1]["mp4"]["signed"]),
                str(media_fixtures[1]["jpg"]["content_changed"]), data_dir=data)
    assert_no_traceback(r)
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["ledger"]["index"] for d in docs] == [0, 1]
    doc = docs[1]
    raw = run_cli("ledger", "show", str(doc["ledger"]["index"]), "--raw", data_dir=data)
    key = run_cli("keys", "export", data_dir=data).stdout.strip()
    assert raw.code == 0 and key

    court = tmp_path / "court"  # nothing here but the three files
    court.mkdir()
    (court / "receipt.txt").write_text(doc["ledger"]["receipt"])
    (court / "record.json").write_text(raw.stdout)
    (court / "key.txt").write_text(key)
    shutil.rmtree(data)
    ok = run_cli("ledger", "verify-receipt", str(court / "receipt.txt"), "--record", str(court / "record.json"),
                 "--key", (court / "key.txt").read_text(), cwd=court)
    assert ok.code == EXIT_OK, ok.stderr + ok.stdout

    record = json.loads(raw.stdout)
    assert record["verification"]["verdict"]["label"] == "tampered"
    assert record["verification"]["input"]["hashes"]["sha256"] == doc["input"]["hashes"]["sha256"]
    record["verification"]["verdict"]["label"] = "authentic_provenance"
    (court / "record.json").write_text(json.dumps(record))
    bad = run_cli("ledger", "verify-receipt", str(court / "receipt.txt"), "--record", str(court / "record.json"),
                  "--key", key, cwd=court)
    assert bad.code == EXIT_SECURITY_ERROR


def test_ledger_audit_after_verify(media_fixtures, tmp_path):
    data = tmp_path / "data"
    for variant in ("plain", "signed", "ai"):
        assert run_cli("verify", "--json", str(media_fixtures[1]["png"][variant]), data_dir=data).code in (0, 12)
    audit = run_cli("ledger", "verify", data_dir=data)
    assert audit.code == EXIT_OK, audit.stderr
    assert "3 entries" in audit.stdout


def test_no_ledger_flag_records_nothing(media_fixtures, tmp_path):
    data = tmp_path / "data"
    r = run_cli("verify", "--json", "--no-ledger", str(media_fixtures[1]["png"]["plain"]), data_dir=data)
    assert json.loads(r.stdout)["ledger"] is None
    assert not (data / "ledger.sqlite").exists()


def test_a_verdict_the_ledger_cannot_record_is_still_shown_and_marked(media_fixtures, tmp_path):
    """A read-only ledger used to swallow the verdict: only the error line came out."""
    import os

    data = tmp_path / "data"
    first = run_cli("verify", "--json", str(media_fixtures[1]["png"]["plain"]), data_dir=data)
    assert first.code == EXIT_OK
    db = data / "ledger.sqlite"
    db.chmod(0o444)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root writes anything: drop the capabilities that override file permissions
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            import pytest

            pytest.skip("running as root without setpriv: cannot make the ledger read-only")
        drop = "-dac_override,-dac_read_search"
        prefix = (setpriv, "--bounding-set", drop, "--inh-caps", drop, "--")
    r = run_cli("verify", "--json", str(media_fixtures[1]["jpg"]["plain"]), data_dir=data, prefix=prefix)
    db.chmod(0o644)
    assert_no_traceback(r)
    assert r.code == EXIT_SECURITY_ERROR
    doc = json.loads(r.stdout)
    assert doc["verdict"]["label"] == "inconclusive" and doc["ledger"] is None
    assert "NOT recorded in the ledger" in doc["ledger_error"] and "NOT recorded" in r.stderr


def test_the_service_returns_an_unrecorded_verdict_with_a_503(media_fixtures, tmp_path):
    from fastapi.testclient import TestClient

    from verifier.config import Settings
    from verifier.ledger import LedgerError
    from verifier.service.app import create_app

    class FullDisk:  # the edge that cannot be provoked portably: a storage failure on append
        origin = "test/ledger"

        def append(self, record):
            raise LedgerError("ledger database write failed: database or disk is full")

        def close(self):
            pass

    with TestClient(create_app(Settings(data_dir=tmp_path), ledger=FullDisk())) as client:
        r = client.post("/v1/verify", files={"file": ("a.png", media_fixtures[1]["png"]["plain"].read_bytes())})
    assert r.status_code == 503
    body = r.json()
    assert body["error"]["type"] == "ledger_unavailable" and "disk is full" in body["error"]["message"]
    assert body["verification"]["verdict"]["label"] == "inconclusive" and body["verification"]["ledger"] is None
