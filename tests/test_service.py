"""The HTTP service returns the same record as the CLI and JSON errors for bad input."""

from __future__ import annotations

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
