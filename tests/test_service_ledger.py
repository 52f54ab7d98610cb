"""The service's ledger read side: what a receipt holder fetches later over HTTP,
checked with the offline tools, never taken on trust."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from verifier.config import Settings
from verifier.ledger import Ledger, verify_receipt
from verifier.ledger.consistency import verify_extension
from verifier.ledger.note import SignedCheckpoint
from verifier.service.app import create_app


@pytest.fixture
def served(tmp_path, test_root):
    settings = Settings(data_dir=tmp_path, trust_anchors=(test_root,), ledger_url=None)
    ledger = Ledger.open(settings)
    pinned = ledger.verifier_key  # what a holder would have been given out of band
    with TestClient(create_app(settings, max_upload=1 << 20, ledger=ledger)) as c:
        yield c, ledger, pinned


def _upload(client, path, name):
    r = client.post("/v1/verify", files={"file": (name, path.read_bytes())})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_receipt_holder_checks_later_that_the_log_kept_its_entry(served, media_fixtures):
    client, _ledger, pinned = served
    fx = media_fixtures[1]
    first = _upload(client, fx["png"]["plain"], "exhibit-1.png")
    receipt = first["ledger"]["receipt"]
    for variant in ("signed", "ai"):
        _upload(client, fx["png"][variant], f"{variant}.png")

    latest = client.get("/v1/ledger/checkpoint")
    assert latest.status_code == 200 and latest.headers["content-type"].startswith("text/plain")
    assert SignedCheckpoint.parse(latest.text).verify([pinned])
    assert SignedCheckpoint.parse(latest.text).checkpoint.size == 3

    held = verify_receipt(receipt, [pinned]).checkpoint
    proof = client.get("/v1/ledger/consistency", params={"old": held.checkpoint.size})
    assert proof.status_code == 200 and proof.text.startswith(f"old {held.checkpoint.size}\n")
    check = verify_extension(held, proof.text, [pinned])
    assert check.new.checkpoint.size == 3

    entry = client.get(f"/v1/ledger/entries/{first['ledger']['index']}").json()
    assert entry["record"]["verification"]["input"]["hashes"] == first["input"]["hashes"]
    fresh = verify_receipt(entry["receipt"], [pinned])  # same record, now proven against size 3
    assert fresh.checkpoint.checkpoint.size == 3 and fresh.leaf_hash.hex() == entry["leaf_hash"]

    keys = client.get("/v1/ledger/keys").json()
    assert keys["current"] == pinned.encode() and keys["keys"] == [pinned.encode()]

    from verifier.ledger.export import audit_export

    export = client.get("/v1/ledger/export")  # the whole log, for an auditor to re-check on their own machine
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/x-ndjson")
    audited = audit_export(export.text.splitlines(keepends=True), [pinned], from_checkpoint=held.text)
    assert audited.ok and audited.size == 3, audited.problems


def test_is_this_the_file_you_received(served, media_fixtures):
    client, ledger, _ = served
    path = media_fixtures[1]["jpg"]["plain"]
    doc = _upload(client, path, "call-screenshot.jpg")
    index = doc["ledger"]["index"]
    size_before = ledger.size

    same = client.post(f"/v1/ledger/entries/{index}/media", files={"file": ("any-name.bin", path.read_bytes())})
    assert same.status_code == 200
    body = same.json()
    assert body["match"] is True and body["differences"] == []
    assert body["received_as"] == "call-screenshot.jpg" and body["sha256"] == doc["input"]["hashes"]["sha256"]

    altered = bytearray(path.read_bytes())
    altered[len(altered) // 2] ^= 0x01  # one bit, same size
    other = client.post(f"/v1/ledger/entries/{index}/media", files={"file": ("x.jpg", bytes(altered))}).json()
    assert other["match"] is False
    assert [d.split(" ")[0] for d in other["differences"]] == ["SHA-256", "SHA-512"]
    assert ledger.size == size_before  # a check is a read: nothing appended

    assert client.post("/v1/ledger/entries/99/media", files={"file": ("x", b"x")}).status_code == 404
    ledger.rotate_key()
    rotation = client.post(f"/v1/ledger/entries/{ledger.size - 1}/media", files={"file": ("x", b"x")})
    assert rotation.status_code == 422 and rotation.json()["error"]["type"] == "no_received_file"
    too_big = client.post(f"/v1/ledger/entries/{index}/media", files={"file": ("x", b"\0" * (2 << 20))})
    assert too_big.status_code == 413 and too_big.json()["error"]["type"] == "too_large"


@pytest.mark.parametrize("url,status,kind", [
    ("/v1/ledger/entries/5", 404, "no_entry"),
    ("/v1/ledger/entries/-1", 404, "no_entry"),
    ("/v1/ledger/entries/abc", 422, "bad_request"),
    ("/v1/ledger/consistency?old=9", 409, "log_smaller"),
    ("/v1/ledger/consistency?old=-1", 422, "bad_request"),
    ("/v1/ledger/consistency", 422, "bad_request"),
])
def test_bad_ledger_requests_get_json_errors(served, media_fixtures, url, status, kind):
    client, _, _ = served
    _upload(client, media_fixtures[1]["wav"]["plain"], "a.wav")
    r = client.get(url)
    assert r.status_code == status
    assert r.json()["error"]["type"] == kind and "multipart" not in r.json()["error"]["message"]


def test_a_fresh_log_and_a_service_without_a_ledger_say_so(served, tmp_path, test_root):
    client, _, _ = served
    for url in ("/v1/ledger/checkpoint", "/v1/ledger/consistency?old=0"):
        r = client.get(url)
        assert r.status_code == 404 and r.json()["error"]["type"] == "no_checkpoint"
    settings = Settings(data_dir=tmp_path / "off", trust_anchors=(test_root,), record_to_ledger=False)
    with TestClient(create_app(settings)) as off:
        for url in ("/v1/ledger/checkpoint", "/v1/ledger/consistency?old=0", "/v1/ledger/keys", "/v1/ledger/entries/0",
                    "/v1/ledger/export"):
            r = off.get(url)
            assert r.status_code == 404 and r.json()["error"]["type"] == "no_ledger"


def test_any_ledger_path_or_query_gets_an_answer_in_the_contract(served, media_fixtures):
    """Whatever a client puts in the index or the size, the answer is the read (200) or the
    JSON error document with a 4xx, never a 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    client, _, _ = served
    _upload(client, media_fixtures[1]["png"]["plain"], "a.png")
    from urllib.parse import quote

    part = st.one_of(st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
                     st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20))

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(index=part, old=part)
    def check(index, old):
        index = quote(index, safe="")
        for r in (client.get(f"/v1/ledger/entries/{index}"), client.get("/v1/ledger/consistency", params={"old": old}),
                  client.post(f"/v1/ledger/entries/{index}/media", files={"file": ("x", b"x")})):
            assert r.status_code == 200 or 400 <= r.status_code < 500, (r.status_code, r.text[:300])
            if r.status_code != 200:
                assert set(r.json()["error"]) == {"type", "message"}

    check()


