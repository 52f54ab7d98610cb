"""Trust material handed to c2pa: bundled lists plus the user's own anchors.

The bundled files are public trust data, like a CA bundle (see
``provenance/trust/README.md`` for origin and date). The EKU configuration
(``store.cfg``) is required: without it c2pa rejects real signers whose
certificates carry vendor EKUs (Microsoft's, for one) as invalid.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from verifier.errors import ConfigError

BUNDLED_ANCHORS = ("C2PA-TRUST-LIST.pem", "interim-anchors.pem")
BUNDLED_TSA = "C2PA-TSA-TRUST-LIST.pem"
BUNDLED_EKU_CONFIG = "store.cfg"


def _bundled(name: str) -> str:
    return resources.files("provenance").joinpath("trust", name).read_text(encoding="ascii")


def _with_newline(pem: str) -> str:
    # Concatenating PEM files that lack a final newline glues two armour lines
    # together and c2pa then silently drops the second certificate.
    return pem if pem.endswith("\n") else pem + "\n"


def read_user_anchors(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"trust anchors {path}: cannot read ({exc.strerror})") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        try:
            certs = [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise ConfigError(f"trust anchors {path}: not a PEM or DER certificate file") from None
    return "".join(c.public_bytes(Encoding.PEM).decode("ascii") for c in certs)


@dataclass(frozen=True)
class TrustMaterial:
    anchors_pem: str
    eku_config: str
    user_anchor_count: int

    @property
    def sha256(self) -> str:
        """Identifies the exact trust configuration a verdict was reached under."""
        h = hashlib.sha256()
        h.update(self.anchors_pem.encode())
        h.update(b"\x00")
        h.update(self.eku_config.encode())
        return h.hexdigest()

    def c2pa_settings(self, *, remote_manifest_fetch: bool, ocsp_fetch: bool) -> dict:
        return {
            "verify": {
                "verify_trust": True,
                "remote_manifest_fetch": remote_manifest_fetch,
                "ocsp_fetch": ocsp_fetch,
            },
            "trust": {"trust_anchors": self.anchors_pem, "trust_config": self.eku_config},
        }


def load_trust(user_anchor_files: tuple[Path, ...] = ()) -> TrustMaterial:
    anchors = "".join(_with_newline(_bundled(n)) for n in BUNDLED_ANCHORS)
    user = "".join(_with_newline(read_user_anchors(p)) for p in user_anchor_files)
    return TrustMaterial(
        anchors_pem=anchors + user,
        eku_config=_with_newline(_bundled(BUNDLED_EKU_CONFIG)),
        user_anchor_count=len(user_anchor_files),
    )
