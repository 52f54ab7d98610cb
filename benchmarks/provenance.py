"""Provenance-path speed: ``verify`` against its floor.

For a 1 MB JPEG, a 10 MB WAV and a 50 MB MP4 (generated, signed with a test
PKI so c2pa does full validation), prints the median time of:
  sha256  - hashing the file once (the floor: any verifier must read it);
  reader  - the raw c2pa Reader (validation with trust lists);
  signer  - the verifier's own check of the signer certificate's purpose on that reader
            (manifest store fetched, JUMBF and COSE header parsed, EKU read), part of verify;
  verify  - ``Verifier.verify`` in-process: SHA-256 + SHA-512 + copy into the
            evidence store + PyAV probe + c2pa + fusion (+ ledger append when
            --ledger is given);
and the ratio verify / (reader + sha256). Run: ``python -m benchmarks.provenance``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
import wave
from fractions import Fraction
from pathlib import Path

import av
import c2pa
import numpy as np
from PIL import Image

from benchmarks.timing import median_time
from fixtures.make_fixtures import make_test_pki
from provenance.c2pa_reader import C2paSession
from provenance.signer_cert import active_signer_purpose
from provenance.signing import sign_file
from provenance.trust import load_trust
from verifier.config import Settings
from verifier.pipeline import Verifier


def make_jpeg(path: Path, target: int) -> None:
    rng = np.random.default_rng(1)
    side = 900
    while True:
        Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(path, quality=85)
        if path.stat().st_size >= target:
            return
        side = int(side * 1.15)


def make_wav(path: Path, target: int) -> None:
    n = target // 2
    pcm = (np.random.default_rng(2).standard_normal(n) * 3000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(pcm.tobytes())


def make_mp4(path: Path, target: int) -> None:
    """Noise frames at a high quality setting: H.264 cannot compress them, so
    the file reaches the target size in a few seconds of encoding."""
    rng = np.random.default_rng(3)
    written = 0
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 640, 360, "yuv420p"
        s.options = {"preset": "ultrafast", "crf": "8"}
        i = 0
        while written < target:
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (360, 640, 3), dtype=np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            for p in s.encode(frame):
                written += p.size
                c.mux(p)
            i += 1
        for p in s.encode(None):
            c.mux(p)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--ledger", action="store_true", help="also append each verdict to a SQLite ledger")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pki = make_test_pki(d / "pki")
        cases = [("jpeg 1 MB", "x.jpg", make_jpeg, 1 << 20, "image/jpeg"),
                 ("wav 10 MB", "x.wav", make_wav, 10 << 20, "audio/wav"),
                 ("mp4 50 MB", "x.mp4", make_mp4, 50 << 20, "video/mp4")]
        settings = Settings(data_dir=d / "data", trust_anchors=(pki.root_cert,), record_to_ledger=args.ledger)
        verifier = Verifier(settings, detector_names=[])
        ledger = None
        if args.ledger:
            from verifier.cli import _ledger_writer, _open_ledger

            ledger = _open_ledger(settings)
            verifier.ledger_writer, verifier.ledger_origin = _ledger_writer(ledger), ledger.origin
        session = C2paSession(load_trust((pki.root_cert,)))
        print(f"{'file':<11}{'bytes':>11}{'sha256 ms':>11}{'reader ms':>11}{'signer ms':>11}{'verify ms':>11}{'ratio':>8}")
        for name, fname, maker, size, mime in cases:
            plain = d / ("plain-" + fname)
            maker(plain, size)
            signed = d / fname
            sign_file(plain, signed, cert_chain=pki.chain, key=pki.key)
            assert verifier.verify(signed).provenance.state.value == "trusted"

            def reader():
                with open(signed, "rb") as fh:
                    r = c2pa.Reader(mime, fh, context=session.context)
                    r.get_validation_results()
                    r.json()
                    r.close()

            def signer_check():
                with open(signed, "rb") as fh:
                    r = c2pa.Reader(mime, fh, context=session.context)
                    label = json.loads(r.json())["active_manifest"]
                    t0 = time.perf_counter()
                    assert active_signer_purpose(r, label).problem is None
                    spent = time.perf_counter() - t0
                    r.close()
                return spent

            t_hash = median_time(lambda: sha256_file(signed), args.repeat)
            t_reader = median_time(reader, args.repeat)
            t_signer = statistics.median(signer_check() for _ in range(args.repeat))
            t_verify = median_time(lambda: verifier.verify(signed), args.repeat)
            ratio = t_verify / (t_reader + t_hash)
            print(f"{name:<11}{signed.stat().st_size:>11}{t_hash*1e3:>11.1f}{t_reader*1e3:>11.1f}{t_signer*1e3:>11.2f}"
                  f"{t_verify*1e3:>11.1f}{ratio:>8.2f}")
        if ledger is not None:
            ledger.close()
    print("ratio = verify / (reader + sha256); medians of", args.repeat, "runs after one warm-up")


if __name__ == "__main__":
    main()