def test_unknown_paths_and_methods_get_the_json_error_document(served):
    client, _, _ = served
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"
    r = client.delete("/v1/ledger/checkpoint")
    assert r.status_code == 405 and r.json()["error"]["type"] == "method_not_allowed" and "GET" in r.headers["allow"]


def test_an_entry_s_evidence_bundle_is_served_and_checks_offline(served, media_fixtures, tmp_path):
    from verifier.bundle import verify_bundle

    client, ledger, pinned = served
    first = _upload(client, media_fixtures[1]["wav"]["plain"], "voicemail.wav")
    index = first["ledger"]["index"]
    r = client.get(f"/v1/ledger/entries/{index}/bundle")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    (tmp_path / "b.zip").write_bytes(r.content)
    check = verify_bundle(tmp_path / "b.zip", [pinned])
    assert check.original == "original/voicemail.wav" and check.report_matches
    assert check.verification.record_id == first["record_id"]
    assert not list((tmp_path / "uploads").glob("*/*.zip"))  # the served copy is not left behind

    # a Range the route does not serve leaves nothing behind either (red-team: 416 kept the zip)
    ranged = client.get(f"/v1/ledger/entries/{index}/bundle", headers={"Range": "bytes=99999999-"})
    assert ranged.status_code == 200 and ranged.content == r.content
    assert not [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()]

    light = client.get(f"/v1/ledger/entries/{index}/bundle", params={"original": "false"})
    assert light.status_code == 200 and len(light.content) < len(r.content)

    assert client.get(f"/v1/ledger/entries/{ledger.size}/bundle").json()["error"]["type"] == "no_entry"
    from verifier.intake import EvidenceStore

    # the store's copy replaced behind the ledger's back
    held = EvidenceStore(tmp_path / "evidence").path_for(first["input"]["hashes"]["sha256"])
    held.chmod(0o644)
    held.write_bytes(held.read_bytes()[:-1] + b"\0")
    bad = client.get(f"/v1/ledger/entries/{index}/bundle")
    assert bad.status_code == 409 and bad.json()["error"]["type"] == "original_altered"


def test_a_tampered_database_answers_409_in_json_not_500(served, media_fixtures, tmp_path):
    """Red-team finding: a record that is not JSON, or a checkpoint that does not parse, gave 500s."""
    import sqlite3

    from verifier.ledger.store import TABLE_NAMES

    client, ledger, _ = served
    _upload(client, media_fixtures[1]["png"]["plain"], "a.png")
    _upload(client, media_fixtures[1]["png"]["signed"], "b.png")
    con = sqlite3.connect(tmp_path / "ledger.sqlite", isolation_level=None)
    for t in TABLE_NAMES:
        con.execute(f"DROP TRIGGER IF EXISTS {t}_no_update")
    con.execute("UPDATE ledger_entry SET record = x'ff00' WHERE idx = 0")
    con.execute("UPDATE ledger_checkpoint SET note = 'garbage' WHERE size = 2")
    con.close()
    for path in ("/v1/ledger/entries/0", "/v1/ledger/checkpoint", "/v1/ledger/consistency?old=1", "/v1/ledger/entries/1"):
        r = client.get(path)
        assert r.status_code == 409, (path, r.status_code, r.text)
        assert r.json()["error"]["type"] == "ledger_inconsistent" and "ledger verify" in r.json()["error"]["message"]
