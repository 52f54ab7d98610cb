"""The CLI contract: JSON shape and schema, directory walking, signing commands."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.conftest import assert_no_traceback, run_cli
from verifier.errors import EXIT_OK
from verifier.schema import SCHEMA_PATH, render


def test_published_schema_matches_the_models():
    assert SCHEMA_PATH.read_text() == render(), "run `python -m verifier.schema` and commit the result"


def test_json_output_names_and_schema(media_fixtures, test_root, data_dir):
    f = media_fixtures[1]["mp4"]["signed"]
    given = str(f)
    r = run_cli("verify", "--json", "--no-ledger", "--operator", "bob", "--trust-anchors", str(test_root), given, data_dir=data_dir)
    assert r.code == EXIT_OK, r.stderr
    doc = json.loads(r.stdout)
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
    assert doc["input"]["path"] == given
    assert doc["input"]["operator"] == "bob"
    assert doc["provenance"]["state"] == "trusted"
    assert doc["verdict"]["label"] == "authentic_provenance"
    assert isinstance(doc["findings"], list)
    assert doc["tool"]["dependency_set_sha256"] and doc["tool"]["trust_bundle_sha256"]


def test_directory_is_walked_one_document_per_file(media_fixtures, data_dir):
    root = media_fixtures[0] / "png"
    r = run_cli("verify", "--json", "--no-ledger", str(root), data_dir=data_dir)
    assert_no_traceback(r)
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(docs) == len(list(root.iterdir()))
    assert [d["input"]["path"] for d in docs] == sorted(d["input"]["path"] for d in docs)
    assert r.code == 10  # the folder holds tampered variants: the most severe code wins


def test_a_walk_reports_every_entry_it_does_not_verify(media_fixtures, tmp_path, data_dir):
    # Symlinked, dangling and hidden entries used to vanish from the run without a word.
    src = tmp_path / "in"
    (src / ".hidden_dir").mkdir(parents=True)
    png = media_fixtures[1]["png"]["plain"]
    (src / "real.png").write_bytes(png.read_bytes())
    (src / ".hidden.png").write_bytes(png.read_bytes())
    (src / ".hidden_dir" / "inside.png").write_bytes(png.read_bytes())
    (src / "linked.png").symlink_to(png)
    (src / "dangling.png").symlink_to(tmp_path / "gone.png")
    (src / "linked_dir").symlink_to(png.parent, target_is_directory=True)
    r = run_cli("verify", "--json", "--no-ledger", str(src), data_dir=data_dir)
    assert_no_traceback(r)
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    verified = [d["input"]["path"] for d in docs if "verdict" in d]
    skipped = {d["input"]["path"].rsplit("/", 1)[-1]: d["skipped"]["reason"] for d in docs if "skipped" in d}
    assert [p.rsplit("/", 1)[-1] for p in verified] == ["real.png"]
    assert set(skipped) == {".hidden.png", ".hidden_dir", "linked.png", "dangling.png", "linked_dir"}
    assert skipped["linked.png"].startswith("symbolic link") and skipped[".hidden.png"].startswith("hidden")
    assert r.stderr.count("skipped: ") == 5


def test_human_summary(media_fixtures, data_dir):
    r = run_cli("verify", "--no-ledger", str(media_fixtures[1]["jpg"]["content_changed"]), data_dir=data_dir)
    assert r.code == 10
    assert "tampered" in r.stdout and "assertion.dataHash.mismatch" in r.stdout


def test_test_pki_then_sign_then_verify(media_fixtures, tmp_path, data_dir):
    pki = tmp_path / "pki"
    r = run_cli("provenance", "test-pki", str(pki))
    assert r.code == 0 and "FOR TESTING ONLY" in r.stdout
    assert (pki / "signer.key").stat().st_mode & 0o077 == 0
    again = run_cli("provenance", "test-pki", str(pki))
    assert again.code == 2 and "refusing to overwrite" in again.stderr
    out = tmp_path / "signed.m4a"
    r = run_cli("provenance", "sign", str(media_fixtures[1]["m4a"]["plain"]), str(out),
                "--cert", str(pki / "chain.pem"), "--key", str(pki / "signer.key"), "--ai-generated")
    assert r.code == 0, r.stderr
    r = run_cli("verify", "--json", "--no-ledger", "--trust-anchors", str(pki / "root.pem"), str(out), data_dir=data_dir)
    doc = json.loads(r.stdout)
    assert (doc["provenance"]["state"], doc["verdict"]["label"]) == ("trusted", "declared_synthetic")
    assert r.code == 12


def test_sign_with_bad_key_is_a_clear_error(media_fixtures, tmp_path):
    key = tmp_path / "k.pem"
    key.write_text("garbage")
    r = run_cli("provenance", "sign", str(media_fixtures[1]["jpg"]["plain"]), str(tmp_path / "o.jpg"),
                "--cert", str(key), "--key", str(key))
    assert_no_traceback(r)
    assert r.code == 2 and "not an unencrypted PEM private key" in r.stderr


def test_provenance_read(media_fixtures, test_root):
    r = run_cli("provenance", "read", "--trust-anchors", str(test_root), str(media_fixtures[1]["mov"]["signed"]))
    assert r.code == 0
    assert json.loads(r.stdout)["state"] == "trusted"


@pytest.mark.parametrize("args", [["--help"], ["verify", "--help"], ["provenance", "--help"]])
def test_help(args):
    assert run_cli(*args).code == 0
