"""Ledger benchmark: append throughput, inclusion-proof latency and full-audit time.

    python -m benchmarks.ledger [--entries 1000000] [--dir /tmp/ledger-bench] [--originals-mb 512] [--bundle-mb 100]

Appends go through ``Ledger.append`` / ``append_many`` (real transactions,
real signatures). The 1M-entry log is bulk-loaded through the same tables
(``ledger_entry``, ``ledger_node``, ``ledger_checkpoint``) with the same Merkle
code, a signed checkpoint every 10,000 entries, and then audited with
``Ledger.verify`` exactly as ``verifier ledger verify`` does.

Then ``verify --originals``'s check of the evidence store (``audit_originals``)
on files of ``--originals-mb`` in all, each named by three verdict records,
against the floor of hashing the same files once (``intake.hash_file``); and an
evidence bundle of a ``--bundle-mb`` recording, made and checked, against the
same floor.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from verifier.config import Settings
from verifier.ledger import Ledger, merkle
from verifier.ledger.consistency import prove_extension, verify_extension
from verifier.ledger.export import audit_export, export_lines
from verifier.ledger.note import Checkpoint, sign_checkpoint
from verifier.ledger.record import canonicalize
from verifier.ledger.store import T_CP, T_ENTRY, T_NODE


def rec(i: int) -> dict:
    return {"schema": "av-verifier/verdict@bench", "n": i, "verdict": "inconclusive", "llr": -0.25,
            "sha256": f"{i:064x}", "reasons": ["provenance-absent", "detector-inconclusive"]}


def appends_per_s(d: Path, *, every: int, sync: str, batch: int | None, n: int) -> float:
    led = Ledger.open(Settings(data_dir=d), checkpoint_every=every, sqlite_synchronous=sync)
    led.append(rec(-1))
    t = time.perf_counter()
    if batch:
        for j in range(0, n, batch):
            led.append_many([rec(i) for i in range(j, j + batch)], receipts=True)
    else:
        for i in range(n):
            led.append(rec(i))
    dt = time.perf_counter() - t
    assert led.verify().ok
    led.close()
    return n / dt


def bulk_load(led: Ledger, n: int, cp_every: int = 10_000) -> float:
    t = time.perf_counter()
    cr = merkle.CompactRange()
    signer = led._signer  # benchmark-only shortcut to the same signing key
    for start in range(0, n, cp_every):
        entries, nodes = [], []
        for i in range(start, min(n, start + cp_every)):
            raw = canonicalize(rec(i))
            lh = merkle.leaf_hash(raw)
            entries.append({"idx": i, "leaf_hash": lh, "record": raw, "appended_at": "bench"})
            for lv, ix, h in cr.append(lh):
                nodes.append({"seq": merkle.node_seq(lv, ix), "hash": h})
        signed = sign_checkpoint(Checkpoint(led.origin, cr.size, cr.root()), [signer])
        with led.store.write() as conn:
            conn.execute(insert(T_ENTRY), entries)
            conn.execute(insert(T_NODE), nodes)
            conn.execute(insert(T_CP), {"size": cr.size, "root_hash": cr.root(), "note": signed.text, "created_at": "bench"})
    return time.perf_counter() - t


def originals_rows(d: Path, total_mb: int, repeat: int) -> list[tuple[str, str, str]]:
    """The evidence-store audit against the floor of hashing its files once."""
    import os

    from verifier.intake import EvidenceStore, hash_file
    from verifier.ledger.originals import audit_originals

    store = EvidenceStore(d / "evidence")
    sizes = [1 << 10, 256 << 10, 8 << 20, 64 << 20]  # a photo's thumbnail to a long video
    records, paths, left, k = [], [], total_mb << 20, 0
    while left > 0:
        n = min(sizes[k % len(sizes)], left)
        src = d / "in.bin"
        d.mkdir(parents=True, exist_ok=True)
        src.write_bytes(os.urandom(n))
        got = store.ingest(src)
        paths.append(got.stored_path)
        hashes = got.hashes.model_dump()
        records += [(len(records) + j, canonicalize({"verification": {"input": {"hashes": hashes, "name": "x"}}}))
                    for j in range(3)]
        left, k = left - n, k + 1
    floor, audit = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        for p in paths:
            hash_file(p)
        floor.append(time.perf_counter() - t)
        t = time.perf_counter()
        res = audit_originals(records, store.root)
        audit.append(time.perf_counter() - t)
        assert res.ok and res.originals == len(paths)
    f, a = statistics.median(floor), statistics.median(audit)
    what = f"{len(paths)} originals, {total_mb} MB, {len(records)} records"
    return [(f"hash the originals once (floor): {what}", f"{f:.2f}", "s"),
            (f"ledger verify --originals check: {what}", f"{a:.2f}", f"s ({a / f:.2f}x the floor)")]


def bundle_rows(d: Path, mb: int, repeat: int) -> list[tuple[str, str, str]]:
    """An evidence bundle of one verified WAV of ``mb`` MB, made and checked, against the floor
    of hashing the received file once (both re-read it: packing hashes it, the check re-hashes)."""
    import wave

    import numpy as np

    from verifier.bundle import verify_bundle, write_bundle
    from verifier.intake import EvidenceStore, hash_file
    from verifier.pipeline import Verifier, ledger_record

    d.mkdir(parents=True, exist_ok=True)
    wav = d / "call.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48_000)
        frames = (mb << 20) // 4
        rng = np.random.default_rng(0)
        for start in range(0, frames, 1 << 20):
            w.writeframes((rng.standard_normal((min(1 << 20, frames - start), 2)) * 3000).astype("<i2").tobytes())
    settings = Settings(data_dir=d / "data", record_to_ledger=False)
    result = Verifier(settings, detector_names=[]).verify(wav)
    led = Ledger.open(settings)
    led.append(ledger_record(result, led.origin))
    store = EvidenceStore(settings.evidence_dir)
    floor, made, checked = [], [], []
    for _ in range(repeat):
        t = time.perf_counter()
        hash_file(wav)
        floor.append(time.perf_counter() - t)
        t = time.perf_counter()
        out = write_bundle(led, 0, store, d / "case.zip")
        made.append(time.perf_counter() - t)
        t = time.perf_counter()
        assert verify_bundle(out, [led.verifier_key]).report_matches
        checked.append(time.perf_counter() - t)
    led.close()
    f, m, c = statistics.median(floor), statistics.median(made), statistics.median(checked)
    return [(f"hash a {mb} MB received file once (floor)", f"{f:.2f}", "s"),
            ("  ledger bundle (pack it, hashed as packed, report rendered)", f"{m:.2f}", f"s ({m / f:.1f}x the floor)"),
            ("  ledger verify-bundle (every member re-hashed or re-rendered)", f"{c:.2f}", f"s ({c / f:.1f}x the floor)")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--appends", type=int, default=2_000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--originals-mb", type=int, default=512)
    ap.add_argument("--bundle-mb", type=int, default=100)
    args = ap.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    rows: list[tuple[str, str, str]] = []

    def fresh(name: str) -> Path:
        p = base / name
        shutil.rmtree(p, ignore_errors=True)
        return p

    for label, kw in [
        ("append, checkpoint every append, sync=FULL", dict(every=1, sync="FULL", batch=None)),
        ("append, checkpoint every 100, sync=FULL", dict(every=100, sync="FULL", batch=None)),
        ("append, checkpoint every 100, sync=NORMAL", dict(every=100, sync="NORMAL", batch=None)),
        ("append_many(100) + receipts, sync=FULL", dict(every=1, sync="FULL", batch=100)),
    ]:
        vals = [appends_per_s(fresh(f"a{r}"), n=args.appends, **kw) for r in range(args.repeat)]
        rows.append((label, f"{statistics.median(vals):,.0f}", "appends/s"))

    d = fresh("big")
    led = Ledger.open(Settings(data_dir=d), checkpoint_every=0)
    load_s = bulk_load(led, args.entries)
    rows.append((f"bulk load {args.entries:,} entries (same tables)", f"{load_s:,.1f}", "s"))
    n = led.size
    root = led.root(n)
    rng = random.Random(7)
    times = []
    for _ in range(1000):
        i = rng.randrange(n)
        t = time.perf_counter()
        proof = led.inclusion_proof(i, n)
        times.append(time.perf_counter() - t)
        merkle.verify_inclusion(i, n, merkle.leaf_hash(led.raw(i)), proof, root)
    rows.append((f"inclusion proof at {n:,} entries (median of 1000)", f"{statistics.median(times) * 1e3:.3f}", "ms"))
    rows.append((f"inclusion proof at {n:,} entries (p99)", f"{sorted(times)[989] * 1e3:.3f}", "ms"))
    t = time.perf_counter()
    receipt_times = []
    for _ in range(100):
        t0 = time.perf_counter()
        led.receipt(rng.randrange(n))
        receipt_times.append(time.perf_counter() - t0)
    rows.append((f"receipt at {n:,} entries (median of 100)", f"{statistics.median(receipt_times) * 1e3:.3f}", "ms"))
    led.checkpoint()
    key = [led.verifier_key]
    served, checked = [], []
    for _ in range(100):  # a receipt holder's later question: does the log still extend my checkpoint?
        old = rng.randrange(1, n)
        held = sign_checkpoint(Checkpoint(led.origin, old, led.root(old)), [led._signer])  # as the holder kept it
        t0 = time.perf_counter()
        ext = prove_extension(led, old).encode()
        served.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        verify_extension(held, ext, key)  # two signatures, parse, proof
        checked.append(time.perf_counter() - t0)
    rows.append((f"consistency proof served at {n:,} entries (median of 100)", f"{statistics.median(served) * 1e3:.3f}", "ms"))
    rows.append(("consistency proof parsed and checked offline (median of 100)", f"{statistics.median(checked) * 1e3:.3f}", "ms"))
    audits = []
    for _ in range(max(1, args.repeat - 2)):
        t = time.perf_counter()
        res = led.verify()
        audits.append(time.perf_counter() - t)
        assert res.ok, res.problems
    rows.append((f"full audit of {n:,} entries ({res.checkpoints_checked} checkpoints)", f"{statistics.median(audits):.1f}", "s"))
    exports, offline = [], []
    for _ in range(max(1, args.repeat - 2)):  # a whole export, then an auditor's offline audit of it
        t = time.perf_counter()
        lines = list(export_lines(led))
        exports.append(time.perf_counter() - t)
        t = time.perf_counter()
        got = audit_export(lines, key)
        offline.append(time.perf_counter() - t)
        assert got.ok, got.problems
    rows.append((f"export of {n:,} entries ({sum(map(len, lines)) / 1e6:.1f} MB)", f"{statistics.median(exports):.1f}", "s"))
    rows.append(("  audited offline from the export (verify-export)", f"{statistics.median(offline):.1f}",
                 f"s ({statistics.median(offline) / statistics.median(audits):.1f}x the database audit)"))
    led.close()
    if args.originals_mb:
        rows.extend(originals_rows(fresh("originals"), args.originals_mb, args.repeat))
    if args.bundle_mb:
        rows.extend(bundle_rows(fresh("bundle"), args.bundle_mb, args.repeat))

    w = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(w)}  {'median':>10}  unit")
    print("-" * (w + 20))
    for label, val, unit in rows:
        print(f"{label.ljust(w)}  {val:>10}  {unit}")
    if args.dir is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
