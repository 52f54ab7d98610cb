"""Fixtures for ledger tests: a fresh data dir per test, real SQLite, real keys."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from verifier.config import Settings
from verifier.ledger import Ledger

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("VERIFIER_LEDGER_URL", "VERIFIER_LEDGER_KEY", "VERIFIER_LEDGER_KEY_PASSPHRASE",
                "VERIFIER_LEDGER_TSA_URL", "VERIFIER_LEDGER_TSA_ROOTS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", ledger_url=None)


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    led = Ledger.open(settings, origin="test.example/ledger")
    yield led
    led.close()


def record(i: int, **extra: object) -> dict[str, object]:
    return {"schema": "av-verifier/verdict@test", "index_hint": i, "verdict": "inconclusive", **extra}


def pg_url() -> str | None:
    return os.environ.get("VERIFIER_TEST_PG_URL") or None


def twin_ledger(settings: Settings, root: Path, name: str, origin: str = "test.example/ledger") -> Ledger:
    """Another database signed with the same key under the same origin: what an operator
    who rewrites history (or shows two parties two logs) would run."""
    import shutil

    twin = Settings(data_dir=root / name, ledger_url=None)
    twin.ledger_key_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(settings.ledger_key_path, twin.ledger_key_path)
    return Ledger.open(twin, origin=origin)
