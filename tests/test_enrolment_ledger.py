"""Enrolments are recorded in the ledger, and a claim is checked only against the
reference its latest enrolment recorded: a reference swapped in the data
directory (the impostor's voice under the CFO's name) is refused, not compared."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

from detectors.face_swap import models
from detectors.identity.enroll import EnrolmentError, ReferenceStore, reference_file
from tests.conftest import SHARED, assert_no_traceback, run_cli
from verifier.config import Settings
from verifier.enrolment_log import (
    ENROLMENT_PREFIX,
    LedgerGuard,
    ReferenceIntegrityError,
    check_reference,
    enrolment_record,
    latest_enrolment,
)
from verifier.ledger import Ledger
from verifier.selection import face_reference_dir, select_detectors

GFP = SHARED / "media/image/gfpgan/inputs/cropped_faces"


def _hand_placed_face_reference(data_dir: Path, name: str, value: float = 0.01) -> Path:
    """A face reference as an older version (or someone with write access) leaves it."""
    path = reference_file(face_reference_dir(data_dir), name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": name, "model_sha256": models.model_sha256(models.FACE_EMBEDDING),
                                "photo_sha256": ["0" * 64], "embeddings": [[value] * 128]}) + "\n")
    return path


@pytest.fixture
def ledger(data_dir):
    with Ledger.open(Settings(data_dir=data_dir)) as led:
        yield led


def test_enrolment_record_is_found_by_its_prefix_and_verified(ledger):
    ledger.append({"schema": "something else", "name": "Jane"})
    rec = enrolment_record("voice", "Jane", "a" * 64, ["b" * 64], "c" * 64, "enrol")
    index = LedgerGuard(ledger, "voice", "Jane")._record("a" * 64, ["b" * 64], "c" * 64, "enrol")
    assert ledger.raw(index).startswith(ENROLMENT_PREFIX)  # the SQL lookup depends on "kind" sorting first
    assert set(json.loads(ledger.raw(index))) == set(rec)
    found = latest_enrolment(ledger, "voice", "Jane")
    assert found is not None and found.index == index and found.reference_sha256 == "a" * 64
    assert latest_enrolment(ledger, "face", "Jane") is None  # faces and voices are separate references
    assert latest_enrolment(ledger, "voice", "jane") is None
    LedgerGuard(ledger, "voice", "Jane")._record("d" * 64, [], "c" * 64, "replace")
    assert check_reference(ledger, "voice", "Jane", "d" * 64).index == index + 1
    with pytest.raises(ReferenceIntegrityError, match="not the one the ledger recorded at its latest enrolment"):
        check_reference(ledger, "voice", "Jane", "a" * 64)  # an older enrolment's reference put back


def test_an_enrolment_row_added_without_the_key_is_not_believed(ledger, data_dir):
    """Someone with write access to the database, not the key, inserts an enrolment
    of their own reference: no signed checkpoint covers it."""
    from sqlalchemy import insert

    from verifier.ledger import canonicalize
    from verifier.ledger.merkle import leaf_hash
    from verifier.ledger.store import T_ENTRY

    raw = canonicalize(enrolment_record("face", "Jane", "e" * 64, [], "c" * 64, "enrol"))
    with ledger.store.write() as conn:
        conn.execute(insert(T_ENTRY).values(idx=ledger.size, leaf_hash=leaf_hash(raw), record=raw,
                                            appended_at="2026-12-03T00:00:00Z"))
    with pytest.raises(ReferenceIntegrityError, match="does not verify"):
        check_reference(ledger, "face", "Jane", "e" * 64)


def test_a_hand_placed_reference_is_refused_until_adopted_and_an_edit_is_caught(media_fixtures, data_dir):
    png = str(media_fixtures[1]["png"]["plain"])
    ref_path = _hand_placed_face_reference(data_dir, "Jane Doe")
    r = run_cli("verify", "--claimed-person", "Jane Doe", png, data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 3 and "is not recorded in the ledger" in r.stderr and "--adopt" in r.stderr
    r = run_cli("verify", "--no-ledger", "--claimed-person", "Jane Doe", png, data_dir=data_dir)
    assert r.code == 3, "--no-ledger records no verdict, but the existing ledger still vouches for references"

    r = run_cli("enroll", "Jane Doe", "--adopt", data_dir=data_dir)
    assert r.code == 0, r.stderr
    assert "adopted Jane Doe's face reference as it is" in r.stdout and "recorded in the ledger at entry" in r.stdout
    with Ledger.open(Settings(data_dir=data_dir)) as led:
        sel = select_detectors(data_dir, "none", claimed_person="Jane Doe", ledger=led)
        entry = latest_enrolment(led, "face", "Jane Doe")
    assert entry is not None and entry.operation == "adopt"
    assert sel.options["claimed_person_enrolment"] == str(entry.index)
    assert sel.options["claimed_person_sha256"] == hashlib.sha256(ref_path.read_bytes()).hexdigest()
    r = run_cli("verify", "--claimed-person", "Jane Doe", png, data_dir=data_dir)
    assert r.code == 0, r.stderr

    _hand_placed_face_reference(data_dir, "Jane Doe", value=0.02)  # the impostor's face under her name
    r = run_cli("verify", "--json", "--claimed-person", "Jane Doe", png, data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 3 and "changed outside `verifier enroll`" in r.stderr and r.stdout == ""


def test_adopt_needs_an_existing_reference_and_no_files(data_dir, media_fixtures):
    r = run_cli("enroll", "Nobody", "--adopt", data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 2 and "nothing to adopt" in r.stderr
    r = run_cli("enroll", "Nobody", "--adopt", str(media_fixtures[1]["png"]["plain"]), data_dir=data_dir)
    assert r.code == 2 and "give it no files" in r.stderr


def test_without_any_ledger_a_claim_is_compared_and_says_it_was_not_checked(data_dir):
    _hand_placed_face_reference(data_dir, "Jane Doe")
    sel = select_detectors(data_dir, "none", claimed_person="Jane Doe", ledger=None)
    assert "claimed_person_enrolment" not in sel.options and len(sel.options["claimed_person_sha256"]) == 64


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"name": "Jane Doe"}', b"\xff\xfe",
                                     b'{"name": "Jane Doe", "model_sha256": "M", "photo_sha256": ["x"], "embeddings": [[NaN]]}'])
def test_a_damaged_reference_is_a_clear_error(data_dir, content):
    path = reference_file(face_reference_dir(data_dir), "Jane Doe")
    path.parent.mkdir(parents=True)
    path.write_bytes(content.replace(b'"M"', json.dumps(models.model_sha256(models.FACE_EMBEDDING)).encode()))
    with pytest.raises(EnrolmentError, match="damaged|another face model"):
        ReferenceStore(face_reference_dir(data_dir)).load("Jane Doe")
    r = run_cli("verify", "--no-ledger", "--claimed-person", "Jane Doe", __file__, data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 2 and ("damaged" in r.stderr or "another face model" in r.stderr)


def test_service_refuses_a_claim_against_a_changed_reference(media_fixtures, data_dir):
    from fastapi.testclient import TestClient

    from verifier.service.app import create_app

    _hand_placed_face_reference(data_dir, "Jane Doe")
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        png = media_fixtures[1]["png"]["plain"]
        resp = client.post("/v1/verify", files={"file": ("a.png", png.read_bytes())}, data={"claimed_person": "Jane Doe"})
        assert resp.status_code == 409
        err = resp.json()["error"]
        assert err["type"] == "reference_not_enrolled" and str(data_dir) not in err["message"]
        assert not any(p.is_file() for p in (data_dir / "evidence").rglob("*"))  # refused before anything was received


def _photos():
    photos = [GFP / "Julia_Roberts_crop.png", GFP / "Adele_crop.png"]
    if not all(p.is_file() for p in photos):
        pytest.skip("shared face photos not present")
    return photos


def test_enrol_records_each_change_and_will_not_add_to_a_swapped_reference(data_dir):
    julia, adele = _photos()
    r = run_cli("enroll", "Julia Roberts", "--face", str(julia), data_dir=data_dir, timeout=120)
    assert r.code == 0 and "recorded in the ledger at entry" in r.stdout, r.stderr
    path = reference_file(face_reference_dir(data_dir), "Julia Roberts")
    swapped = ReferenceStore(data_dir / "scratch").enroll("Julia Roberts", [adele])
    path.write_bytes((data_dir / "scratch" / path.name).read_bytes())  # Adele's face under Julia's name
    assert swapped.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()

    r = run_cli("enroll", "Julia Roberts", "--face", str(julia), data_dir=data_dir, timeout=120)
    assert_no_traceback(r)
    assert r.code == 3 and "not adding to it" in r.stderr
    assert path.read_bytes() == (data_dir / "scratch" / path.name).read_bytes()  # nothing written

    r = run_cli("enroll", "Julia Roberts", "--replace", "--face", str(julia), data_dir=data_dir, timeout=120)
    assert r.code == 0, r.stderr
    with Ledger.open(Settings(data_dir=data_dir)) as led:
        entry = check_reference(led, "face", "Julia Roberts", hashlib.sha256(path.read_bytes()).hexdigest())
    assert entry.operation == "replace"
    assert len(ReferenceStore(face_reference_dir(data_dir)).load("Julia Roberts").photo_sha256) == 1


def test_the_claim_finding_names_the_reference_and_its_enrolment(data_dir, tmp_path):
    julia, _ = _photos()
    r = run_cli("enroll", "Julia Roberts", "--face", str(julia), data_dir=data_dir, timeout=120)
    assert r.code == 0, r.stderr
    r = run_cli("verify", "--json", "--claimed-person", "Julia Roberts", str(julia), data_dir=data_dir, timeout=120)
    assert r.code == 0, r.stderr
    finding = {f["detector"]: f for f in json.loads(r.stdout)["findings"]}["face_identity_claim"]
    path = reference_file(face_reference_dir(data_dir), "Julia Roberts")
    assert finding["applicable"] and finding["reference"] == {
        "person": "Julia Roberts", "modality": "face", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "enrolment_index": 0, "compared_share": None, "repeated_s": None, "silent_closer_face": None}
    assert "enrolment recorded in the ledger at entry 0" in finding["reason"]


def test_two_enrolments_at_once_keep_both_photos(tmp_path):
    julia, adele = _photos()
    store = ReferenceStore(tmp_path / "refs")
    store.enroll("Both", [julia])
    errors: list[BaseException] = []

    def enrol(photo):
        try:
            for _ in range(3):
                ReferenceStore(tmp_path / "refs").enroll("Both", [photo])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=enrol, args=(p,)) for p in (julia, adele)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store.load("Both").photo_sha256) == 2  # neither lost, neither counted twice


def test_a_signed_photo_of_someone_else_is_not_the_claimed_person(media_fixtures, data_dir, tmp_path):
    """Trusted Content Credentials vouch for who made the file, not for who is in it."""
    julia, adele = _photos()
    pki = media_fixtures[0] / "pki"
    signed = tmp_path / "adele_signed.png"
    r = run_cli("provenance", "sign", str(adele), str(signed), "--cert", str(pki / "chain.pem"), "--key", str(pki / "signer.key"))
    assert r.code == 0, r.stderr
    assert run_cli("enroll", "Julia Roberts", "--face", str(julia), data_dir=data_dir, timeout=120).code == 0
    assert run_cli("enroll", "Adele", "--face", str(adele), data_dir=data_dir, timeout=120).code == 0

    def verify(person):
        r = run_cli("verify", "--json", "--trust-anchors", str(pki / "root.pem"), "--claimed-person", person, str(signed),
                    data_dir=data_dir, timeout=120)
        assert_no_traceback(r)
        return r.code, json.loads(r.stdout)

    code, doc = verify("Julia Roberts")
    assert (code, doc["provenance"]["state"], doc["verdict"]["label"]) == (11, "trusted", "likely_manipulated")
    assert "claimed_identity_not_matched" in doc["verdict"]["reasons"]
    code, doc = verify("Adele")
    assert (code, doc["verdict"]["label"]) == (0, "authentic_provenance")
    assert [f["detector"] for f in doc["findings"]] == ["face_identity_claim"]  # only the claim ran


def test_the_help_example_name_is_accepted_and_names_never_reach_the_path(tmp_path):
    path = reference_file(tmp_path, "Jane Doe (CFO)")
    assert path.parent == tmp_path and "(" not in path.name
    with pytest.raises(EnrolmentError, match="invalid person name"):
        reference_file(tmp_path, "../Jane")


def test_a_directory_or_symlink_at_the_reference_path(tmp_path):
    julia, _ = _photos()
    store = ReferenceStore(tmp_path / "refs")
    path = reference_file(store.root, "Julia Roberts")
    path.mkdir(parents=True)
    with pytest.raises(EnrolmentError, match="directory"):
        store.enroll("Julia Roberts", [julia])
    path.rmdir()
    target = tmp_path / "elsewhere.txt"
    target.write_text("not yours")
    path.symlink_to(target)
    with pytest.raises(EnrolmentError, match="damaged"):  # the link's target is not a reference
        store.enroll("Julia Roberts", [julia])
    store.enroll("Julia Roberts", [julia], replace=True)
    assert target.read_text() == "not yours" and not path.is_symlink()  # the link was replaced, not written through


def test_ledger_commands_name_an_enrolment_entry_for_what_it_is(data_dir, tmp_path):
    _hand_placed_face_reference(data_dir, "Jane Doe")
    assert run_cli("enroll", "Jane Doe", "--adopt", data_dir=data_dir).code == 0
    r = run_cli("ledger", "bundle", "0", "--out", str(tmp_path / "case.zip"), data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 2 and "records an enrolment" in r.stderr
    r = run_cli("ledger", "list", data_dir=data_dir)
    assert r.code == 0 and "av-verifier/enrolment@1" in r.stdout
    assert run_cli("ledger", "verify", data_dir=data_dir).code == 0


def _adopted(data_dir: Path, name: str = "Jane Doe", value: float = 0.01) -> Path:
    path = _hand_placed_face_reference(data_dir, name, value)
    r = run_cli("enroll", name, "--adopt", data_dir=data_dir)
    assert r.code == 0, r.stderr
    return path


def test_an_older_database_put_back_does_not_bring_an_older_enrolment_back(media_fixtures, data_dir, tmp_path):
    """Round 2: restoring a copy of the ledger from before a re-enrolment brought the first reference back."""
    import shutil

    png = str(media_fixtures[1]["png"]["plain"])
    old_ref = _adopted(data_dir).read_bytes()
    shutil.copy(data_dir / "ledger.sqlite", tmp_path / "ledger-before.sqlite")
    with Ledger.open(Settings(data_dir=data_dir)) as led:  # the operator re-enrols (the first reference was wrong)
        path = reference_file(face_reference_dir(data_dir), "Jane Doe")
        path.write_text(path.read_text().replace("0.01", "0.03"))
        LedgerGuard(led, "face", "Jane Doe")._record(hashlib.sha256(path.read_bytes()).hexdigest(), [], "m", "replace")
    assert run_cli("verify", "--claimed-person", "Jane Doe", png, data_dir=data_dir).code == 0
    path.write_bytes(old_ref)  # the attacker puts the old reference and the old database back
    shutil.copy(tmp_path / "ledger-before.sqlite", data_dir / "ledger.sqlite")
    for extra in ((), ("--no-ledger",)):
        r = run_cli("verify", *extra, "--claimed-person", "Jane Doe", png, data_dir=data_dir)
        assert_no_traceback(r)
        assert r.code == 3 and "rolled back" in r.stderr, r.stderr


def test_an_edited_newer_enrolment_row_fails_the_audit_before_anything_is_compared(media_fixtures, data_dir):
    """Round 2: with the append-only trigger dropped, the newest enrolment row was edited so the older one
    read as latest; the stored leaf hashes were left alone."""
    import sqlite3

    png = str(media_fixtures[1]["png"]["plain"])
    path = _adopted(data_dir)
    old_ref = path.read_bytes()
    with Ledger.open(Settings(data_dir=data_dir)) as led:
        path.write_text(path.read_text().replace("0.01", "0.03"))
        newest = LedgerGuard(led, "face", "Jane Doe")._record(hashlib.sha256(path.read_bytes()).hexdigest(), [], "m", "replace")
    path.write_bytes(old_ref)
    con = sqlite3.connect(data_dir / "ledger.sqlite")
    triggers = con.execute("SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name='ledger_entry'").fetchall()
    for name, _ in triggers:
        con.execute(f"DROP TRIGGER {name}")
    rec = con.execute("SELECT record FROM ledger_entry WHERE idx=?", (newest,)).fetchone()[0]
    con.execute("UPDATE ledger_entry SET record=? WHERE idx=?", (bytes(rec).replace(b"Jane Doe", b"Jane Dot"), newest))
    for _, sql in triggers:
        con.execute(sql)
    con.commit()
    con.close()
    r = run_cli("verify", "--no-ledger", "--claimed-person", "Jane Doe", png, data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 3 and "fails its audit" in r.stderr


def test_a_ledger_made_with_another_key_is_not_believed(media_fixtures, data_dir, tmp_path):
    """Round 2: `--no-ledger` read whatever ledger it found, checking receipts with the keys the database lists."""
    png = str(media_fixtures[1]["png"]["plain"])
    _adopted(data_dir)
    (data_dir / "ledger.sqlite").unlink()  # the attacker's own ledger, made with the attacker's key
    r = run_cli("enroll", "Jane Doe", "--adopt", data_dir=data_dir,
                env_extra={"VERIFIER_LEDGER_KEY": str(tmp_path / "attacker.key")})
    assert r.code == 0, r.stderr
    r = run_cli("verify", "--no-ledger", "--claimed-person", "Jane Doe", png, data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 3 and "ledger" in r.stderr


def test_adopt_is_only_for_references_the_ledger_never_recorded(data_dir):
    """Round 2: --adopt recorded a swapped reference over a recorded enrolment."""
    _adopted(data_dir)
    r = run_cli("enroll", "Jane Doe", "--adopt", data_dir=data_dir)
    assert r.code == 3 and "already recorded this very reference" in r.stderr
    _hand_placed_face_reference(data_dir, "Jane Doe", value=0.02)
    r = run_cli("enroll", "Jane Doe", "--adopt", data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 3 and "already recorded another one" in r.stderr and "--replace" in r.stderr


def test_a_name_with_a_trailing_newline_is_refused(tmp_path):
    with pytest.raises(EnrolmentError, match="invalid person name"):
        reference_file(tmp_path, "CFO\n")


def test_the_enrolment_lock_is_not_opened_through_a_symlink(tmp_path):
    from detectors.identity.enroll import reference_lock

    (tmp_path / "refs").mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("keep")
    (tmp_path / "refs" / ".enrol.lock").symlink_to(target)
    with pytest.raises(EnrolmentError, match="lock"):
        with reference_lock(tmp_path / "refs"):
            pass
    assert target.read_text() == "keep"


def test_a_service_without_a_ledger_refuses_claims(media_fixtures, data_dir):
    from fastapi.testclient import TestClient

    from verifier.service.app import create_app

    _hand_placed_face_reference(data_dir, "Jane Doe")
    with TestClient(create_app(Settings(data_dir=data_dir, record_to_ledger=False))) as client:
        png = media_fixtures[1]["png"]["plain"]
        resp = client.post("/v1/verify", files={"file": ("a.png", png.read_bytes())}, data={"claimed_person": "Jane Doe"})
        assert resp.status_code == 422 and resp.json()["error"]["type"] == "claims_unavailable"


def test_one_enrolment_log_audits_the_ledger_once(ledger, monkeypatch):
    """A verification with a face and a voice claim reads one log: one audit, not one per claim."""
    from verifier.enrolment_log import EnrolmentLog

    LedgerGuard(ledger, "face", "Jane").adopt("a" * 64, [], "m" * 64)
    LedgerGuard(ledger, "voice", "Jane").adopt("b" * 64, [], "m" * 64)
    audits = []
    real = ledger.verify
    monkeypatch.setattr(ledger, "verify", lambda *a, **k: audits.append(1) or real(*a, **k))
    log = EnrolmentLog(ledger)
    assert log.check("face", "Jane", "a" * 64).index == 0 and log.check("voice", "Jane", "b" * 64).index == 1
    assert len(audits) == 1


def test_a_claim_without_recording_starts_no_ledger_and_is_refused_without_one(data_dir):
    """Round 2 left this open: `verify --no-ledger --claimed-person` created a ledger (and its key) as a
    side effect, only to find no enrolment in it."""
    _hand_placed_face_reference(data_dir, "Jane Doe")
    r = run_cli("verify", "--no-ledger", "--claimed-person", "Jane Doe", __file__, data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == 3 and "no ledger" in r.stderr and "checked against the ledger" in r.stderr
    assert not (data_dir / "ledger.sqlite").exists() and not (data_dir / "keys").exists()
    r = run_cli("verify", "--no-ledger", "--claimed-person", "Nobody", __file__, data_dir=data_dir)
    assert r.code == 2 and "no reference enrolled for 'Nobody'" in r.stderr  # the plainer mistake is named first
