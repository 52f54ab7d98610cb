"""Several writer processes on one ledger: indices stay dense and unique, audit passes.
Crash safety: writers killed with SIGKILL lose no acknowledged append."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from verifier.config import Settings
from verifier.ledger import Ledger

from .conftest import pg_url

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("writer.py")


def _spawn(settings: Settings, tag: str, count: int, every: int = 1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(settings.data_dir), settings.ledger_url or "", tag, str(count), str(every)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _run_writers(settings: Settings, procs: int, count: int) -> None:
    Ledger.open(settings).close()  # create key + schema once (the writers also cope if not)
    ps = [_spawn(settings, f"w{i}", count) for i in range(procs)]
    acks: list[tuple[int, str, int]] = []
    for p in ps:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        acks += [(int(a), b, int(c)) for _, a, b, c in (line.split() for line in out.splitlines())]
    led = Ledger.open(settings)
    try:
        assert len(acks) == procs * count
        assert sorted(a[0] for a in acks) == list(range(procs * count))
        assert led.size == procs * count
        for idx, tag, n in random.sample(acks, 50):
            assert led.raw(idx) == f'{{"n":{n},"schema":"test/concurrency","writer":"{tag}"}}'.encode()
        res = led.verify()
        assert res.ok, res.problems
        assert res.checkpoints_checked == procs * count
    finally:
        led.close()


@pytest.mark.slow
def test_four_processes_sqlite(settings: Settings) -> None:
    _run_writers(settings, 4, 500)


def test_two_processes_sqlite_quick(settings: Settings) -> None:
    _run_writers(settings, 2, 40)


@pytest.mark.postgres
@pytest.mark.slow
def test_four_processes_postgres(tmp_path: Path, pg_settings: Settings) -> None:
    _run_writers(pg_settings, 4, 500)


@pytest.mark.postgres
def test_postgres_append_only_and_audit(pg_settings: Settings) -> None:
    import psycopg

    led = Ledger.open(pg_settings)
    for i in range(10):
        led.append({"schema": "t", "i": i})
    assert led.verify().ok
    dsn = pg_settings.ledger_url.replace("postgresql+psycopg://", "postgresql://")  # type: ignore[union-attr]
    with psycopg.connect(dsn, autocommit=True) as con:
        for sql in ("UPDATE ledger_entry SET record = 'x' WHERE idx = 1", "DELETE FROM ledger_entry WHERE idx = 1",
                    "TRUNCATE ledger_entry"):
            with pytest.raises(psycopg.Error):
                con.execute(sql)
        # an attacker who owns the database disables the guards and edits a record
        con.execute("GRANT UPDATE, DELETE ON ledger_entry TO CURRENT_USER")
        con.execute("ALTER TABLE ledger_entry DISABLE TRIGGER USER")
        con.execute("UPDATE ledger_entry SET record = %s WHERE idx = 3", (b'{"forged":1}',))
    res = led.verify()
    assert not res.ok and res.problems[0].code == "leaf-mismatch"
    led.close()


@pytest.mark.postgres
def test_postgres_finds_enrolments_by_their_opening_bytes(pg_settings: Settings) -> None:
    """The enrolment lookup compares a bytea prefix in SQL (substr), which PostgreSQL must do as SQLite does."""
    from verifier.enrolment_log import LedgerGuard, check_reference

    with Ledger.open(pg_settings) as led:
        led.append({"schema": "t", "name": "Jane"})
        index = LedgerGuard(led, "voice", "Jane").adopt("a" * 64, [], "m" * 64)
        led.append({"schema": "t", "i": 2})
        assert check_reference(led, "voice", "Jane", "a" * 64).index == index == 1


@pytest.fixture
def pg_settings(tmp_path: Path) -> Settings:
    url = pg_url()
    if not url:
        pytest.skip("VERIFIER_TEST_PG_URL is not set (see .ci/postgres.sh)")
    import psycopg

    schema = f"t{os.getpid()}_{random.randrange(1 << 30)}"
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    return Settings(data_dir=tmp_path / "data", ledger_url=f"{url}{sep}options=-csearch_path%3D{schema}")


@pytest.mark.slow
def test_sigkill_crash_safety(settings: Settings) -> None:
    """20 writers killed with SIGKILL at random moments: every acknowledged append survives
    and the log audits clean."""
    _crash(settings, kills=20)


def test_sigkill_crash_safety_quick(settings: Settings) -> None:
    _crash(settings, kills=3)


def _crash(settings: Settings, kills: int) -> None:
    Ledger.open(settings).close()
    rng = random.Random(1234 + kills)
    acked: dict[int, tuple[str, int]] = {}
    for k in range(kills):
        p = _spawn(settings, f"k{k}", 100_000)
        assert p.stdout is not None
        first = p.stdout.readline()  # wait until the writer is really appending
        time.sleep(rng.uniform(0.0, 0.4))  # then kill it at a random point
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate(timeout=60)
        for line in [first, *out.splitlines()]:
            parts = line.split()
            if len(parts) == 4 and parts[0] == "ACK":
                acked[int(parts[1])] = (parts[2], int(parts[3]))
    assert len(acked) >= kills  # every writer got going before it was killed
    led = Ledger.open(settings)
    try:
        size = led.size
        assert max(acked) < size
        for idx, (tag, n) in acked.items():
            assert led.raw(idx) == f'{{"n":{n},"schema":"test/concurrency","writer":"{tag}"}}'.encode()
        res = led.verify()
        assert res.ok, res.problems
        led.append({"schema": "after-crash"})
        assert led.verify().ok
    finally:
        led.close()


def test_rotations_racing_each_other_and_appenders_lose_no_key_and_no_append(settings: Settings) -> None:
    """Red-team finding: two rotations at once (or one while others append) archived one key over
    another and left the key file missing between two renames: appenders failed ('key file not
    found'), and the ledger was left with a current key nobody held."""
    Ledger.open(settings).close()
    rotators = [subprocess.Popen([sys.executable, str(WRITER.with_name("rotator.py")), str(settings.data_dir), "4"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)}) for _ in range(2)]
    writers = [_spawn(settings, f"w{i}", 40) for i in range(2)]
    for p in rotators + writers:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    led = Ledger.open(settings)  # the key file holds the current key
    try:
        assert led.size == 2 * 40 + 2 * 4
        res = led.verify()
        assert res.ok, res.problems
        keys = led.verifier_keys()
        assert len(keys) == 1 + 8 and led.verifier_key == keys[-1]
        retired = sorted(settings.ledger_key_path.parent.glob("*.retired*"))
        assert len(retired) == 8  # every earlier private key kept, none overwritten
        led.append({"after": "rotations"})
    finally:
        led.close()


def test_a_rotation_cut_between_its_commit_and_its_rename_is_finished_on_next_open(settings: Settings) -> None:
    from verifier.ledger import keys as keyfile

    led = Ledger.open(settings)
    led.append({"n": 0})
    _, new, _ = led.rotate_key()
    led.close()
    key = settings.ledger_key_path
    # as if killed after the commit: the new key still waits as .next and the key path is gone
    os.replace(key, keyfile.next_path(key))
    again = Ledger.open(settings)
    try:
        assert again.verifier_key == new and key.exists() and not keyfile.next_path(key).exists()
        again.append({"n": 1})
        assert again.verify().ok
    finally:
        again.close()
