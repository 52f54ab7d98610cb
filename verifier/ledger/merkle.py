"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

Pure functions, no I/O: the storage layer hands in a ``fetch`` callable that
returns stored perfect-subtree hashes, so the same code builds proofs from
SQLite, PostgreSQL or an in-memory list.

Hashing (RFC 6962 section 2.1): leaf = SHA-256(0x00 || data),
node = SHA-256(0x01 || left || right), empty tree = SHA-256("").

**Why perfect-subtree hashes are stored.** Every node of the tree that covers a
complete, aligned block of 2^level leaves (``(level, index)`` covers leaves
``[index * 2^level, (index + 1) * 2^level)``) never changes once its last leaf is
appended, so it can be written once, in an append-only table, at append time.
Any hash a proof needs is the hash of a leaf range ``[a, b)`` that is either
one such perfect node or a range ending at the tree size (an "ephemeral" node
on the right border), which is the fold of at most log2(n) perfect nodes (its
compact range). An inclusion or consistency proof for a tree of size n
therefore needs at most about 2 * log2(n) stored hashes, fetched in one batched
query, never the whole log. The alternative (a compact range per checkpoint)
would make proofs against arbitrary historical sizes impossible without
replaying the log.

Verification follows transparency-dev/merkle ``proof/verify.go`` exactly:
``index < size``, 32-byte leaf hashes, exact proof lengths, consistency proofs
require ``0 < size1 <= size2`` (a proof from the empty tree is rejected), and
``size1 == size2`` requires an empty proof and equal roots. This module is
stricter in one respect: every proof element must be 32 bytes (roots are only
compared, as upstream does; checkpoint parsing enforces their length).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from verifier.ledger.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]  # (level, index) of a perfect subtree
Fetch = Callable[[Sequence[NodeKey]], dict[NodeKey, bytes]]


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def node_seq(level: int, index: int) -> int:
    """Position of perfect node (level, index) in the order nodes complete.

    Appending leaf e-1 completes that leaf and then its ancestors bottom-up, and
    after k leaves exactly 2k - popcount(k) nodes exist. So the sequence number
    is dense, increases with append order, and a batch of leaves [a, b) owns
    exactly the numbers [2a - popcount(a), 2b - popcount(b)): the audit can
    stream nodes in step with entries using one indexed integer key.
    """
    end = (index + 1) << level
    return 2 * (end - 1) - (end - 1).bit_count() + level


def seq_bound(size: int) -> int:
    """Number of perfect nodes (all levels, leaves included) in a tree of ``size`` leaves."""
    return 2 * size - size.bit_count()


def _largest_pow2_below(n: int) -> int:
    """Largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_cover(start: int, end: int) -> list[NodeKey]:
    """Perfect subtrees covering [start, end), left to right, each as large as alignment allows.

    For the ranges proofs use (``start`` aligned to a power of two >= the range
    length, or ``start == 0``) folding these right-to-left gives MTH(D[start:end]).
    """
    out: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        out.append((level, start >> level))
        start += 1 << level
    return out


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Hash a list of perfect-subtree hashes (largest first) into the hash of their union."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


@dataclass
class CompactRange:
    """The perfect subtrees covering [0, size): enough state to append and to compute the root.

    ``append`` returns the interior nodes (level >= 1) it completed, which is
    exactly what the store must persist for O(log n) proofs later.
    """

    size: int = 0
    nodes: list[tuple[int, bytes]] = field(default_factory=list)  # (level, hash), largest first

    @classmethod
    def from_fetch(cls, size: int, fetch: Fetch) -> CompactRange:
        keys = perfect_cover(0, size)
        got = fetch(keys)
        try:
            return cls(size=size, nodes=[(k[0], got[k]) for k in keys])
        except KeyError as exc:
            raise ProofError(f"stored tree is missing node {exc.args[0]} for size {size}") from None

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        created: list[tuple[int, int, bytes]] = []
        level, h, index = 0, leaf, self.size
        while self.nodes and self.nodes[-1][0] == level:
            _, left = self.nodes.pop()
            h = node_hash(left, h)
            level += 1
            index >>= 1
            created.append((level, index, h))
        self.nodes.append((level, h))
        self.size += 1
        return created

    def root(self) -> bytes:
        return fold_right([h for _, h in self.nodes])

    def copy(self) -> CompactRange:
        return CompactRange(self.size, list(self.nodes))


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH of a sequence of leaf hashes (reference implementation, O(n))."""
    cr = CompactRange()
    for h in leaf_hashes:
        cr.append(h)
    return cr.root()


