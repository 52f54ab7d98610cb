"""Shared test fixtures: generated media (built once per session), the shared
conformance corpus (skipped cleanly when absent), and a CLI runner that runs
the real console entry point in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from verifier.shared_dir import shared_dir

REPO = Path(__file__).resolve().parent.parent
SHARED = shared_dir()
CONFORMANCE = SHARED / "conformance" / "c2pa"


@pytest.fixture(scope="session")
def media_fixtures(tmp_path_factory):
    from fixtures.make_fixtures import make_all

    root = tmp_path_factory.mktemp("fixtures")
    return root, make_all(root)


@pytest.fixture(scope="session")
def test_root(media_fixtures) -> Path:
    return media_fixtures[0] / "pki" / "root.pem"


@pytest.fixture
def data_dir(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def conformance_dir() -> Path:
    if not (CONFORMANCE / "MANIFEST.tsv").is_file():
        pytest.skip(f"shared C2PA conformance corpus not present at {CONFORMANCE}")
    return CONFORMANCE


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, data_dir: Path | None = None, timeout: float = 60, env_extra: dict | None = None,
            prefix: tuple[str, ...] = (), **kw) -> CliResult:
    env = dict(os.environ)
    env.pop("VERIFIER_DEBUG", None)
    if data_dir is not None:
        env["VERIFIER_DATA_DIR"] = str(data_dir)
    env.update(env_extra or {})
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "verifier", *args], capture_output=True, text=True, timeout=timeout, env=env, **kw
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def assert_no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout
