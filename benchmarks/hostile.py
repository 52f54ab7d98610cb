"""How fast `verify` refuses or classifies hostile files, against its floor.

The hostile-input tests assert only that `verify` never hangs (a subprocess
timeout); this script measures how long it takes, so that a parser that
starts to crawl on a truncated or adversarial file shows up as a ratio here
instead of as a flaky wall-clock assert in the test suite.

Every case is one CLI process, ``python -m verifier verify --no-ledger --json
FILE``, as a user runs it; the floor is the same command on the intact signed
file of the same format (process start, imports, hashing, c2pa validation).
Medians of ``--repeat`` runs. Cases: the generated fixtures truncated to 30-60 %
of their bytes, an empty file, random bytes named .jpg, and, when
``../shared/conformance/c2pa`` exists, its adversarial files (RIFF bomb, nested
moov, TIFF proof of concept, ID3 compression underflow).
Run: ``python -m benchmarks.hostile [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.timing import median_time
from fixtures.make_fixtures import make_all
from verifier.shared_dir import shared_dir

CONFORMANCE = shared_dir() / "conformance" / "c2pa"
ADVERSARIAL = (
    "audio/c2pa-rs/adversarial/riff_bomb_1000.wav",
    "video/c2pa-rs/adversarial/nested_moov_1000.mp4",
    "image/c2pa-rs/adversarial/tiff_poc.tiff",
    "audio/c2pa-rs/adversarial/id3v23_compression_underflow.mp3",
)
TRUNCATED = {"mp4": 0.5, "wav": 0.3, "mov": 0.6, "mp3": 0.4}


def run_verify(path: Path, data_dir: Path) -> int:
    env = dict(os.environ, VERIFIER_DATA_DIR=str(data_dir))
    proc = subprocess.run([sys.executable, "-m", "verifier", "verify", "--no-ledger", "--json", str(path)],
                          check=False, capture_output=True, env=env, timeout=120)
    return proc.returncode


def cases(root: Path) -> list[tuple[str, Path, Path]]:
    """(name, hostile file, intact file whose verify is the floor)."""
    fixtures = make_all(root / "fixtures", formats=tuple(TRUNCATED), wait_for_expiry=False)
    out = []
    for fmt, keep in TRUNCATED.items():
        signed = fixtures[fmt]["signed"]
        cut = root / f"truncated.{fmt}"
        data = signed.read_bytes()
        cut.write_bytes(data[: int(len(data) * keep)])
        out.append((f"{fmt} truncated to {keep:.0%}", cut, signed))
    wav = fixtures["wav"]["signed"]
    (root / "empty.mp4").write_bytes(b"")
    out.append(("empty file", root / "empty.mp4", wav))
    (root / "random.jpg").write_bytes(os.urandom(16384))
    out.append(("random bytes as .jpg", root / "random.jpg", wav))
    if CONFORMANCE.is_dir():
        for rel in ADVERSARIAL:
            p = CONFORMANCE / rel
            if p.is_file():
                floor = fixtures.get(p.suffix.lstrip("."), fixtures["wav"])["signed"]  # a .tiff has no twin: wav
                out.append((Path(rel).name, p, floor))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        data_dir.mkdir()
        floors: dict[Path, float] = {}
        print("| case | exit | verify (s) | floor: intact file (s) | ratio |")
        print("| --- | --- | --- | --- | --- |")
        for name, path, floor in cases(root):
            if floor not in floors:
                floors[floor] = median_time(lambda f=floor: run_verify(f, data_dir), args.repeat)
            code = run_verify(path, data_dir)
            t = median_time(lambda p=path: run_verify(p, data_dir), args.repeat, warm=False)
            print(f"| {name} | {code} | {t:.2f} | {floors[floor]:.2f} ({floor.name}) | {t / floors[floor]:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