# --- proof generation -------------------------------------------------------


def inclusion_ranges(index: int, start: int, end: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form PATH(index, D[start:end]) (RFC 6962 2.1.1), bottom-up."""
    path: list[tuple[int, int]] = []
    while end - start > 1:
        k = _largest_pow2_below(end - start)
        if index < start + k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
    path.reverse()
    return path


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form PROOF(size1, D[size2]) (RFC 6962 2.1.2), bottom-up."""
    if not 0 < size1 <= size2:
        raise ProofError(f"consistency proof needs 0 < size1 <= size2, got {size1}, {size2}")
    path: list[tuple[int, int]] = []
    start, end, whole = 0, size2, True
    while size1 - start != end - start:
        k = _largest_pow2_below(end - start)
        if size1 - start <= k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
            whole = False
    if not whole:
        path.append((start, end))
    path.reverse()
    return path


def hashes_for_ranges(ranges: Sequence[tuple[int, int]], fetch: Fetch) -> list[bytes]:
    """Hash each leaf range from stored perfect nodes with one batched ``fetch``."""
    covers = [perfect_cover(a, b) for a, b in ranges]
    wanted = sorted({k for cover in covers for k in cover})
    got = fetch(wanted)
    out = []
    for (a, b), cover in zip(ranges, covers, strict=True):
        try:
            out.append(fold_right([got[k] for k in cover]))
        except KeyError as exc:
            raise ProofError(f"stored tree is missing node {exc.args[0]} needed for [{a}, {b})") from None
    return out


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[bytes]:
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    return hashes_for_ranges(inclusion_ranges(index, 0, size), fetch)


def consistency_proof(size1: int, size2: int, fetch: Fetch) -> list[bytes]:
    if size1 == size2:
        if size1 <= 0:
            raise ProofError("consistency proof from an empty tree is meaningless")
        return []
    return hashes_for_ranges(consistency_ranges(size1, size2), fetch)


def tree_root(size: int, fetch: Fetch) -> bytes:
    """Root of the tree of ``size`` leaves from stored perfect nodes (O(log n) reads)."""
    if size == 0:
        return EMPTY_ROOT
    return hashes_for_ranges([(0, size)], fetch)[0]


def subtree_inclusion_proof(index: int, start: int, end: int, fetch: Fetch) -> list[bytes]:
    """Inclusion proof of leaf ``index`` in the valid subtree [start, end) (MTC draft)."""
    if not is_subtree_valid(start, end) or not start <= index < end:
        raise ProofError(f"index {index} / subtree [{start}, {end}) invalid")
    return hashes_for_ranges(inclusion_ranges(index, start, end), fetch)


# --- verification (transparency-dev/merkle semantics) ------------------------


def _need_hash(value: bytes, what: str) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        got = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {got}")


def _need_proof(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        _need_hash(h, f"proof[{i}]")


def _need_uint(**values: int) -> None:
    for name, v in values.items():
        if not isinstance(v, int) or v < 0:
            raise ProofError(f"{name} must be a non-negative integer, got {v!r}")


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def _decomp_incl_proof(index: int, size: int) -> tuple[int, int]:
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _match(computed: bytes, expected: bytes, what: str) -> None:
    if computed != expected:
        raise ProofError(
            f"{what}: computed root {computed.hex()} does not match expected {bytes(expected).hex()}"
        )


def is_subtree_valid(start: int, end: int) -> bool:
    """[start, end) is a subtree iff start < end and start is a multiple of 2^ceil(log2(end-start))."""
    if not (isinstance(start, int) and isinstance(end, int)) or start < 0 or start >= end:
        return False
    return start % (1 << (end - start - 1).bit_length()) == 0


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    _need_uint(index=index, size=size)
    if index >= size:
        raise ProofError(f"index is beyond size: {index} >= {size}")
    _need_hash(leaf, "leaf hash")
    _need_proof(proof)
    inner, border = _decomp_incl_proof(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {inner + border}")
    res = _chain_inner(leaf, proof[:inner], index)
    return _chain_border_right(res, proof[inner:])


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows leaf ``index`` is in the tree (size, root)."""
    _match(root_from_inclusion_proof(index, size, leaf, proof), root, "inclusion proof")


def verify_subtree_inclusion(
    index: int, start: int, end: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    _need_uint(index=index, start=start, end=end)
    if not is_subtree_valid(start, end):
        raise ProofError(f"subtree [{start}, {end}) is not valid")
    if not start <= index < end:
        raise ProofError(f"index {index} out of bounds for subtree [{start}, {end})")
    _match(root_from_inclusion_proof(index - start, end - start, leaf, proof), root, "subtree inclusion")


def root_from_consistency_proof(size1: int, size2: int, proof: Sequence[bytes], root1: bytes) -> bytes:
    _need_uint(size1=size1, size2=size2)
    _need_proof(proof)
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) < size1 ({size1})")
    if size1 == 0:
        raise ProofError("consistency proof from an empty tree is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError("size1 == size2, but proof is not empty")
        return bytes(root1)
    if not proof:
        raise ProofError("empty proof")
    return _root_from_subtree_consistency(0, size1, size2, proof, root1)


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Raise :class:`ProofError` unless the tree (size2, root2) extends (size1, root1)."""
    _match(root_from_consistency_proof(size1, size2, proof, root1), root2, "consistency proof (root2)")


def root_from_subtree_consistency_proof(
    start: int, end: int, size: int, proof: Sequence[bytes], sub_root: bytes
) -> bytes:
    _need_uint(start=start, end=end, size=size)
    _need_proof(proof)
    if not is_subtree_valid(start, end):
        raise ProofError(f"subtree [{start}, {end}) is not valid")
    if size < end:
        raise ProofError(f"size ({size}) < end ({end})")
    if start == 0 and size == end:
        if proof:
            raise ProofError("start=0 and end=size, but proof is not empty")
        return bytes(sub_root)
    if not proof:
        raise ProofError("empty proof")
    return _root_from_subtree_consistency(start, end, size, proof, sub_root)


def verify_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], sub_root: bytes, root: bytes
) -> None:
    _need_uint(start=start, end=end, size=size)
    if start == end:
        # An empty subtree is trivially contained in any tree; upstream accepts it only
        # with the empty-tree root and no proof.
        if proof:
            raise ProofError("empty subtree, but proof is not empty")
        if bytes(sub_root) != EMPTY_ROOT:
            raise ProofError("empty subtree, but its root is not the empty-tree hash")
        return
    _match(
        root_from_subtree_consistency_proof(start, end, size, proof, sub_root), root, "subtree consistency"
    )


def _root_from_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], sub_root: bytes
) -> bytes:
    if end == size:
        # The subtree sits on the right border: only left siblings above its root are needed.
        level = ((end - 1) ^ start).bit_length()
        want = (start >> level).bit_count()
        if len(proof) != want:
            raise ProofError(f"wrong proof size {len(proof)}, want {want}")
        return _chain_border_right(sub_root, proof)

    fork_level, border = _decomp_incl_proof(end - 1, size)
    shift = ((end - start) & -(end - start)).bit_length() - 1  # trailing zeros
    inner = fork_level - shift
    seed, p_start = proof[0], 1
    if end - start == 1 << shift:  # the subtree is perfect: the verifier already knows its root
        seed, p_start = sub_root, 0
    if len(proof) != p_start + inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {p_start + inner + border}")
    rest = proof[p_start:]
    mask = (end - 1) >> shift

    if p_start == 1:
        height = ((end - 1) ^ start).bit_length()
        sub_inner = min(height, fork_level) - shift
        sub_border = max(0, border - ((end - 1) >> height).bit_count())
        hash1 = _chain_inner_right(seed, rest[:sub_inner], mask)
        hash1 = _chain_border_right(hash1, rest[inner : inner + sub_border])
        _match(hash1, sub_root, "consistency proof (root1)")

    hash2 = _chain_inner(seed, rest[:inner], mask)
    return _chain_border_right(hash2, rest[inner:])
