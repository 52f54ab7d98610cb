"""The HTTP service returns the same record as the CLI and JSON errors for bad input."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from verifier.config import Settings
from verifier.service.app import create_app


@pytest.fixture
def client(tmp_path, test_root):
    settings = Settings(data_dir=tmp_path, trust_anchors=(test_root,), record_to_ledger=False)
    with TestClient(create_app(settings, max_upload=1 << 20)) as c:
        yield c


def test_verify_upload(client, media_fixtures):
    path = media_fixtures[1]["jpg"]["content_changed"]
    r = client.post("/v1/verify", files={"file": ("evidence.jpg", path.read_bytes())}, data={"profile": "legal"})
    assert r.status_code == 200
    doc = r.json()
    assert doc["input"]["path"] == "evidence.jpg"
    assert doc["verdict"]["label"] == "tampered" and doc["verdict"]["profile"] == "legal"


def test_same_record_as_the_pipeline(client, media_fixtures, tmp_path, test_root):
    from verifier.pipeline import Verifier

    path = media_fixtures[1]["mov"]["signed"]
    served = client.post("/v1/verify", files={"file": ("clip.mov", path.read_bytes())}).json()
    local = Verifier(Settings(data_dir=tmp_path / "x", trust_anchors=(test_root,)), detector_names=None).verify(path)
    for key in ("provenance", "verdict", "media"):
        assert served[key] == local.model_dump(mode="json")[key]
    assert served["input"]["hashes"] == local.model_dump(mode="json")["input"]["hashes"]


@pytest.mark.parametrize("content,status,kind", [(b"", 400, "input_error"), (b"hello, not media" * 10, 400, "input_error"),
                                                 (b"\0" * (2 << 20), 413, "too_large")])
def test_bad_uploads_get_json_4xx(client, content, status, kind):
    r = client.post("/v1/verify", files={"file": ("x.mp4", content)})
    assert r.status_code == status
    assert r.json()["error"]["type"] == kind


def test_bad_profile(client, media_fixtures):
    r = client.post("/v1/verify", files={"file": ("a.wav", media_fixtures[1]["wav"]["plain"].read_bytes())}, data={"profile": "x"})
    assert r.status_code == 422 and "choose one of" in r.json()["error"]["message"]


def test_health(client):
    assert client.get("/v1/health").json()["status"] == "ok"


def test_detector_selection_and_claims_are_form_fields(client, media_fixtures):
    wav = media_fixtures[1]["wav"]["plain"].read_bytes()
    none = client.post("/v1/verify", files={"file": ("a.wav", wav)}, data={"detectors": "none"})
    assert none.status_code == 200 and none.json()["findings"] == []
    bad = client.post("/v1/verify", files={"file": ("a.wav", wav)}, data={"detectors": "voice_clone,nonsense"})
    assert bad.status_code == 422 and "unknown detector(s) nonsense" in bad.json()["error"]["message"]


@pytest.mark.parametrize("field,words", [("claimed_speaker", "no voice reference enrolled for 'Nobody'"),
                                         ("claimed_person", "no reference enrolled for 'Nobody'")])
def test_claim_about_someone_never_enrolled_is_refused_before_storing(client, media_fixtures, tmp_path, field, words):
    r = client.post("/v1/verify", files={"file": ("a.png", media_fixtures[1]["png"]["plain"].read_bytes())},
                    data={field: "Nobody"})
    assert r.status_code == 422 and words in r.json()["error"]["message"]
    assert not (tmp_path / "evidence").exists() or not any((tmp_path / "evidence").rglob("*.*"))


def test_html_report_over_http(client, media_fixtures):
    r = client.post("/v1/verify", files={"file": ("evidence.jpg", media_fixtures[1]["jpg"]["content_changed"].read_bytes())},
                    data={"format": "html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text and "evidence.jpg" in r.text and "tamper" in r.text.lower()
    bad = client.post("/v1/verify", files={"file": ("e.jpg", b"x")}, data={"format": "pdf"})
    assert bad.status_code == 422 and bad.json()["error"]["type"] == "bad_format"


@pytest.mark.parametrize("sent", ["..", "a" * 300 + ".png", "ü" * 130 + ".png", "../../etc/passwd", "x\\y.png"])
def test_any_file_name_is_recorded_as_sent_and_never_breaks_the_upload(client, media_fixtures, sent):
    """'..' and names longer than the file system allows used to fail the write with a 500."""
    r = client.post("/v1/verify", files={"file": (sent, media_fixtures[1]["png"]["plain"].read_bytes())})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["input"]["path"] == sent and doc["media"]["mime_type"] == "image/png"
    assert doc["media"]["extension_mismatch"] is False or not sent.endswith(".png")


def test_a_malformed_request_gets_the_service_error_document(client):
    for files in ({"file": ("", b"abc")}, {"other": ("a.png", b"abc")}):
        r = client.post("/v1/verify", files=files)
        assert r.status_code == 422
        assert r.json()["error"]["type"] == "bad_request" and "'file'" in r.json()["error"]["message"]


def _multipart(payload: bytes, boundary: str = "b0undary") -> tuple[bytes, dict[str, str]]:
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mp4\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


def test_an_upload_over_the_limit_is_refused_whether_declared_or_chunked(client, tmp_path):
    body, headers = _multipart(b"\0" * (3 << 20))
    declared = client.post("/v1/verify", content=body, headers=headers)
    chunked = client.post("/v1/verify", content=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                          headers=headers)
    for r in (declared, chunked):
        assert r.status_code == 413, r.text
        assert r.json()["error"] == {"type": "too_large", "message": f"upload larger than the {1 << 20} byte limit"}
    assert not list((tmp_path / "evidence").rglob("*.*")), "nothing over the limit may be stored"


def test_the_limit_stops_reading_a_chunked_upload_at_the_cap():
    """Measured at the ASGI boundary (the test client reads the whole body
    first): after the cap, the app is never handed another chunk, and the
    client gets the refusal, not the app's own answer."""
    import asyncio

    from verifier.service.limits import FORM_OVERHEAD, BodyLimitMiddleware

    chunk, pulled, sent = b"\0" * 65536, [0], []

    async def receive():
        pulled[0] += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled[0] < 10_000}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):  # reads everything, then answers 400 as a parser would
        while (await receive())["type"] == "http.request":
            pass
        await send({"type": "http.response.start", "status": 400, "headers": []})
        await send({"type": "http.response.body", "body": b"parse error"})

    limit = 1 << 20
    asyncio.run(BodyLimitMiddleware(app, limit)({"type": "http", "headers": []}, receive, send))
    assert pulled[0] == (limit + FORM_OVERHEAD) // len(chunk) + 1  # 17 chunks of 10 000 offered
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]
    assert b"too_large" in sent[-1]["body"]


