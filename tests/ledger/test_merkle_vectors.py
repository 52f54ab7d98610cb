"""Every published Merkle vector: transparency-dev/merkle testdata, its RFC 6962
constants, and the CCTV Merkle vectors (see tests/vectors/merkle/README.md)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from verifier.ledger import merkle
from verifier.ledger.errors import ProofError

from .conftest import VECTORS

TD = VECTORS / "merkle" / "transparency-dev"
CCTV = VECTORS / "merkle" / "cctv" / "testdata"
TD_FILES = sorted((TD / "testdata").rglob("*.json"))


def _b(s: str) -> bytes:
    return base64.b64decode(s)


def _bl(xs: list[str] | None) -> list[bytes]:
    return [_b(x) for x in (xs or [])]


def _run(kind: str, d: dict) -> None:
    if kind == "inclusion":
        merkle.verify_inclusion(d["leafIdx"], d["treeSize"], _b(d["leafHash"]), _bl(d["proof"]), _b(d["root"]))
    elif kind == "consistency":
        merkle.verify_consistency(d["size1"], d["size2"], _bl(d["proof"]), _b(d["root1"]), _b(d["root2"]))
    elif kind == "subtreeinclusion":
        merkle.verify_subtree_inclusion(
            d["leafIdx"], d["start"], d["end"], _b(d["leafHash"]), _bl(d["proof"]), _b(d["root"])
        )
    elif kind == "subtreeconsistency":
        merkle.verify_subtree_consistency(
            d["start"], d["end"], d["size"], _bl(d["proof"]), _b(d["root1"]), _b(d["root2"])
        )
    else:  # pragma: no cover
        raise AssertionError(kind)


def test_vector_count() -> None:
    assert len(TD_FILES) == 518


@pytest.mark.parametrize("path", TD_FILES, ids=lambda p: str(p.relative_to(TD / "testdata")))
def test_transparency_dev_vector(path: Path) -> None:
    d = json.loads(path.read_text())
    kind = path.relative_to(TD / "testdata").parts[0]
    if d["wantErr"]:
        with pytest.raises(ProofError):
            _run(kind, d)
    else:
        _run(kind, d)


def test_rfc6962_constants() -> None:
    c = json.loads((TD / "rfc6962_constants.json").read_text())
    leaves = [bytes.fromhex(x) for x in c["leaf_inputs_hex"]]
    hashes = [merkle.leaf_hash(x) for x in leaves]
    assert [h.hex() for h in hashes] == c["leaf_hashes_hex"]
    for r in c["root_hashes"]:
        assert merkle.root_of(hashes[: r["tree_size"]]).hex() == r["root_hex"]
    assert merkle.EMPTY_ROOT.hex() == c["empty_root_hex"]
    by_key = {(0, i): h for i, h in enumerate(hashes)}
    cr = merkle.CompactRange()
    for h in hashes:
        for level, index, nh in cr.append(h):
            by_key[(level, index)] = nh
    for n in c["node_hashes"]:
        assert by_key[(n["level"], n["index"])].hex() == n["hash_hex"]
        assert [n["index"] << n["level"], (n["index"] + 1) << n["level"]] == n["covers_leaves"]
    for t in c["compact_trees"]:
        cover = merkle.perfect_cover(0, t["tree_size"])
        assert [(n["level"], n["index"]) for n in t["nodes"]] == cover
        assert [by_key[k].hex() for k in cover] == [n["hash_hex"] for n in t["nodes"]]
    hv = {v["desc"]: v for v in c["rfc6962_hasher_vectors"]}
    assert merkle.leaf_hash(b"").hex() == hv["RFC6962 Empty Leaf"]["want_hex"]
    assert merkle.leaf_hash(b"L123456").hex() == hv["RFC6962 Leaf"]["want_hex"]
    assert merkle.node_hash(b"N123", b"N456").hex() == hv["RFC6962 Node"]["want_hex"]
    assert hashlib.sha256(b"").hexdigest() == hv["RFC6962 Empty"]["want_hex"]


def test_subtree_inclusion_accumulated_vector() -> None:
    """Rolling digest over every subtree inclusion proof of a 130-leaf tree
    (draft-ietf-plants-merkle-tree-certs appendix, line format of upstream vectors_test.go)."""
    c = json.loads((TD / "rfc6962_constants.json").read_text())
    want = c["subtree_accumulated_vectors"]["digests_hex"]["TestSubtreeInclusionProofVectors"]
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(130)]
    nodes = {(0, i): h for i, h in enumerate(leaves)}
    cr = merkle.CompactRange()
    for h in leaves:
        for lv, ix, nh in cr.append(h):
            nodes[(lv, ix)] = nh

    def fetch(keys):
        return {k: nodes[k] for k in keys}

    acc = hashlib.sha256()
    for end in range(1, 131):
        for start in range(end):
            if not merkle.is_subtree_valid(start, end):
                continue
            for index in range(start, end):
                proof = merkle.subtree_inclusion_proof(index, start, end, fetch)
                acc.update((f"{index} [{start}, {end})" + "".join(" " + h.hex() for h in proof) + "\n").encode())
    assert acc.hexdigest() == want


def _cctv(name: str) -> list[dict]:
    return json.loads((CCTV / name).read_text())


def test_cctv_tree_heads() -> None:
    entries = _cctv("merkle_tree.json")
    hashes = []
    for e in entries:
        h = merkle.leaf_hash(e["leaf_data"].encode())  # leaf_data is the raw text ("a", "b", ...)
        assert h == _b(e["leaf_hash"])
        hashes.append(h)
        assert merkle.root_of(hashes) == _b(e["root_hash"])


def test_cctv_inclusion() -> None:
    for v in _cctv("inclusion-valid.json"):
        merkle.verify_inclusion(v["leaf_index"], v["tree_size"], _b(v["leaf_hash"]), _bl(v["inclusion_path"]), _b(v["root_hash"]))
    for v in _cctv("inclusion-invalid.json"):
        with pytest.raises(ProofError):
            merkle.verify_inclusion(v["leaf_index"], v["tree_size"], _b(v["leaf_hash"]), _bl(v["inclusion_path"]), _b(v["root_hash"]))


def test_cctv_consistency() -> None:
    """Policy (documented in merkle.py and the README): like transparency-dev we reject
    any proof from an empty tree, so CCTV's two size1 == 0 'valid' cases are rejected."""
    rejected_by_policy = 0
    for v in _cctv("consistency-valid.json"):
        args = (v["old_size"], v["new_size"], _bl(v["consistency_path"]), _b(v["old_root"]), _b(v["new_root"]))
        if v["old_size"] == 0:
            with pytest.raises(ProofError, match="empty tree"):
                merkle.verify_consistency(*args)
            rejected_by_policy += 1
        else:
            merkle.verify_consistency(*args)
    assert rejected_by_policy == 2
    for v in _cctv("consistency-invalid.json"):
        with pytest.raises(ProofError):
            merkle.verify_consistency(v["old_size"], v["new_size"], _bl(v["consistency_path"]), _b(v["old_root"]), _b(v["new_root"]))
