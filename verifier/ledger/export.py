"""The whole log as one file, audited by someone who has only that file and a key.

A receipt speaks for one record, a consistency proof for one saved checkpoint.
A court, an opposing expert or a monitor may ask for everything: every record,
every checkpoint, every key change, checked independently of the operator's
database and code paths. ``export_lines`` writes the log as JSON lines (a
header with the origin and keys, the entries with their exact record bytes,
the signed checkpoints with any RFC 3161 tokens); ``audit_export`` loads such
a file into a fresh, private SQLite database and runs the same audit as
``ledger verify`` on it, trusting only the keys the auditor pins: leaves are
recomputed from the record bytes, the tree is rebuilt, every checkpoint must be
signed by the key in force at its size (key changes are followed through the
signed rotation entries) and must match the rebuilt root, and a checkpoint the
auditor saved earlier must be extended. Nothing in the file is taken on trust
but its bytes.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from verifier.config import sqlite_url
from verifier.ledger import merkle
from verifier.ledger.errors import LedgerInputError, NoteError
from verifier.ledger.note import SignedCheckpoint, VerifierKey, b64, b64decode_strict
from verifier.ledger.store import SCHEMA_VERSION, T_CP, T_ENTRY, T_KEY, T_META, T_NODE, T_TS, Store

if TYPE_CHECKING:
    from cryptography import x509

    from verifier.ledger.audit import AuditResult
    from verifier.ledger.core import Ledger

BATCH = 10_000


def export_lines(ledger: Ledger) -> Iterator[str]:
    """The log as JSON lines, each ending in a newline, read a batch at a time.

    One snapshot: the size is read first and nothing beyond it is written, so
    appends during a long export cannot leave a checkpoint that covers entries
    the file lacks (which an audit would rightly call a truncated log)."""
    size = ledger.size
    checkpoints = [cp for cp in ledger.checkpoints() if cp.size <= size]
    keys = ledger.verifier_keys()
    yield json.dumps({"type": "ledger", "origin": ledger.origin, "keys": [k.encode() for k in keys]}) + "\n"
    for e in ledger.iter_entries():
        if e.index >= size:
            break
        yield json.dumps({"type": "entry", "index": e.index, "leaf_hash": e.leaf_hash.hex(),
                          "record_b64": b64(e.record), "appended_at": e.appended_at}) + "\n"
    for cp in checkpoints:
        yield json.dumps({"type": "checkpoint", "size": cp.size, "note": cp.note,
                          "timestamp_b64": b64(cp.timestamp) if cp.timestamp else None}) + "\n"


class _ImportedLog:
    """What the audit reads of a ledger, over the private copy of an export (no signing key)."""

    def __init__(self, store: Store, origin: str) -> None:
        self.store, self.origin = store, origin

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        with self.store.read() as conn:
            return merkle.consistency_proof(size1, size2, lambda keys: self.store.fetch_nodes(conn, keys))

    def tsa_roots(self) -> list[x509.Certificate]:
        return []  # the auditor's own (--tsa-roots), never the file's


def _field(obj: dict, name: str, kind: type, line: int) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise LedgerInputError(f"export line {line}: '{name}' must be {kind.__name__}")
    return value


def _load(lines: Iterable[str], store: Store) -> str:
    """Copy the export into ``store``; return its origin. Malformed lines are input errors."""
    origin = None
    entries: list[dict] = []
    nodes: list[dict] = []
    tree = merkle.CompactRange()
    with store.write() as conn:
        store.create_schema(conn)

        def flush() -> None:
            if entries:
                conn.execute(insert(T_ENTRY), entries)
            if nodes:
                conn.execute(insert(T_NODE), nodes)
            entries.clear()
            nodes.clear()

        for n, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError as exc:
                raise LedgerInputError(f"export line {n} is not JSON: {exc}") from None
            if not isinstance(obj, dict):
                raise LedgerInputError(f"export line {n} is not a JSON object")
            kind = obj.get("type")
            if n == 1 or origin is None:
                if kind != "ledger":
                    raise LedgerInputError("not a ledger export: the first line must be the 'ledger' header")
                origin = _field(obj, "origin", str, n)
                keys = _field(obj, "keys", list, n)
                conn.execute(insert(T_META), [{"key": "origin", "value": origin},
                                              {"key": "schema_version", "value": SCHEMA_VERSION},
                                              {"key": "created_at", "value": "imported"}])
                # The header's first key is the log's claimed genesis key; later keys must come from
                # signed rotation entries in the log itself, so the header's list is not imported.
                for k in keys[:1]:
                    try:
                        vk = VerifierKey.parse(str(k))
                    except NoteError as exc:
                        raise LedgerInputError(f"export line {n}: bad verifier key: {exc}") from None
                    conn.execute(insert(T_KEY), {"key_id": vk.key_id_hex, "verifier_key": vk.encode(),
                                                 "active_from_size": 0, "rotation_index": None,
                                                 "created_at": "imported"})
            elif kind == "entry":
                index = _field(obj, "index", int, n)
                if index != tree.size:
                    raise LedgerInputError(f"export line {n}: entry {index} where entry {tree.size} was due "
                                           "(entries must be complete and in order)")
                try:
                    leaf = bytes.fromhex(_field(obj, "leaf_hash", str, n))
                    record = b64decode_strict(_field(obj, "record_b64", str, n), "record")
                except (ValueError, NoteError) as exc:
                    raise LedgerInputError(f"export line {n}: {exc}") from None
                entries.append({"idx": index, "leaf_hash": leaf, "record": record,
                                "appended_at": str(obj.get("appended_at", ""))})
                nodes += [{"seq": merkle.node_seq(lv, ix), "hash": h} for lv, ix, h in tree.append(leaf)]
                if len(entries) >= BATCH:
                    flush()
            elif kind == "checkpoint":
                flush()
                size = _field(obj, "size", int, n)
                note = _field(obj, "note", str, n)
                try:
                    root = SignedCheckpoint.parse(note).checkpoint.root_hash
                except NoteError:
                    root = bytes(32)  # the audit reports the malformed note itself
                token = obj.get("timestamp_b64")
                try:
                    conn.execute(insert(T_CP), {"size": size, "root_hash": root, "note": note, "created_at": "imported"})
                    if isinstance(token, str):
                        conn.execute(insert(T_TS), {"checkpoint_size": size, "tsa_url": "", "created_at": "imported",
                                                    "token": b64decode_strict(token, "timestamp token")})
                except IntegrityError:
                    raise LedgerInputError(f"export line {n}: a second checkpoint at size {size}") from None
                except NoteError as exc:
                    raise LedgerInputError(f"export line {n}: {exc}") from None
            else:
                raise LedgerInputError(f"export line {n}: unknown line type {kind!r}")
        flush()
    if origin is None:
        raise LedgerInputError("the export is empty")
    return origin


def audit_export(
    lines: Iterable[str], keys: Sequence[VerifierKey], *, from_checkpoint: str | None = None,
    tsa_roots: Sequence[x509.Certificate] | None = None, work_dir: Path | None = None,
) -> AuditResult:
    """Audit an export with ``keys`` pinned (at least one is required: an export is not its own trust root)."""
    from verifier.ledger.audit import audit

    if not keys:
        raise LedgerInputError("pin the ledger's key with --key: an export cannot vouch for itself")
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="ledger-export-") as tmp:
        store = Store(sqlite_url(Path(tmp) / "imported.sqlite"), sqlite_synchronous="OFF")
        try:
            origin = _load(lines, store)
            return audit(_ImportedLog(store, origin), from_checkpoint=from_checkpoint,  # type: ignore[arg-type]
                         trusted_keys=list(keys), tsa_roots=tsa_roots)
        finally:
            store.engine.dispose()