def test_a_bug_answers_with_the_json_error_document(tmp_path, media_fixtures, monkeypatch):
    from verifier.pipeline import Verifier

    def broken(self, *args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(Verifier, "verify", broken)
    settings = Settings(data_dir=tmp_path, record_to_ledger=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        r = c.post("/v1/verify", files={"file": ("a.png", media_fixtures[1]["png"]["plain"].read_bytes())})
    assert r.status_code == 500
    assert r.json()["error"] == {"type": "internal_error", "message": "RuntimeError: simulated bug"}


def test_any_form_field_values_get_an_answer_in_the_contract(tmp_path, media_fixtures):
    """Property test over the form fields: whatever text a client sends as
    profile, detectors, claims, format or file name, the answer is a verdict
    (200) or the JSON error document with a 4xx, never a 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    png = media_fixtures[1]["png"]["plain"].read_bytes()
    text = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["all", "none", "finance", "legal", "html", "json",
                                                                       "voice_clone,face_swap", "face_swap,,", " all "]))
    app = create_app(Settings(data_dir=tmp_path, record_to_ledger=False), max_upload=1 << 20)
    with TestClient(app, raise_server_exceptions=False) as c:
        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(profile=text, detectors=text, person=text, speaker=text, fmt=text, name=st.text(min_size=1, max_size=30))
        def check(profile, detectors, person, speaker, fmt, name):
            fields = {k: v for k, v in {"profile": profile, "detectors": detectors, "claimed_person": person,
                                        "claimed_speaker": speaker, "format": fmt}.items() if v is not None}
            r = c.post("/v1/verify", files={"file": (name, png)}, data=fields)
            assert r.status_code == 200 or 400 <= r.status_code < 500, (r.status_code, r.text[:300])
            if r.status_code != 200:
                assert set(r.json()["error"]) == {"type", "message"}

        check()


def test_a_form_is_one_file_and_a_few_fields(client, media_fixtures):
    # Starlette's defaults held up to 1000 fields and 1000 small files in RAM per request, and
    # silently verified the last of two "file" parts.
    png = media_fixtures[1]["png"]["plain"].read_bytes()
    two = client.post("/v1/verify", files=[("file", ("a.png", png)), ("file", ("b.png", png))])
    many = client.post("/v1/verify", files={"file": ("a.png", png)}, data={f"f{i}": "x" for i in range(50)})
    big = client.post("/v1/verify", files={"file": ("a.png", png)}, data={"detectors": "x" * (200 << 10)})
    for r in (two, many, big):
        assert r.status_code == 400, r.text
        assert r.json()["error"]["type"] == "http_error"


def test_head_is_answered_where_get_is(client):
    assert client.head("/v1/health").status_code == 200


def test_a_stalled_body_is_cut_off_with_408():
    import asyncio

    from verifier.service.limits import BodyLimitMiddleware

    sent = []

    async def receive():  # a client that sent its headers and then nothing
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        while (await receive())["type"] == "http.request":
            pass
        await send({"type": "http.response.start", "status": 400, "headers": []})
        await send({"type": "http.response.body", "body": b"client went away"})

    asyncio.run(BodyLimitMiddleware(app, 1 << 20, idle_timeout=0.05)({"type": "http", "headers": []}, receive, send))
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [408]
    assert b'"timeout"' in sent[-1]["body"]


def test_an_unwritable_store_is_503_and_names_no_server_path(tmp_path, media_fixtures):
    (tmp_path / "custody.jsonl").mkdir()  # the custody log cannot be appended to
    with TestClient(create_app(Settings(data_dir=tmp_path, record_to_ledger=False))) as c:
        r = c.post("/v1/verify", files={"file": ("a.png", media_fixtures[1]["png"]["plain"].read_bytes())})
    assert r.status_code == 503, r.text
    assert r.json()["error"]["type"] == "storage_unavailable"
    assert str(tmp_path) not in r.text and "DATA_DIR" in r.text


def test_what_a_killed_service_left_is_swept_at_start(tmp_path):
    import socket
    import subprocess
    import time

    from verifier.service.workfiles import STALE_AFTER_S, UPLOAD_PREFIX, sweep_leftovers

    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no live process (until reused, which a test run will not see)
    host = socket.gethostname()
    dead, live = f"{gone.pid}@{host}", f"{os.getpid()}@{host}"
    uploads, incoming = tmp_path / "uploads", tmp_path / "evidence" / "incoming"
    incoming.mkdir(parents=True)
    (uploads / f"{UPLOAD_PREFIX}{dead}~abc").mkdir(parents=True)
    (uploads / f"{UPLOAD_PREFIX}{dead}~abc" / "upload.wav").write_bytes(b"x" * 100)
    (uploads / f"{UPLOAD_PREFIX}{live}~def").mkdir()
    (uploads / f"{UPLOAD_PREFIX}1@another-host~ghi").mkdir()  # a pid this host cannot check: kept for a day
    (uploads / f"{UPLOAD_PREFIX}\u00b2-odd").mkdir()  # not a name made so ("²" crashed int())
    (incoming / f"{dead}~1-aa.part").write_bytes(b"x")
    (incoming / f"{live}~1-bb.part").write_bytes(b"x")
    removed = sweep_leftovers(tmp_path)
    assert sorted(p.name for p in removed) == [f"{dead}~1-aa.part", f"{UPLOAD_PREFIX}{dead}~abc"]
    later = sweep_leftovers(tmp_path, now=time.time() + STALE_AFTER_S + 60)
    assert sorted(p.name for p in later) == sorted([f"{UPLOAD_PREFIX}1@another-host~ghi", f"{UPLOAD_PREFIX}\u00b2-odd",
                                                    f"{UPLOAD_PREFIX}{live}~def", f"{live}~1-bb.part"])


def test_a_bad_idle_timeout_is_refused_at_start(tmp_path, monkeypatch):
    from verifier.errors import ConfigError

    for bad in ("0", "-1", "nan", "abc"):
        monkeypatch.setenv("VERIFIER_BODY_IDLE_TIMEOUT", bad)
        with pytest.raises(ConfigError):
            create_app(Settings(data_dir=tmp_path, record_to_ledger=False))


def test_an_unwritable_upload_directory_is_503(tmp_path, media_fixtures):
    (tmp_path / "uploads").write_text("not a directory")
    with TestClient(create_app(Settings(data_dir=tmp_path, record_to_ledger=False)), raise_server_exceptions=False) as c:
        r = c.post("/v1/verify", files={"file": ("a.png", media_fixtures[1]["png"]["plain"].read_bytes())})
    assert r.status_code == 503 and r.json()["error"]["type"] == "storage_unavailable", r.text


def test_the_idle_timeout_ends_with_the_body():
    """A streamed answer (a bundle) listens for a disconnect after the body: no timeout there."""
    import asyncio

    from verifier.service.limits import BodyLimitMiddleware

    sent, calls = [], [0]

    async def receive():
        calls[0] += 1
        if calls[0] == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(0.2)  # longer than the idle timeout, then the client leaves
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        assert (await receive())["type"] == "http.disconnect"
        await send({"type": "http.response.body", "body": b"done"})

    asyncio.run(BodyLimitMiddleware(app, 1 << 20, idle_timeout=0.05)({"type": "http", "headers": []}, receive, send))
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [200]
    assert sent[-1]["body"] == b"done"
