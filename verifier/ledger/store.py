"""Database storage of the ledger (SQLModel tables on SQLite or PostgreSQL).

What is stored, and why:

* ``ledger_entry``: index, RFC 6962 leaf hash and the exact canonical record
  bytes that were hashed. The record bytes are kept so an auditor can recompute
  every leaf; the leaf hash is kept so proofs need not rehash records.
* ``ledger_node``: every perfect-subtree hash of level >= 1, keyed by
  :func:`merkle.node_seq` (the order nodes complete). Written once at append
  time; proofs read O(log n) of them (see :mod:`verifier.ledger.merkle`).
* ``ledger_checkpoint``: each signed checkpoint (note text) by tree size.
* ``ledger_timestamp``: RFC 3161 tokens over checkpoints, in their own table
  because a token arrives after the checkpoint commits and rows are never updated.
* ``ledger_key``: the public keys that signed checkpoints and from which size.
* ``ledger_meta``: origin line, schema version, TSA trust roots.

Append-only is enforced by the database, not by this code: SQLite triggers
``RAISE(ABORT)`` on UPDATE and DELETE; PostgreSQL triggers reject UPDATE,
DELETE and TRUNCATE and those privileges are revoked. There is no mutable
"head" row: the tree size is ``max(idx) + 1`` read under the writer lock
(SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``pg_advisory_xact_lock``), so indices
stay dense and unique with many writer processes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, LargeBinary, Text, bindparam, event, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import Field, SQLModel, create_engine

from verifier.ledger import merkle
from verifier.ledger.errors import LedgerStorageError

SCHEMA_VERSION = "1"
ADVISORY_LOCK_KEY = 0x6C65646765720001  # "ledger" + 1; one lock for all ledger writers
BUSY_TIMEOUT_S = 120.0


class LedgerMeta(SQLModel, table=True):
    __tablename__ = "ledger_meta"
    key: str = Field(primary_key=True)
    value: str


class LedgerEntry(SQLModel, table=True):
    __tablename__ = "ledger_entry"
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    record: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    appended_at: str  # informational (not hashed): the time that matters is in the record / TSA token


class LedgerNode(SQLModel, table=True):
    __tablename__ = "ledger_node"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LedgerCheckpoint(SQLModel, table=True):
    __tablename__ = "ledger_checkpoint"
    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str


class LedgerTimestamp(SQLModel, table=True):
    __tablename__ = "ledger_timestamp"
    checkpoint_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    tsa_url: str
    token: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: str


class LedgerKey(SQLModel, table=True):
    __tablename__ = "ledger_key"
    key_id: str = Field(primary_key=True)
    verifier_key: str
    active_from_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    rotation_index: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: str


TABLES = [m.__table__ for m in (LedgerMeta, LedgerEntry, LedgerNode, LedgerCheckpoint, LedgerTimestamp, LedgerKey)]
T_META, T_ENTRY, T_NODE, T_CP, T_TS, T_KEY = TABLES  # type: ignore[misc]
TABLE_NAMES = [t.name for t in TABLES]

_SEL_NODES = select(T_NODE.c.seq, T_NODE.c.hash).where(T_NODE.c.seq.in_(bindparam("seqs", expanding=True)))
_SEL_LEAVES = select(T_ENTRY.c.idx, T_ENTRY.c.leaf_hash).where(T_ENTRY.c.idx.in_(bindparam("idxs", expanding=True)))


def _sqlite_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'ledger table {table} is append-only: UPDATE refused'); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'ledger table {table} is append-only: DELETE refused'); END",
    ]


_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$
"""


def _pg_triggers(table: str) -> list[str]:
    return [
        f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
        f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM CURRENT_USER",
    ]


