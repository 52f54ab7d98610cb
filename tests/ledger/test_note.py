"""C2SP signed-note and checkpoint format, against the spec's own examples."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.ledger.errors import NoteError
from verifier.ledger.note import (
    Checkpoint,
    NoteSigner,
    SignedCheckpoint,
    VerifierKey,
    key_id,
    parse_note,
    sign_checkpoint,
    verify_note,
)

from .conftest import VECTORS

SN = VECTORS / "signed-note"


def _read(name: str) -> str:
    return (SN / name).read_text(encoding="utf-8")


def test_c2sp_example_verifies() -> None:
    vk = VerifierKey.parse(_read("signed-note-example.vkey"))
    assert vk.name == "example.com/foo" and vk.key_id_hex == "530d903a"
    assert vk.public_key.hex() == "e932791ae6e7a840a46164c904786426d5e7821dd8b29a00d61cae72afdd4da4"
    assert vk.encode() == _read("signed-note-example.vkey").strip()
    note, good = verify_note(_read("signed-note-example.note"), [vk])
    assert note.text == "This is an example message.\n" and good == [vk]
    assert note.encode() == _read("signed-note-example.note")
    with pytest.raises(NoteError):
        verify_note(_read("signed-note-example.note").replace("example message", "example massage"), [vk])


def test_vectors_json_parse_only_cases() -> None:
    vectors = json.loads(_read("vectors.json"))["vectors"]
    for v in vectors:
        note = parse_note(_read(v["file"]))
        assert note.text == v["note_text"]
        got = [(s.name, s.key_id.hex(), len(s.key_id) + len(s.signature)) for s in note.signatures]
        want = [(s["key_name"], s["key_id_hex"], s["signature_bytes_len"] + 4) for s in v["signatures"]]
        assert got == want
        if "checkpoint" in v:
            cp = Checkpoint.parse_body(note.text)
            assert (cp.origin, cp.size, cp.extensions) == (
                v["checkpoint"]["origin"], v["checkpoint"]["tree_size"], tuple(v["checkpoint"]["extension_lines"])
            )
            assert cp.body() == note.text


def test_unknown_key_signatures_are_ignored_but_one_known_is_required() -> None:
    vk = VerifierKey.parse(_read("signed-note-example.vkey"))
    with pytest.raises(NoteError, match="not signed by any trusted key"):
        verify_note(_read("tlog-checkpoint-example.checkpoint"), [vk])
    with pytest.raises(NoteError, match="no verifier keys"):
        verify_note(_read("signed-note-example.note"), [])


def test_key_id_derivation_and_round_trip() -> None:
    priv = Ed25519PrivateKey.generate()
    s = NoteSigner("log.example/x", priv)
    vk = s.verifier_key
    import hashlib

    assert vk.key_id == hashlib.sha256(b"log.example/x\n\x01" + vk.public_key).digest()[:4] == key_id(vk.name, vk.public_key)
    assert VerifierKey.parse(vk.encode()) == vk
    cp = sign_checkpoint(Checkpoint("log.example/x", 7, b"\x01" * 32), [s])
    assert SignedCheckpoint.parse(cp.text).verify([vk], origin="log.example/x") == [vk]
    with pytest.raises(NoteError, match="expected"):
        cp.verify([vk], origin="other.example/log")


@pytest.mark.parametrize(
    "text",
    [
        "no blank line\n— a AAAA\n",
        "body\n\n— name notbase64!\n",
        "body\n\n- name AAAAAAAAAAAA\n",
        "body\n\n— name AAAA\n",  # too short
        "body\n\n— na me AAAAAAAA\n",
        "body\r\n\n— name AAAAAAAA\n",
        "body\n\n",
    ],
)
def test_malformed_notes_rejected(text: str) -> None:
    with pytest.raises(NoteError):
        parse_note(text)


def test_a_copied_note_with_an_extra_newline_says_what_to_remove() -> None:
    s = NoteSigner("log.example/x", Ed25519PrivateKey.generate())
    cp = sign_checkpoint(Checkpoint("log.example/x", 7, b"\x01" * 32), [s])
    with pytest.raises(NoteError, match="extra blank line"):
        parse_note(cp.text + "\n")


@pytest.mark.parametrize(
    "body",
    ["o\n01\n" + "A" * 43 + "=\n", "o\n1\nAAAA\n", "\n1\n" + "A" * 43 + "=\n", "o\n1\n", "o\n-1\n" + "A" * 43 + "=\n"],
)
def test_malformed_checkpoint_bodies(body: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse_body(body)


@pytest.mark.parametrize(
    "vkey",
    [
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong id
        "example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # bad type byte
        "example.com/foo+530d903a",
        "example com+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    ],
)
def test_bad_verifier_keys(vkey: str) -> None:
    with pytest.raises(NoteError):
        VerifierKey.parse(vkey)


def test_ed25519_noncanonical_vectors_rejected() -> None:
    """Pin the verifier behind notes: non-canonical encodings of A or R must not verify."""
    vectors = json.loads((SN / "cctv-ed25519" / "ed25519vectors.json").read_text())
    checked = 0
    for v in vectors:
        if not {"non_canonical_A", "non_canonical_R"} & set(v["flags"] or []):
            continue
        try:
            vk = VerifierKey(name="x", public_key=bytes.fromhex(v["key"]))
        except ValueError:
            continue
        assert not vk.verify(v["msg"].encode(), bytes.fromhex(v["sig"])), v["number"]
        checked += 1
    assert checked > 0
