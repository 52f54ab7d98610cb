"""Run-time configuration: where evidence and the ledger live, who the operator is.

Values come, in increasing priority, from defaults, environment variables
(``VERIFIER_*``) and command-line flags. One frozen object is built per run and
passed down, so every stage sees the same settings and the ledger can record
them.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from platformdirs import user_data_dir


def default_data_dir() -> Path:
    env = os.environ.get("VERIFIER_DATA_DIR")
    return Path(env).expanduser() if env else Path(user_data_dir("av-verifier", appauthor=False))


def default_operator() -> str:
    env = os.environ.get("VERIFIER_OPERATOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): still record something honest
        return "unknown-operator"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    operator: str = field(default_factory=default_operator)
    # SQLAlchemy URL of the verdict ledger; None means SQLite in the data dir.
    ledger_url: str | None = field(default_factory=lambda: os.environ.get("VERIFIER_LEDGER_URL"))
    # Extra PEM trust anchors supplied by the user (C2PA signers they trust).
    trust_anchors: tuple[Path, ...] = ()
    remote_manifest_fetch: bool = False
    ocsp_fetch: bool = False
    profile: str = "finance"
    record_to_ledger: bool = True

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def custody_log(self) -> Path:
        return self.data_dir / "custody.jsonl"

    @property
    def ledger_db_url(self) -> str:
        return self.ledger_url or sqlite_url(self.data_dir / "ledger.sqlite")

    @property
    def ledger_key_path(self) -> Path:
        env = os.environ.get("VERIFIER_LEDGER_KEY")
        return Path(env) if env else self.data_dir / "keys" / "ledger.ed25519"

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)


def sqlite_url(path: Path) -> str:
    """A SQLite URL for ``path`` with the URL's own characters escaped: a data directory named
    ``case?1`` or ``odd%41`` put its ledger outside itself (in ``case`` or ``oddA``)."""
    from sqlalchemy.engine import URL

    return URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)
