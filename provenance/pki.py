"""A throwaway test PKI (root -> intermediate -> signing leaf) that c2pa accepts.

FOR TESTING ONLY: the keys are written unencrypted and the root is trusted by
nobody but the user who adds it with ``--trust-anchors``. c2pa requires of the
leaf: digitalSignature key usage, an accepted EKU (emailProtection here), an
authority key identifier, and a chain without the root.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TestPki:
    root_cert: Path  # the trust anchor to pass with --trust-anchors
    chain: Path  # leaf + intermediate, what the signer embeds
    key: Path  # leaf private key (PKCS#8 PEM, unencrypted)


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])


def _cert(subject, issuer, pub, signer_key, issuer_pub, *, ca: bool, path_len, not_before, not_after, leaf: bool,
          leaf_ekus: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.EMAIL_PROTECTION,)):
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_pub), critical=False)
    )
    if leaf:
        b = b.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        ).add_extension(x509.ExtendedKeyUsage(list(leaf_ekus)), critical=False)
    else:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    return b.sign(signer_key, hashes.SHA256())


def make_test_pki(
    out_dir: Path, *, name: str = "av-verifier TEST", leaf_lifetime: dt.timedelta = dt.timedelta(days=365),
    leaf_ekus: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.EMAIL_PROTECTION,),
) -> TestPki:
    """Write ``root.pem``, ``chain.pem`` and ``signer.key`` into ``out_dir``.

    A short ``leaf_lifetime`` (seconds) makes the expired-signer fixture: c2pa
    refuses to sign with an already expired certificate, so sign while it is
    valid and validate after it lapses; with no trusted timestamp c2pa then
    reports ``signingCredential.expired``. ``leaf_ekus`` other than the default make the
    leaf a certificate for other purposes (a time-stamping leaf, for the tests that a
    verifier must not take one as a content signer)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{name} Root CA", name)
    inter_name = _name(f"{name} Intermediate CA", name)
    leaf_name = _name(f"{name} Signer", name)
    root = _cert(root_name, root_name, root_key.public_key(), root_key, root_key.public_key(), ca=True, path_len=1,
                 not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=3650), leaf=False)
    inter = _cert(inter_name, root_name, inter_key.public_key(), root_key, root_key.public_key(), ca=True, path_len=0,
                  not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=1825), leaf=False)
    nb, na = now - dt.timedelta(days=1), now + leaf_lifetime
    leaf = _cert(leaf_name, inter_name, leaf_key.public_key(), inter_key, inter_key.public_key(), ca=False,
                 path_len=None, not_before=nb, not_after=na, leaf=True, leaf_ekus=leaf_ekus)
    pem = serialization.Encoding.PEM
    pki = TestPki(root_cert=out_dir / "root.pem", chain=out_dir / "chain.pem", key=out_dir / "signer.key")
    pki.root_cert.write_bytes(root.public_bytes(pem))
    pki.chain.write_bytes(leaf.public_bytes(pem) + inter.public_bytes(pem))
    pki.key.write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    pki.key.chmod(0o600)
    return pki
