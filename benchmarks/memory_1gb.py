"""Peak RSS of ``verify`` on a 1 GiB file: memory must stay flat (streamed hashing).

Writes a 1 GiB WAV (valid header, noise samples) to a temp dir, runs the real
CLI in a subprocess and reads its peak RSS from ``getrusage``. Prints the peak
and the baseline (the same command on a 1 MB WAV). Run:
``python -m benchmarks.memory_1gb``.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path


def write_wav(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48000)
        for _ in range(size >> 20):
            w.writeframesraw(block)


def run(path: Path, data_dir: Path) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "verifier", "verify", "--no-ledger", "--json", str(path)],
                          env={**os.environ, "VERIFIER_DATA_DIR": str(data_dir)}, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"verify failed ({proc.returncode}): {proc.stderr}")
    return max(peak, before) / 1024, elapsed, proc.returncode


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        small, big = d / "small.wav", d / "big.wav"
        write_wav(small, 1 << 20)
        write_wav(big, 1 << 30)
        base_rss, base_t, _ = run(small, d / "data")
        # RUSAGE_CHILDREN keeps the max over all children: run the big one in a fresh interpreter.
        proc = subprocess.run([sys.executable, "-c", (
            "import resource,subprocess,sys,os;"
            f"subprocess.run([sys.executable,'-m','verifier','verify','--no-ledger','--json',{str(big)!r}],"
            f"env={{**os.environ,'VERIFIER_DATA_DIR':{str(d / 'data2')!r}}},capture_output=True,check=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")], capture_output=True, text=True, check=True)
        big_rss = int(proc.stdout.strip()) / 1024
        print(f"{'file':<10}{'bytes':>14}{'peak RSS MiB':>14}")
        print(f"{'1 MiB wav':<10}{small.stat().st_size:>14}{base_rss:>14.1f}")
        print(f"{'1 GiB wav':<10}{big.stat().st_size:>14}{big_rss:>14.1f}")
        print(f"growth: {big_rss - base_rss:+.1f} MiB for 1023 MiB more input")


if __name__ == "__main__":
    main()
