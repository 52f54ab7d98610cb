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
