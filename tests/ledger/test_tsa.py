"""RFC 3161 timestamps from a local TSA: `openssl ts -reply` with a throwaway CA,
served over HTTP on 127.0.0.1 only (the one permitted test double)."""

from __future__ import annotations

import datetime as dt
import http.server
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verifier.config import Settings
from verifier.ledger import Ledger
from verifier.ledger.store import TABLE_NAMES

from .conftest import record

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _make_pki(d: Path) -> tuple[x509.Certificate, Path]:
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("Test TSA Root")).issuer_name(_name("Test TSA Root"))
        .public_key(ca_key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = (
        x509.CertificateBuilder().subject_name(_name("Test TSA")).issuer_name(ca.subject)
        .public_key(tsa_key.public_key()).serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "tsa.pem").write_bytes(tsa.public_bytes(serialization.Encoding.PEM))
    (d / "tsa.key").write_bytes(tsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (d / "serial").write_text("01\n")
    (d / "ts.cnf").write_text(f"""
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
dir = {d}
serial = {d}/serial
crypto_device = builtin
signer_cert = {d}/tsa.pem
signer_key = {d}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""")
    return ca, d / "ca.pem"


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[tuple[str, x509.Certificate, Path]]:
    d = tmp_path / "tsa"
    d.mkdir()
    ca, ca_path = _make_pki(d)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            n = int(self.headers.get("Content-Length", "0"))
            if n > 65536:
                self.send_error(413)
                return
            query = self.rfile.read(n)
            with lock:
                (d / "q.tsq").write_bytes(query)
                subprocess.run(
                    ["openssl", "ts", "-reply", "-config", str(d / "ts.cnf"), "-queryfile", str(d / "q.tsq"),
                     "-out", str(d / "r.tsr")], check=True, capture_output=True, timeout=30,
                )
                body = (d / "r.tsr").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 10
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", ca, ca_path
    finally:
        server.shutdown()
        server.server_close()


def test_checkpoints_are_timestamped_and_audited(settings: Settings, tsa: tuple[str, x509.Certificate, Path]) -> None:
    url, ca, ca_path = tsa
    led = Ledger.open(settings, tsa_url=url, tsa_roots=ca_path)
    for i in range(3):
        e = led.append(record(i))
        assert e.timestamp_error is None
    cps = led.checkpoints()
    assert len(cps) == 3 and all(c.timestamp for c in cps)
    res = led.verify()
    assert res.ok, res.problems
    assert res.timestamps_checked == 3

    # tamper with one stored token: flip a byte inside the signed TSTInfo
    path = settings.ledger_db_url.removeprefix("sqlite:///")
    con = sqlite3.connect(path, isolation_level=None)
    for t in TABLE_NAMES:
        con.execute(f"DROP TRIGGER IF EXISTS {t}_no_update")
        con.execute(f"DROP TRIGGER IF EXISTS {t}_no_delete")
    token = bytearray(con.execute("SELECT token FROM ledger_timestamp WHERE checkpoint_size = 2").fetchone()[0])
    token[len(token) // 2] ^= 0x01
    con.execute("UPDATE ledger_timestamp SET token = ? WHERE checkpoint_size = 2", (bytes(token),))
    res = led.verify()
    assert not res.ok
    assert res.problems[0].code == "timestamp"
    assert "timestamp token for checkpoint at size 2 does not verify" in res.problems[0].message

    # a token moved onto another checkpoint does not match that checkpoint's note
    good = con.execute("SELECT token FROM ledger_timestamp WHERE checkpoint_size = 1").fetchone()[0]
    con.execute("UPDATE ledger_timestamp SET token = ? WHERE checkpoint_size = 2", (good,))
    res = led.verify()
    assert not res.ok and "size 2" in res.problems[0].message

    # a deleted token is a gap the audit reports (red-team finding: it said nothing)
    con.execute("DELETE FROM ledger_timestamp WHERE checkpoint_size = 2")
    res = led.verify()
    assert any("1 of 3 checkpoints have no RFC 3161 timestamp token" in w for w in res.warnings), res.warnings
    led.close()


def test_untrusted_tsa_root_fails(settings: Settings, tsa: tuple[str, x509.Certificate, Path], tmp_path: Path) -> None:
    url, _, _ = tsa
    led = Ledger.open(settings, tsa_url=url)
    led.append(record(0))
    res = led.verify()
    assert res.ok and any("no TSA trust roots" in w for w in res.warnings)
    other = tmp_path / "other"
    other.mkdir()
    wrong_ca, _ = _make_pki(other)
    res = led.verify(tsa_roots=[wrong_ca])
    assert not res.ok and res.problems[0].code == "timestamp"
    led.close()


def test_tsa_outage_does_not_lose_the_verdict(settings: Settings) -> None:
    led = Ledger.open(settings, tsa_url="http://127.0.0.1:9/")
    e = led.append(record(0))
    assert e.index == 0 and e.receipt and e.timestamp_error and "unreachable" in e.timestamp_error
    assert led.verify().ok
    led.add_tsa_roots([_make_pki(settings.data_dir)[0]])  # a log set up for timestamps: the gap is reported
    assert any("no RFC 3161 timestamp token" in w for w in led.verify().warnings)
    led.close()
