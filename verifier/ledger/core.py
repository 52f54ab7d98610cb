"""The :class:`Ledger`: append verdict records, sign checkpoints, hand out receipts.

One writer at a time per database (see :mod:`verifier.ledger.store`); any
number of processes may hold a ``Ledger`` on the same database. Reads never
take the writer lock: every stored row is immutable, so reading "the tree of
size n" is consistent as long as it is bounded by n.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, make_url

from verifier.config import Settings
from verifier.ledger import keys as keyfile
from verifier.ledger import merkle
from verifier.ledger.errors import (
    LedgerError,
    LedgerInputError,
    LedgerKeyError,
    LedgerStorageError,
    NoteError,
    SecurityError,
    TimestampError,
)
from verifier.ledger.note import Checkpoint, NoteSigner, SignedCheckpoint, VerifierKey, b64, sign_checkpoint
from verifier.ledger.receipt import build_receipt
from verifier.ledger.record import build_rotation_record, canonicalize, is_reserved, parse_rotation
from verifier.ledger.store import SCHEMA_VERSION, T_CP, T_ENTRY, T_KEY, T_META, T_NODE, T_TS, Store
from verifier.ledger.tsa import request_timestamp

log = logging.getLogger(__name__)
HEAD_BYTES = 512  # the tree-head note beside the key, rewritten in place

TSA_URL_ENV = "VERIFIER_LEDGER_TSA_URL"
TSA_ROOTS_ENV = "VERIFIER_LEDGER_TSA_ROOTS"


def default_origin() -> str:
    host = socket.gethostname().split(".")[0] or "localhost"
    host = "".join(c if c.isalnum() or c in "-_." else "-" for c in host)
    return f"av-verifier/{host}/ledger"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AppendedEntry:
    """What ``append`` returns. ``receipt``/``checkpoint`` are "" when batching
    (``checkpoint_every > 1``) left this entry without a checkpoint yet; call
    :meth:`Ledger.receipt` after the next checkpoint."""

    index: int
    leaf_hash: str
    receipt: str
    checkpoint: str
    timestamp_error: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class EntryView:
    index: int
    leaf_hash: bytes
    record: bytes
    appended_at: str


@dataclass(frozen=True)
class CheckpointView:
    size: int
    root_hash: bytes
    note: str
    created_at: str
    timestamp: bytes | None = None


def _require_existing(url: str) -> Store:
    """A read-only store on the ledger at ``url``; LedgerInputError when there is none (nothing is created)."""
    db = make_url(url).database if url.startswith("sqlite:") else None
    if db and not Path(db).is_file():
        raise LedgerInputError(f"no ledger at {db}: nothing to read (wrong --data-dir or --db?)")
    store = Store(url, readonly=True)
    if not store.initialized():
        store.engine.dispose()
        raise LedgerInputError(f"no ledger in {url}: nothing to read (wrong --data-dir or --db?)")
    return store


class Ledger:
    """A signed, append-only Merkle log of canonical JSON records."""

    def __init__(
        self,
        store: Store,
        origin: str,
        signer: NoteSigner | None,
        key_path: Path,
        *,
        checkpoint_every: int,
        tsa_url: str | None,
        passphrase: bytes | None,
    ) -> None:
        self._store = store
        self._origin = origin
        self._signer = signer
        self._key_path = key_path
        self._passphrase = passphrase
        self.checkpoint_every = checkpoint_every
        self.tsa_url = tsa_url
        self._frontier: merkle.CompactRange | None = None  # cache of the tree edge we last wrote
        self._head_fd: int | None = None

    # -- opening ------------------------------------------------------------

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        checkpoint_every: int = 1,
        tsa_url: str | None = None,
        tsa_roots: Path | Sequence[x509.Certificate] | None = None,
        passphrase: bytes | None = None,
        origin: str | None = None,
        sqlite_synchronous: str = "FULL",
        readonly: bool = False,
        create: bool = True,
    ) -> Ledger:
        """Open (creating on first use) the ledger database and signing key named by ``settings``.

        ``origin`` only matters when the ledger is created; afterwards the stored one wins.
        ``readonly`` opens an existing ledger without its private key and creates nothing: what
        an auditor, an export or a proof needs (the key's holder need not hand it over, and a
        lost key must not make the log unreadable). ``create=False`` opens with the key but
        refuses to start a new ledger (a run that records nothing must not leave one behind).
        """
        if checkpoint_every < 0:
            raise LedgerInputError("checkpoint_every must be >= 1 (or 0 for on-demand checkpoints only)")
        if readonly:
            return cls._open_readonly(settings)
        if not create:
            _require_existing(settings.ledger_db_url).engine.dispose()
        store = Store(settings.ledger_db_url, sqlite_synchronous=sqlite_synchronous)
        passphrase = passphrase if passphrase is not None else keyfile.env_passphrase()
        key_path = settings.ledger_key_path
        tsa_url = tsa_url or os.environ.get(TSA_URL_ENV) or None
        if tsa_roots is None and os.environ.get(TSA_ROOTS_ENV):
            tsa_roots = Path(os.environ[TSA_ROOTS_ENV])
        if not store.initialized():
            cls._initialize(store, origin or default_origin(), key_path, passphrase)
        with keyfile.key_lock(key_path, exclusive=False):  # no rotation half-way through while we look
            with store.read() as conn:
                meta = store.meta(conn)
                current = _current_key(conn)
            if meta.get("schema_version") != SCHEMA_VERSION:
                raise LedgerStorageError(f"ledger schema version {meta.get('schema_version')!r} is not supported")
            origin_ = meta["origin"]
            kf = _load_current_key(key_path, passphrase, current, origin_)
        led = cls(
            store, origin_, kf.signer(origin_), key_path,
            checkpoint_every=checkpoint_every, tsa_url=tsa_url, passphrase=passphrase,
        )
        if tsa_roots is not None:
            led.add_tsa_roots(tsa_roots)
        return led

    @classmethod
    def _open_readonly(cls, settings: Settings) -> Ledger:
        store = _require_existing(settings.ledger_db_url)
        with store.read() as conn:
            meta = store.meta(conn)
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise LedgerStorageError(f"ledger schema version {meta.get('schema_version')!r} is not supported")
        return cls(store, meta["origin"], None, settings.ledger_key_path, checkpoint_every=0, tsa_url=None,
                   passphrase=None)

    @property
    def can_sign(self) -> bool:
        """Opened with its private key (whose public key the log's key chain must end with)."""
        return self._signer is not None

    def noted_size(self) -> int:
        """The size this host's writers last committed, from the note beside the key (0 without one)."""
        return self._noted_size()

    def _need_signer(self) -> NoteSigner:
        if self._signer is None:
            raise LedgerInputError("this ledger was opened read-only, without its signing key: it cannot append or sign")
        return self._signer

    @staticmethod
    def _initialize(store: Store, origin: str, key_path: Path, passphrase: bytes | None) -> None:
        kf, _ = keyfile.load_or_create_key(key_path, passphrase)
        signer = kf.signer(origin)
        with store.write() as conn:
            store.create_schema(conn)
            if "origin" in store.meta(conn):
                return  # another process initialised it while we waited for the lock
            now = _now()
            conn.execute(
                insert(T_META),
                [
                    {"key": "origin", "value": origin},
                    {"key": "schema_version", "value": SCHEMA_VERSION},
                    {"key": "created_at", "value": now},
                ],
            )
            vk = signer.verifier_key
            conn.execute(
                insert(T_KEY),
                {"key_id": vk.key_id_hex, "verifier_key": vk.encode(), "active_from_size": 0,
                 "rotation_index": None, "created_at": now},
            )

    # -- properties ---------------------------------------------------------

    @property
    def origin(self) -> str:
        return self._origin

    @property
    def store(self) -> Store:
        return self._store

    @property
    def verifier_key(self) -> VerifierKey:
        """The key signing now (read-only: the latest key the log itself announces)."""
        return self._signer.verifier_key if self._signer is not None else self.verifier_keys()[-1]

    @property
    def size(self) -> int:
        with self._store.read() as conn:
            return self._store.size(conn)

    def verifier_keys(self) -> list[VerifierKey]:
        """Every key this log has used, oldest first: the genesis key, then each key a signed
        rotation entry announces. These are published (receipts, bundles, GET /v1/ledger/keys),
        so a row added to the key table behind the log's back must not slip in with them."""
        with self._store.read() as conn:
            rows = conn.execute(select(T_KEY.c.verifier_key, T_KEY.c.rotation_index)
                                .order_by(T_KEY.c.active_from_size)).all()
            genesis = [VerifierKey.parse(r[0]) for r in rows if r[1] is None]
            if len(genesis) != 1:
                raise LedgerStorageError(f"the ledger's key table holds {len(genesis)} keys that no rotation entry "
                                         "announces (one genesis key expected): run `verifier ledger verify`")
            keys = genesis
            for text_, rot_index in rows:
                if rot_index is None:
                    continue
                rec = conn.execute(select(T_ENTRY.c.record).where(T_ENTRY.c.idx == int(rot_index))).first()
                try:
                    announced = parse_rotation(bytes(rec[0]), self._origin).new if rec else None
                except LedgerError:
                    announced = None
                if announced is None or announced.encode() != text_:
                    raise LedgerStorageError(f"the key table's key from entry {rot_index} is not the one that "
                                             "entry's signed rotation announces: run `verifier ledger verify`")
                keys.append(announced)
        return keys

    # -- appending ----------------------------------------------------------

    def append(self, record: Mapping[str, Any]) -> AppendedEntry:
        """Canonicalise ``record`` (RFC 8785), append it, checkpoint if due, return its receipt."""
        return self.append_many([record], _single=True)[0]

    def append_many(
        self, records: Iterable[Mapping[str, Any]], *, receipts: bool = True, _single: bool = False
    ) -> list[AppendedEntry]:
        """Append several records in one transaction, then one checkpoint covering all of them
        (unless ``checkpoint_every == 0``). The batching path for throughput."""
        self._need_signer()
        raws = []
        for rec in records:
            if isinstance(rec, Mapping) and is_reserved(rec):
                raise LedgerInputError("records of kind 'av-verifier/ledger-key-rotation@1' are reserved for the ledger")
            raws.append(canonicalize(rec))
        if not raws:
            return []
        try:
            return self._append_raw(
                raws, force_checkpoint=not _single and self.checkpoint_every != 0, receipts=receipts
            )
        except LedgerError:
            raise
        except Exception as exc:  # database driver errors not mapped by the store
            raise LedgerStorageError(f"append failed: {exc}") from exc

    def _append_raw(
        self, raws: Sequence[bytes], *, force_checkpoint: bool, receipts: bool = True,
        extra_signers: Sequence[NoteSigner] = (),
    ) -> list[AppendedEntry]:
        leaves = [merkle.leaf_hash(r) for r in raws]
        now = _now()
        signed: SignedCheckpoint | None = None
        with keyfile.key_lock(self._key_path, exclusive=False), self._store.write() as conn:
            size = self._store.size(conn)
            cr = self._frontier if self._frontier is not None and self._frontier.size == size else None
            if cr is None:  # extending a tree read from the database: make sure it is one we signed
                cr = merkle.CompactRange.from_fetch(size, lambda keys: self._store.fetch_nodes(conn, keys))
                self._guard_tree(conn, size, cr.root())
            else:  # the tree this process wrote, unless the database was rolled back to its size since
                self._guard_head(size, cr.root())
            cr = cr.copy()
            old_root = cr.root()
            first = size
            entries, nodes = [], []
            for i, (raw, lh) in enumerate(zip(raws, leaves, strict=True)):
                entries.append({"idx": first + i, "leaf_hash": lh, "record": raw, "appended_at": now})
                for level, index, h in cr.append(lh):
                    nodes.append({"seq": merkle.node_seq(level, index), "hash": h})
            conn.execute(insert(T_ENTRY), entries)
            if nodes:
                conn.execute(insert(T_NODE), nodes)
            new_size = cr.size
            due = self.checkpoint_every > 0 and (
                force_checkpoint
                or any((first + i + 1) % self.checkpoint_every == 0 for i in range(len(raws)))
            )
            if due:
                signed = self._write_checkpoint(conn, new_size, cr.root(), extra_signers)
            pending = self._head_pending((size, old_root), (new_size, cr.root()))
        self._head_committed(pending)
        self._frontier = cr
        ts_error = self._timestamp(signed) if signed is not None else None
        out = []
        for i, lh in enumerate(leaves):
            idx = first + i
            receipt = cp_text = ""
            if signed is not None:
                receipt = self._receipt_for(idx, raws[i], signed) if receipts else ""
                cp_text = signed.text
            out.append(AppendedEntry(idx, lh.hex(), receipt, cp_text, ts_error))
        return out

    # -- the signer's guard ------------------------------------------------------

    @property
    def _head_path(self) -> Path:
        return self._key_path.with_name(self._key_path.name + ".head")

    def _head(self) -> int:
        """The note's file, opened once (read and rewritten in place on every write)."""
        if self._head_fd is None:
            self._head_fd = os.open(self._head_path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._head_fd

    def _read_head(self) -> dict[str, Any] | None:
        try:
            head = json.loads(os.pread(self._head(), HEAD_BYTES, 0).rstrip(b" \0") or b"null")
        except (OSError, ValueError):
            return None
        return head if isinstance(head, dict) and head.get("origin") == self._origin else None

    @staticmethod
    def _tree(size: int, root: bytes) -> dict[str, Any]:
        return {"size": size, "root": b64(root)}

    def _write_head(self, update: Callable[[dict[str, Any] | None], dict[str, Any] | None]) -> None:
        """Read-modify-write the head note beside the key under its own lock (a writer's note
        after its commit may race the next writer's note before its commit). Not fsync'd: that
        halved lazily checkpointed appends (1,430 -> 721/s). A note a power cut loses is older,
        not wrong: the signed checkpoints still vouch, and entries only the note vouched for are
        re-anchored by `ledger checkpoint --adopt`, which signs nothing but an extension of it."""
        try:
            fd = self._head()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                new = update(self._read_head())
                if new is not None:
                    os.pwrite(fd, json.dumps({"origin": self._origin, **new}).encode().ljust(HEAD_BYTES), 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            log.warning("ledger: cannot record the tree head beside the key (%s): %s", self._head_path, exc)

    def _head_pending(self, found: tuple[int, bytes], leaves: tuple[int, bytes]) -> dict[str, Any]:
        """Before the commit: the tree this write found (now vouched for) and the one it leaves,
        should the commit land but the note after it not."""
        pending = self._tree(*leaves)

        def note(head: dict[str, Any] | None) -> dict[str, Any]:
            committed = self._tree(*found)
            noted = (head or {}).get("committed") or {}
            if int(noted.get("size") or 0) > found[0]:  # never lower the floor (the guard refused that already)
                committed = noted
            return {"committed": committed, "pending": pending}

        self._write_head(note)
        return pending

    def _head_committed(self, pending: dict[str, Any]) -> None:
        """After the commit: the tree left is now the committed one, unless another writer has
        noted a later tree since (then its note stands)."""
        self._write_head(lambda head: {"committed": pending, "pending": None}
                         if head is not None and head.get("pending") == pending else None)

    def _noted_size(self) -> int:
        head = self._read_head()
        return int(((head or {}).get("committed") or {}).get("size") or 0)

    def _guard_head(self, size: int, root: bytes) -> bool:
        """What the note beside the key says of the tree at ``size``: raise if it is smaller than
        the last committed one (a roll-back) or another tree of the same size; True if it is the
        committed or pending tree noted there."""
        head = self._read_head()
        if head is None:
            return False
        here = self._tree(size, root)
        committed = head.get("committed") or {}
        if here in (committed, head.get("pending")):
            return True
        noted = int(committed.get("size") or 0)
        if size < noted:
            raise SecurityError(
                f"the ledger database holds {size} entries, but this key's writers left it at {noted} (noted in "
                f"{self._head_path}): the log was truncated or rolled back; refusing to sign. Run `verifier "
                "ledger verify` and restore the database")
        if size == noted:
            raise SecurityError(
                f"the ledger database's tree at size {size} is not the one this key's writers left there (noted "
                f"in {self._head_path}): it was rolled back and rewritten; refusing to sign. Run `verifier ledger "
                "verify` and restore the database")
        return False

    def _guard_tree(self, conn: Connection, size: int, root: bytes, signer: NoteSigner | None = None) -> None:
        """Refuse to extend (and so sign) a tree this key's writers did not leave behind.

        The database may be writable by people who do not hold the key (a DBA, a backup
        restore, an intruder). Appending and signing over whatever it holds would launder
        their rows: an entry inserted at the end, or a history rewritten with its checkpoints
        deleted, would come out signed by the operator's own key. So a write goes ahead only if
        the tree it extends is (a) the one the latest checkpoint signed with this key, at this
        very size, or (b) the one this key's writers last left (the head note beside the key:
        lazy checkpointing), and never one smaller than the last committed one (a roll-back,
        even by a single write).
        """
        if signer is None:
            self._ensure_current_key(conn)
            signer = self._signer
        row = conn.execute(select(T_CP.c.size, T_CP.c.note).order_by(T_CP.c.size.desc()).limit(1)).first()
        if row is not None and int(row[0]) > size:
            raise SecurityError(
                f"the ledger database holds {size} entries but a checkpoint row for size {row[0]}: entries were "
                "removed, or a checkpoint was planted; refusing to sign. Run `verifier ledger verify`")
        if self._guard_head(size, root):
            return
        if size == 0 and not self._noted_size():
            return
        if row is not None and int(row[0]) == size:
            try:
                signed = SignedCheckpoint.parse(str(row[1]))
                signed.verify([signer.verifier_key], origin=self._origin)
                if signed.checkpoint.size == size and signed.checkpoint.root_hash == root:
                    return
            except NoteError:
                pass
        covered = int(row[0]) if row is not None else 0
        adopt = (" (if the audit passes and the unsigned rows are this ledger's own, lost from the note beside "
                 "the key by a crash: `verifier ledger checkpoint --adopt`)") if self._extends_note(conn) else ""
        raise SecurityError(
            f"the ledger database holds {size} entries, but the latest checkpoint signed with this ledger's key "
            f"does not vouch for that tree (it covers {covered}): rows were added or rewritten by someone without "
            "the key, and signing now would vouch for them. Refusing to append or sign; run `verifier ledger "
            f"verify`, and restore the database from a copy that passes{adopt}")

    def _extends_note(self, conn: Connection) -> bool:
        """Whether the stored tree extends the one the note beside the key says was committed
        (trivially, when there is no note): the only rows ``--adopt`` may sign."""
        head = self._read_head()
        committed = (head or {}).get("committed") or {}
        noted = int(committed.get("size") or 0)
        if not noted:
            return True
        if self._store.size(conn) < noted:
            return False
        return b64(merkle.tree_root(noted, lambda keys: self._store.fetch_nodes(conn, keys))) == committed.get("root")

    def _write_checkpoint(
        self, conn: Connection, size: int, root: bytes, extra_signers: Sequence[NoteSigner] = ()
    ) -> SignedCheckpoint:
        self._ensure_current_key(conn)
        signed = sign_checkpoint(Checkpoint(self._origin, size, root), [self._signer, *extra_signers])
        conn.execute(
            insert(T_CP), {"size": size, "root_hash": root, "note": signed.text, "created_at": _now()}
        )
        return signed

    def _ensure_current_key(self, conn: Connection) -> None:
        """Another process may have rotated the key: never sign with a retired key."""
        current = _current_key(conn)
        if current is not None and current != self._signer.verifier_key.key_id_hex:
            kf = _load_current_key(self._key_path, self._passphrase, current, self._origin)
            self._signer = kf.signer(self._origin)

    def checkpoint(self, *, adopt: bool = False) -> str:
        """Sign a checkpoint for the current size now (on demand); return it.

        If the current size already has a checkpoint, that one is returned. ``adopt`` signs
        entries that no checkpoint and no head note vouch for (lazy checkpointing whose note a
        crash lost), after a full audit finds nothing contradicting a signature: an operator's
        deliberate statement that those rows are the ledger's own.
        """
        self._need_signer()
        if adopt:
            res = self.verify()
            if res.security_failure:
                raise SecurityError(f"not adopting: the audit failed ({res.reason}); run `verifier ledger verify`")
        signed = None
        with keyfile.key_lock(self._key_path, exclusive=False), self._store.write() as conn:
            size = self._store.size(conn)
            row = conn.execute(select(T_CP.c.note).where(T_CP.c.size == size)).first()
            if row is not None:
                return str(row[0])
            root = merkle.tree_root(size, lambda keys: self._store.fetch_nodes(conn, keys))
            if not adopt:
                self._guard_tree(conn, size, root)
            elif not self._extends_note(conn):  # a crash loses a note's last words, never its past
                raise SecurityError(
                    f"not adopting: the log does not extend the tree this key's writers left (noted in "
                    f"{self._head_path}): it was rolled back or rewritten. Restore the database")
            signed = self._write_checkpoint(conn, size, root)
            pending = self._head_pending((size, root), (size, root))
        self._head_committed(pending)
        self._timestamp(signed)
        return signed.text

    def _timestamp(self, signed: SignedCheckpoint) -> str | None:
        """Fetch and store an RFC 3161 token; a TSA outage must not lose the verdict, so
        failure is reported (returned), not raised, and the audit flags the gap."""
        if not self.tsa_url:
            return None
        try:
            token = request_timestamp(self.tsa_url, signed.text.encode("utf-8"))
        except TimestampError as exc:
            return str(exc)
        with self._store.write() as conn:
            conn.execute(
                insert(T_TS),
                {"checkpoint_size": signed.checkpoint.size, "tsa_url": self.tsa_url, "token": token, "created_at": _now()},
            )
        return None

    def add_tsa_roots(self, roots: Path | Sequence[x509.Certificate]) -> None:
        """Record TSA trust roots in the ledger so later audits can verify tokens."""
        import hashlib

        from verifier.ledger.tsa import load_roots

        certs = load_roots(roots) if isinstance(roots, Path) else list(roots)
        with self._store.write() as conn:
            have = self._store.meta(conn)
            for cert in certs:
                pem = cert.public_bytes(Encoding.PEM).decode("ascii")
                key = "tsa_root:" + hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
                if key not in have:
                    conn.execute(insert(T_META), {"key": key, "value": pem})

    def tsa_roots(self) -> list[x509.Certificate]:
        with self._store.read() as conn:
            meta = self._store.meta(conn)
        return [x509.load_pem_x509_certificate(v.encode()) for k, v in sorted(meta.items()) if k.startswith("tsa_root:")]

    # -- key rotation -------------------------------------------------------

    def rotate_key(self, new_passphrase: bytes | None = None) -> tuple[VerifierKey, VerifierKey, int]:
        """Replace the signing key, recording the change in the log itself.

        The rotation entry is signed by both keys, and the checkpoint that first
        includes it is signed by both too, so a verifier pinned to the old key can
        follow the chain. The new key file is written *before* the commit (as
        ``<key>.next``) so a crash cannot leave the log with a key nobody holds; the
        old key is archived by a hard link and the new one renamed over it, so the key
        path never goes missing, and the whole rotation holds the key directory's lock
        (another rotation, or an appender finishing an interrupted one, waits).
        Returns (old key, new key, index of the rotation entry).
        """
        self._need_signer()
        passphrase = new_passphrase if new_passphrase is not None else self._passphrase
        nxt = keyfile.next_path(self._key_path)
        with keyfile.key_lock(self._key_path, exclusive=True):
            with self._store.read() as conn:
                current = _current_key(conn)
            kf = _load_current_key(self._key_path, self._passphrase, current, self._origin)
            self._signer = kf.signer(self._origin)
            if nxt.exists():  # a rotation that never committed: its key is kept aside, not deleted
                keyfile.set_aside(nxt)
            new_priv = Ed25519PrivateKey.generate()
            keyfile.write_new_key(nxt, passphrase, new_priv)
            new_signer = NoteSigner(self._origin, new_priv)
            old_signer = self._signer
            raw = build_rotation_record(self._origin, old_signer, new_signer, _now())
            # The new key takes effect from the checkpoint that includes the rotation entry.
            self._signer = new_signer
            try:
                entry = self._append_rotation(raw, old_signer, new_signer)
            except BaseException:
                self._signer = old_signer
                raise
            keyfile.archive(self._key_path, old_signer.verifier_key.key_id_hex)
            os.replace(nxt, self._key_path)
        self._passphrase = passphrase
        return old_signer.verifier_key, new_signer.verifier_key, entry

    def _append_rotation(self, raw: bytes, old: NoteSigner, new: NoteSigner) -> int:
        leaf = merkle.leaf_hash(raw)
        now = _now()
        with self._store.write() as conn:
            if _current_key(conn) != old.verifier_key.key_id_hex:
                raise LedgerKeyError("the ledger key changed while rotating; retry")
            size = self._store.size(conn)
            cr = merkle.CompactRange.from_fetch(size, lambda keys: self._store.fetch_nodes(conn, keys))
            old_root = cr.root()
            self._guard_tree(conn, size, old_root, signer=old)
            conn.execute(insert(T_ENTRY), {"idx": size, "leaf_hash": leaf, "record": raw, "appended_at": now})
            nodes = [{"seq": merkle.node_seq(lv, ix), "hash": h} for lv, ix, h in cr.append(leaf)]
            if nodes:
                conn.execute(insert(T_NODE), nodes)
            vk = new.verifier_key
            conn.execute(
                insert(T_KEY),
                {"key_id": vk.key_id_hex, "verifier_key": vk.encode(), "active_from_size": size + 1,
                 "rotation_index": size, "created_at": now},
            )
            signed = sign_checkpoint(Checkpoint(self._origin, cr.size, cr.root()), [new, old])
            conn.execute(insert(T_CP), {"size": cr.size, "root_hash": cr.root(), "note": signed.text, "created_at": now})
            pending = self._head_pending((size, old_root), (cr.size, cr.root()))
        self._head_committed(pending)
        self._frontier = cr
        self._timestamp(signed)
        return size

    # -- reading ------------------------------------------------------------

    def entry(self, index: int) -> EntryView:
        if index < 0:  # no such entry; a row stored under a negative index is not part of the log
            raise LedgerInputError(f"no ledger entry with index {index}: entries are numbered from 0")
        with self._store.read() as conn:
            row = conn.execute(
                select(T_ENTRY.c.idx, T_ENTRY.c.leaf_hash, T_ENTRY.c.record, T_ENTRY.c.appended_at).where(
                    T_ENTRY.c.idx == index
                )
            ).first()
        if row is None:
            raise LedgerInputError(f"no ledger entry with index {index} (log size {self.size})")
        return EntryView(int(row[0]), bytes(row[1]), bytes(row[2]), str(row[3]))

    def entries(self, start: int = 0, limit: int = 100) -> list[EntryView]:
        with self._store.read() as conn:
            rows = conn.execute(
                select(T_ENTRY.c.idx, T_ENTRY.c.leaf_hash, T_ENTRY.c.record, T_ENTRY.c.appended_at)
                .where(T_ENTRY.c.idx >= start)
                .order_by(T_ENTRY.c.idx)
                .limit(limit)
            ).all()
        return [EntryView(int(r[0]), bytes(r[1]), bytes(r[2]), str(r[3])) for r in rows]

    def entries_starting_with(self, prefix: bytes) -> list[EntryView]:
        """Entries whose canonical record starts with ``prefix``, in index order. JCS sorts
        keys, so a record whose ``kind`` sorts first among its keys is found by its opening
        bytes in SQL, without reading every verdict."""
        with self._store.read() as conn:
            rows = conn.execute(
                select(T_ENTRY.c.idx, T_ENTRY.c.leaf_hash, T_ENTRY.c.record, T_ENTRY.c.appended_at)
                .where(T_ENTRY.c.idx >= 0, func.substr(T_ENTRY.c.record, 1, len(prefix)) == prefix)
                .order_by(T_ENTRY.c.idx)
            ).all()
        return [EntryView(int(r[0]), bytes(r[1]), bytes(r[2]), str(r[3])) for r in rows]

    def iter_entries(self, batch: int = 10_000) -> Iterator[EntryView]:
        """Every entry in index order, read ``batch`` at a time (the log may not fit in memory)."""
        start = 0
        while rows := self.entries(start, batch):
            yield from rows
            start = rows[-1].index + 1

    def raw(self, index: int) -> bytes:
        """The exact bytes hashed into leaf ``index`` (the canonical record)."""
        return self.entry(index).record

    def checkpoints(self) -> list[CheckpointView]:
        with self._store.read() as conn:
            ts = {int(s): bytes(t) for s, t in conn.execute(select(T_TS.c.checkpoint_size, T_TS.c.token))}
            rows = conn.execute(
                select(T_CP.c.size, T_CP.c.root_hash, T_CP.c.note, T_CP.c.created_at).order_by(T_CP.c.size)
            ).all()
        return [CheckpointView(int(r[0]), bytes(r[1]), str(r[2]), str(r[3]), ts.get(int(r[0]))) for r in rows]

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        with self._store.read() as conn:
            row = conn.execute(select(T_CP.c.note).order_by(T_CP.c.size.desc()).limit(1)).first()
        return SignedCheckpoint.parse(row[0]) if row else None

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        with self._store.read() as conn:
            return merkle.inclusion_proof(index, size, lambda keys: self._store.fetch_nodes(conn, keys))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        with self._store.read() as conn:
            return merkle.consistency_proof(size1, size2, lambda keys: self._store.fetch_nodes(conn, keys))

    def root(self, size: int) -> bytes:
        with self._store.read() as conn:
            return merkle.tree_root(size, lambda keys: self._store.fetch_nodes(conn, keys))

    def _receipt_for(self, index: int, raw: bytes, signed: SignedCheckpoint) -> str:
        proof = self.inclusion_proof(index, signed.checkpoint.size)
        return build_receipt(index, proof, signed, raw)

    def receipt(self, index: int) -> str:
        """A receipt for entry ``index`` against the latest checkpoint that covers it."""
        entry = self.entry(index)
        signed = self.latest_checkpoint()
        if signed is None or signed.checkpoint.size <= index:
            raise LedgerInputError(
                f"entry {index} is not covered by a checkpoint yet; run `verifier ledger checkpoint` first"
            )
        return self._receipt_for(index, entry.record, signed)

    # -- audit --------------------------------------------------------------

    def verify(
        self,
        *,
        from_checkpoint: str | None = None,
        trusted_keys: Sequence[VerifierKey] | None = None,
        tsa_roots: Sequence[x509.Certificate] | None = None,
    ) -> Any:
        """Audit the whole log; returns an :class:`verifier.ledger.audit.AuditResult` value."""
        from verifier.ledger.audit import audit

        return audit(self, from_checkpoint=from_checkpoint, trusted_keys=trusted_keys, tsa_roots=tsa_roots)

    def close(self) -> None:
        if self._head_fd is not None:
            os.close(self._head_fd)
            self._head_fd = None
        self._store.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _current_key(conn: Connection) -> str | None:
    row = conn.execute(select(T_KEY.c.key_id).order_by(T_KEY.c.active_from_size.desc()).limit(1)).first()
    return None if row is None else str(row[0])


def _load_current_key(path: Path, passphrase: bytes | None, current: str | None, origin: str) -> keyfile.KeyFile:
    """Load the key file and insist it is the ledger's current key (finishing a rotation
    interrupted after its commit: ``<key>.next`` then holds it). A live rotation holds the key
    lock exclusively until its files are in place, so a caller holding it shared (or opening the
    ledger) only ever meets a finished rotation or a crashed one."""
    nxt = keyfile.next_path(path)
    kf = keyfile.load_key(path, passphrase) if path.exists() or not nxt.exists() else None
    got = kf.verifier_key(origin).key_id_hex if kf is not None else None
    if kf is not None and (current is None or got == current):
        return kf
    if nxt.exists():
        cand = keyfile.load_key(nxt, passphrase)
        if cand.verifier_key(origin).key_id_hex == current:
            if kf is not None and got is not None:
                keyfile.archive(path, got)
            try:
                os.replace(nxt, path)
            except FileNotFoundError:  # another process finished it first
                pass
            return keyfile.KeyFile(path=path, private_key=cand.private_key)
    raise LedgerKeyError(
        f"key file {path} holds key {got or '(none)'}, but the ledger's current signing key is {current}; "
        "point VERIFIER_LEDGER_KEY at the right key file"
    )