class Store:
    """Connection handling, the writer lock and the few queries the ledger needs."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL", readonly: bool = False) -> None:
        """``readonly`` opens the database so that nothing can change it, not even its journal
        mode (an audit of a hashed copy of the evidence must leave it byte for byte as it was)."""
        self.url = url
        self.readonly = readonly
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise LedgerStorageError(f"invalid ledger database URL {url!r}") from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise LedgerStorageError(f"unsupported ledger database {self.dialect!r}: use sqlite or postgresql")
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            db = parsed.database
            if readonly and db and db != ":memory:" and not db.startswith("file:"):
                ro_uri = f"file:{urllib.parse.quote(str(Path(db).expanduser().resolve()))}?mode=ro"
                kwargs["creator"] = lambda: sqlite3.connect(ro_uri, uri=True, timeout=BUSY_TIMEOUT_S,
                                                            check_same_thread=False)
            elif db and db != ":memory:" and not db.startswith("file:"):
                Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
            if readonly:
                kwargs["connect_args"] = {"options": "-c default_transaction_read_only=on"}
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except (ArgumentError, ImportError) as exc:
            raise LedgerStorageError(f"cannot create database engine for {url!r}: {exc}") from None
        if self.dialect == "sqlite":
            self._install_sqlite_hooks(sqlite_synchronous)

    # -- connection setup ---------------------------------------------------

    def _install_sqlite_hooks(self, synchronous: str) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            # Let SQLAlchemy's "begin" hook decide how transactions start (pysqlite's
            # implicit BEGIN cannot take the write lock up front).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if not self.readonly:
                cur.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
                cur.execute(f"PRAGMA synchronous = {synchronous}")
            cur.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn: Connection) -> None:
            if conn.get_execution_options().get("ledger_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction holding the single-writer lock; commits on success."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(ledger_write=True)
                with conn.begin():
                    if self.dialect == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
                    yield conn
        except (OperationalError, DBAPIError) as exc:
            raise LedgerStorageError(f"ledger database write failed: {_short(exc)}") from exc

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (one snapshot on PostgreSQL repeatable read is not needed:
        rows are immutable, so a reader only has to bound what it reads by a size)."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except (OperationalError, DBAPIError) as exc:
            raise LedgerStorageError(f"ledger database read failed: {_short(exc)}") from exc

    # -- schema -------------------------------------------------------------

    def initialized(self) -> bool:
        try:
            with self.read() as conn:
                if not self.engine.dialect.has_table(conn, "ledger_meta"):
                    return False
                return conn.execute(select(T_META.c.value).where(T_META.c.key == "origin")).first() is not None
        except SQLAlchemyError as exc:
            raise LedgerStorageError(f"cannot open ledger database: {_short(exc)}") from exc

    def create_schema(self, conn: Connection) -> None:
        """Create tables and append-only triggers (idempotent; call inside :meth:`write`)."""
        SQLModel.metadata.create_all(conn, tables=TABLES, checkfirst=True)
        if self.dialect == "sqlite":
            for t in TABLE_NAMES:
                for stmt in _sqlite_triggers(t):
                    conn.exec_driver_sql(stmt)
        else:
            # text() escapes the '%' of RAISE for psycopg's pyformat paramstyle
            conn.execute(text(_PG_FUNCTION))
            for t in TABLE_NAMES:
                for stmt in _pg_triggers(t):
                    conn.execute(text(stmt))

    # -- queries ------------------------------------------------------------

    @staticmethod
    def meta(conn: Connection) -> dict[str, str]:
        return {k: v for k, v in conn.execute(select(T_META.c.key, T_META.c.value))}

    @staticmethod
    def size(conn: Connection) -> int:
        # Raw SQL: this runs inside every append's write lock, and SQLAlchemy's
        # statement compilation cost more than the indexed MAX itself.
        top = conn.exec_driver_sql("SELECT max(idx) FROM ledger_entry").scalar()
        return 0 if top is None else int(top) + 1

    @staticmethod
    def fetch_nodes(conn: Connection, keys: Sequence[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
        """Stored hashes of perfect subtrees: leaves from ``ledger_entry``, the rest from ``ledger_node``."""
        out: dict[merkle.NodeKey, bytes] = {}
        leaves = [i for lvl, i in keys if lvl == 0]
        inner = {merkle.node_seq(lvl, i): (lvl, i) for lvl, i in keys if lvl > 0}
        if leaves:
            for idx, h in conn.execute(_SEL_LEAVES, {"idxs": leaves}):
                out[(0, int(idx))] = bytes(h)
        if inner:
            for seq, h in conn.execute(_SEL_NODES, {"seqs": list(inner)}):
                out[inner[int(seq)]] = bytes(h)
        return out


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]
