"""Full audit of a ledger database, in the manner of a transparency-log monitor.

The audit trusts nothing stored except what a signature covers:

1. every entry index is present, dense and in order;
2. every leaf hash is recomputed from the stored record bytes;
3. the tree is rebuilt and every stored interior node is compared (proofs are
   served from those nodes, so they must be right);
4. every checkpoint's signature is checked with the key in force at its size
   (the genesis key, then keys announced by signed rotation entries), its origin
   and size are checked, and its root must equal the recomputed root;
5. successive checkpoints are linked by a consistency proof built from the
   stored nodes and verified;
6. RFC 3161 tokens are verified over their checkpoint notes;
7. optionally, a checkpoint saved earlier by someone else must be extended by
   the current log (consistency proof), else the log was forked or rewritten.

Results are values (:class:`AuditResult`), not exceptions: a failed audit is a
normal, reportable outcome. A failure whose evidence contradicts a signed
statement is flagged ``security=True`` and printed as ``SECURITY ERROR`` with
both checkpoints and the failing proof, as Go's sumdb client does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography import x509
from sqlalchemy import func, select

from verifier.ledger import merkle
from verifier.ledger.errors import LedgerError, NoteError, ProofError, TimestampError
from verifier.ledger.note import SignedCheckpoint, VerifierKey, b64
from verifier.ledger.record import ROTATION_PREFIX, parse_rotation
from verifier.ledger.store import T_CP, T_ENTRY, T_KEY, T_NODE, T_TS
from verifier.ledger.tsa import verify_timestamp

if TYPE_CHECKING:
    from verifier.ledger.core import Ledger

BATCH = 50_000  # entries per query while streaming
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class AuditProblem:
    code: str
    message: str
    details: str = ""
    security: bool = True


@dataclass
class AuditResult:
    """Outcome of :func:`audit`: ``ok`` is True only if no problem was found."""

    origin: str
    size: int = 0
    root_hash: bytes = merkle.EMPTY_ROOT
    entries_checked: int = 0
    checkpoints_checked: int = 0
    consistency_checked: int = 0
    timestamps_checked: int = 0
    problems: list[AuditProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def security_failure(self) -> bool:
        return any(p.security for p in self.problems)

    @property
    def reason(self) -> str:
        return self.problems[0].message if self.problems else "ok"

    def summary(self) -> str:
        if self.ok:
            return (
                f"ledger {self.origin}: OK, {self.size} entries, root {b64(self.root_hash)}, "
                f"{self.checkpoints_checked} checkpoints, {self.consistency_checked} consistency proofs, "
                f"{self.timestamps_checked} timestamps verified"
            )
        return f"ledger {self.origin}: FAILED: {self.reason}"


class _Stop(Exception):
    pass


def _fmt_checkpoint(label: str, text: str) -> str:
    return f"{label}:\n" + "".join(f"\t{line}\n" for line in text.rstrip("\n").split("\n"))


def _fmt_proof(proof: Sequence[bytes]) -> str:
    return "proof of misbehavior:\n" + "".join(f"\t{b64(h)}\n" for h in proof) if proof else "proof of misbehavior: (empty proof)\n"


def audit(
    ledger: Ledger,
    *,
    from_checkpoint: str | None = None,
    trusted_keys: Sequence[VerifierKey] | None = None,
    tsa_roots: Sequence[x509.Certificate] | None = None,
) -> AuditResult:
    res = AuditResult(origin=ledger.origin)
    try:
        _audit(ledger, res, from_checkpoint, trusted_keys, tsa_roots)
    except _Stop:
        pass
    except LedgerError as exc:
        res.problems.append(AuditProblem("error", f"audit could not complete: {exc}", security=False))
    return res


def _add(res: AuditResult, code: str, message: str, details: str = "", security: bool = True) -> None:
    res.problems.append(AuditProblem(code, message, details, security))
    if len(res.problems) >= MAX_PROBLEMS:
        raise _Stop


def _audit(
    ledger: Ledger,
    res: AuditResult,
    from_checkpoint: str | None,
    trusted_keys: Sequence[VerifierKey] | None,
    tsa_roots: Sequence[x509.Certificate] | None,
) -> None:
    store, origin = ledger.store, ledger.origin
    with store.read() as conn:
        key_rows = conn.execute(
            select(T_KEY.c.key_id, T_KEY.c.verifier_key, T_KEY.c.active_from_size, T_KEY.c.rotation_index)
        ).all()
        cp_rows = conn.execute(select(T_CP.c.size, T_CP.c.root_hash, T_CP.c.note).order_by(T_CP.c.size)).all()
        ts_rows = {int(s): bytes(t) for s, t in conn.execute(select(T_TS.c.checkpoint_size, T_TS.c.token))}
        stray = conn.execute(select(func.count()).select_from(T_ENTRY).where(T_ENTRY.c.idx < 0)).scalar_one()
    if stray:
        _add(res, "entry-stray", f"{stray} row(s) stored under negative indexes: rows were added outside the log")

    # -- key schedule: genesis key, then signed rotation entries --------------
    # Only one key may enter the schedule without a signed rotation entry: the genesis key.
    # With --key pinned it is the pinned key and nothing else (a key found in the database or
    # an export's header is the log's claim about itself, not a trust anchor).
    table_genesis = [VerifierKey.parse(r[1]) for r in key_rows if r[3] is None]
    if len(table_genesis) > 1:
        _add(res, "key-table",
             f"the key table holds {len(table_genesis)} keys that no rotation entry announces "
             f"({', '.join(k.key_id_hex for k in table_genesis)}): a log has one genesis key, and any other "
             "key must be announced by a signed rotation entry; keys were added behind the log's back")
    genesis = table_genesis[:1]
    if trusted_keys:
        named = [k for k in trusted_keys if k.name == origin]
        if not named:
            _add(res, "key-unknown",
                 f"none of the pinned --key keys is a key of log {origin!r} (they name "
                 f"{', '.join(sorted({k.name for k in trusted_keys}))}): this is not the log you pinned")
            raise _Stop
        matching = [k for k in named if any(k.key_id == g.key_id for g in genesis)]
        if genesis and not matching:
            _add(res, "key-unknown",
                 f"the log's genesis key is {genesis[0].key_id_hex}, not a pinned --key key "
                 f"({', '.join(k.key_id_hex for k in named)}): pin the log's first key (later ones are followed "
                 "through its signed rotation entries)")
        genesis = matching or named[:1]
    elif genesis:
        res.warnings.append(
            f"genesis key {genesis[0].key_id_hex} taken from the database (trust on first use); "
            "pass --key to pin the key you expect"
        )
    if not genesis:
        _add(res, "key-missing", "the ledger has no genesis signing key")
    schedule: list[tuple[int, VerifierKey]] = [(0, genesis[0])] if genesis else []
    rotations_seen: dict[int, VerifierKey] = {}

    # -- stream entries and nodes, rebuild the tree ---------------------------
    cps = [(int(s), bytes(r), str(n)) for s, r, n in cp_rows]
    cp_sizes = {s for s, _, _ in cps}
    roots_at: dict[int, bytes] = {}
    cr = merkle.CompactRange()
    if 0 in cp_sizes:
        roots_at[0] = merkle.EMPTY_ROOT
    expected = 0
    while True:
        with store.read() as conn:
            rows = conn.execute(
                select(T_ENTRY.c.idx, T_ENTRY.c.leaf_hash, T_ENTRY.c.record)
                .where(T_ENTRY.c.idx >= expected)
                .order_by(T_ENTRY.c.idx)
                .limit(BATCH)
            ).all()
            if rows:
                last = int(rows[-1][0])
                lo, hi = merkle.seq_bound(expected), merkle.seq_bound(last + 1)
                nodes = {
                    int(s): bytes(h)
                    for s, h in conn.execute(
                        select(T_NODE.c.seq, T_NODE.c.hash).where(T_NODE.c.seq >= lo, T_NODE.c.seq < hi)
                    )
                }
        if not rows:
            break
        for idx_, stored_leaf, record in rows:
            idx = int(idx_)
            if idx != expected:
                _add(
                    res, "entry-missing",
                    f"entry {expected} is missing (next stored entry is {idx}): rows were deleted from the log",
                )
                raise _Stop
            record = bytes(record)
            leaf = merkle.leaf_hash(record)
            if leaf != bytes(stored_leaf):
                _add(
                    res, "leaf-mismatch",
                    f"entry {idx}: stored record does not hash to its stored leaf hash (record edited)",
                    f"stored leaf {bytes(stored_leaf).hex()}\ncomputed   {leaf.hex()}\n",
                )
            if record.startswith(ROTATION_PREFIX):
                try:
                    rot = parse_rotation(record, origin)
                except LedgerError as exc:
                    _add(res, "rotation-invalid", f"entry {idx}: invalid key-rotation entry: {exc}")
                else:
                    current = schedule[-1][1] if schedule else None
                    if current is not None and rot.previous.key_id != current.key_id:
                        _add(res, "rotation-invalid",
                             f"entry {idx}: key rotation from {rot.previous.key_id_hex}, but the key in force is {current.key_id_hex}")
                    schedule.append((idx + 1, rot.new))
                    rotations_seen[idx] = rot.new
            for level, index, h in cr.append(leaf):
                seq = merkle.node_seq(level, index)
                got = nodes.get(seq)
                if got != h:
                    what = "missing" if got is None else "wrong"
                    _add(res, "node-mismatch",
                         f"stored tree node (level {level}, index {index}) is {what}: proofs served from it would be false")
            expected = idx + 1
            res.entries_checked += 1
            if expected in cp_sizes:
                roots_at[expected] = cr.root()
        if len(rows) < BATCH:
            break
    n = cr.size
    res.size, res.root_hash = n, cr.root()

    # -- key table must match the rotation entries ---------------------------
    for key_id, vk_text, active_from, rot_idx in key_rows:
        if rot_idx is None:
            continue
        announced = rotations_seen.get(int(rot_idx))
        if announced is None or announced.key_id_hex != key_id or int(active_from) != int(rot_idx) + 1:
            _add(res, "key-table", f"key {key_id} in the key table is not announced by a valid rotation entry at {rot_idx}")

    # -- checkpoints ----------------------------------------------------------
    def key_at(size: int) -> VerifierKey | None:
        k = None
        for start, vk in schedule:
            if start <= size:
                k = vk
        return k

    all_keys = [vk for _, vk in schedule]
    prev: tuple[int, bytes, str] | None = None
    for size, root, note_text in cps:
        try:
            signed = SignedCheckpoint.parse(note_text)
        except NoteError as exc:
            _add(res, "checkpoint-malformed", f"checkpoint at size {size} is malformed: {exc}")
            continue
        key = key_at(size)
        try:
            if key is None:
                raise NoteError("no signing key in force")
            signed.verify([key], origin=origin)
        except NoteError as exc:
            _add(res, "checkpoint-signature",
                 f"checkpoint at size {size}: signature does not verify with the key in force ({exc})",
                 _fmt_checkpoint("checkpoint", note_text))
            continue
        cp = signed.checkpoint
        if cp.size != size or cp.root_hash != root:
            _add(res, "checkpoint-row", f"checkpoint at size {size}: signed body does not match its table row")
        if size > n:
            _add(res, "truncated",
                 f"checkpoint at size {size} but the log has only {n} entries: the log was truncated or rolled back",
                 _fmt_checkpoint("signed checkpoint", note_text))
            continue
        want = roots_at.get(size)
        if want is not None and want != cp.root_hash:
            _add(res, "root-mismatch",
                 f"recomputed root at size {size} differs from the signed checkpoint: entries were altered, swapped or rewritten",
                 _fmt_checkpoint("signed checkpoint", note_text) + f"recomputed root:\n\t{b64(want)}\n")
            continue
        res.checkpoints_checked += 1
        if prev is not None and prev[0] > 0:
            _check_consistency(ledger, res, prev, (size, cp.root_hash, note_text))
        prev = (size, cp.root_hash, note_text)
        token = ts_rows.get(size)
        if token is not None:
            _check_timestamp(ledger, res, size, token, note_text, tsa_roots)

    # -- timestamps expected but absent -------------------------------------------
    untimed = [size for size, _, _ in cps if size not in ts_rows]
    if untimed and (ts_rows or ledger.tsa_roots()):
        res.warnings.append(
            f"{len(untimed)} of {len(cps)} checkpoints have no RFC 3161 timestamp token although this log is "
            f"timestamped (first: size {untimed[0]}): the TSA was unreachable then, or tokens were deleted")

    # -- what no signature covers --------------------------------------------------
    covered = prev[0] if prev is not None else 0
    if n and prev is None:
        _add(res, "unsigned",
             f"the log has {n} entries and no checkpoint signed with its key: nothing vouches for any of them "
             "(checkpoints deleted, or never signed: `verifier ledger checkpoint` signs one)", security=False)
    elif covered < n:
        res.warnings.append(
            f"entries {covered}..{n - 1} are not covered by a signed checkpoint: nothing vouches for them yet "
            "(appended with lazy checkpointing, or added by someone without the key; the ledger's signer "
            "refuses to sign over rows its writers did not leave)")

    # -- a checkpoint someone saved earlier -----------------------------------
    if from_checkpoint is not None:
        _check_saved(ledger, res, from_checkpoint, all_keys, n, cps, trusted_keys)


def _check_consistency(ledger: Ledger, res: AuditResult, old: tuple[int, bytes, str], new: tuple[int, bytes, str]) -> None:
    proof: list[bytes] = []
    try:
        proof = ledger.consistency_proof(old[0], new[0])
        merkle.verify_consistency(old[0], new[0], proof, old[1], new[1])
    except ProofError as exc:
        _add(res, "consistency",
             f"checkpoints at sizes {old[0]} and {new[0]} are not consistent: {exc}",
             _fmt_checkpoint("old checkpoint", old[2]) + _fmt_checkpoint("new checkpoint", new[2]) + _fmt_proof(proof))
        return
    res.consistency_checked += 1


def _check_timestamp(
    ledger: Ledger, res: AuditResult, size: int, token: bytes, note_text: str,
    tsa_roots: Sequence[x509.Certificate] | None,
) -> None:
    roots = list(tsa_roots or []) + ledger.tsa_roots()
    if not roots:
        res.warnings.append(f"checkpoint {size}: timestamp token present but no TSA trust roots to verify it")
        return
    try:
        verify_timestamp(token, note_text.encode("utf-8"), roots)
    except TimestampError as exc:
        _add(res, "timestamp", f"timestamp token for checkpoint at size {size} does not verify: {exc}")
        return
    res.timestamps_checked += 1


def _check_saved(
    ledger: Ledger, res: AuditResult, text: str, keys: list[VerifierKey], n: int,
    cps: list[tuple[int, bytes, str]], trusted_keys: Sequence[VerifierKey] | None,
) -> None:
    try:
        saved = SignedCheckpoint.parse(text)
        saved.verify(list(trusted_keys or []) + keys, origin=ledger.origin)
    except NoteError as exc:
        _add(res, "saved-checkpoint", f"the given checkpoint does not verify for this log: {exc}", security=False)
        return
    old = saved.checkpoint
    latest = cps[-1] if cps else None
    new_text = latest[2] if latest else f"(unsigned current tree)\n{n}\n{b64(res.root_hash)}\n"
    if old.size > n:
        _add(res, "fork",
             f"the given checkpoint has size {old.size} but the log has only {n} entries: the log was truncated or rolled back",
             _fmt_checkpoint("given checkpoint", saved.text) + _fmt_checkpoint("current checkpoint", new_text))
        return
    proof: list[bytes] = []
    try:
        if old.size == 0:
            if old.root_hash != merkle.EMPTY_ROOT:
                raise ProofError("size-0 checkpoint with a non-empty root")
        else:
            proof = ledger.consistency_proof(old.size, n)
            merkle.verify_consistency(old.size, n, proof, old.root_hash, res.root_hash)
    except ProofError as exc:
        _add(res, "fork",
             f"the current log does not extend the given checkpoint (size {old.size}): the log was forked or rewritten ({exc})",
             _fmt_checkpoint("given checkpoint", saved.text) + _fmt_checkpoint("current checkpoint", new_text) + _fmt_proof(proof))
