"""Property tests: every generated proof verifies; every mutated proof fails."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.ledger import merkle
from verifier.ledger.errors import ProofError


def _tree(n: int) -> tuple[list[bytes], merkle.Fetch]:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    nodes = {(0, i): h for i, h in enumerate(leaves)}
    cr = merkle.CompactRange()
    for h in leaves:
        for lv, ix, nh in cr.append(h):
            nodes[(lv, ix)] = nh
    return leaves, lambda keys: {k: nodes[k] for k in keys}


def _flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 300), data=st.data())
def test_inclusion_proofs(n: int, data: st.DataObject) -> None:
    leaves, fetch = _tree(n)
    root = merkle.root_of(leaves)
    assert merkle.tree_root(n, fetch) == root
    i = data.draw(st.integers(0, n - 1))
    proof = merkle.inclusion_proof(i, n, fetch)
    merkle.verify_inclusion(i, n, leaves[i], proof, root)
    # mutations: every bit-flip of any proof element, leaf, index, size, truncation, extension
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[k] = _flip(bad[k], data.draw(st.integers(0, 255)))
        with pytest.raises(ProofError):
            merkle.verify_inclusion(i, n, leaves[i], bad, root)
        with pytest.raises(ProofError):
            merkle.verify_inclusion(i, n, leaves[i], proof[:-1], root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(i, n, leaves[i], [*proof, root], root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(i, n, _flip(leaves[i], 3), proof, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(i, n, leaves[i], proof, _flip(root, 0))
    other = data.draw(st.integers(0, n))  # n itself is out of range
    if other != i:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(other, n, leaves[i], proof, root)
    # (A different claimed size is not a "mutated proof": RFC 6962 roots do not commit to
    # the size, e.g. PATH(0, D[3]) also verifies as size 4. The signed checkpoint binds it.)


@settings(max_examples=150, deadline=None)
@given(n2=st.integers(1, 300), data=st.data())
def test_consistency_proofs(n2: int, data: st.DataObject) -> None:
    leaves, fetch = _tree(n2)
    n1 = data.draw(st.integers(1, n2))
    r1, r2 = merkle.root_of(leaves[:n1]), merkle.root_of(leaves)
    proof = merkle.consistency_proof(n1, n2, fetch)
    merkle.verify_consistency(n1, n2, proof, r1, r2)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[k] = _flip(bad[k], data.draw(st.integers(0, 255)))
        with pytest.raises(ProofError):
            merkle.verify_consistency(n1, n2, bad, r1, r2)
        with pytest.raises(ProofError):
            merkle.verify_consistency(n1, n2, proof[:-1], r1, r2)
    with pytest.raises(ProofError):
        merkle.verify_consistency(n1, n2, [*proof, r1], r1, r2)
    with pytest.raises(ProofError):
        merkle.verify_consistency(n1, n2, proof, _flip(r1, 1), r2)
    with pytest.raises(ProofError):
        merkle.verify_consistency(n1, n2, proof, r1, _flip(r2, 1))
    if n1 > 1:
        with pytest.raises(ProofError):
            merkle.verify_consistency(n1 - 1, n2, proof, merkle.root_of(leaves[: n1 - 1]), r2)
    with pytest.raises(ProofError):
        merkle.verify_consistency(0, n2, proof, merkle.EMPTY_ROOT, r2)


def test_node_seq_is_dense_in_append_order() -> None:
    seen = []
    cr = merkle.CompactRange()
    for i in range(1000):
        seen.append(merkle.node_seq(0, i))
        for lv, ix, _ in cr.append(merkle.leaf_hash(bytes([i % 256]))):
            seen.append(merkle.node_seq(lv, ix))
        assert len(seen) == merkle.seq_bound(i + 1)
    assert seen == list(range(len(seen)))
