"""The claim signer's own certificate, read from the active manifest's COSE signature.

Why we look at it ourselves: c2pa checks the signer against one set of anchors and one
list of accepted key purposes (EKUs), and that list must also accept time-stamping and
OCSP-responder certificates, because c2pa validates those against the same anchors. So a
time-stamping certificate issued under an anchor that the interim trust list carries for
time-stamps (two DigiCert time-stamping CAs) validates as a *trusted content signer*:
anyone holding a TSA responder key could sign content that reads as authentic. A
certificate made for time-stamps or OCSP responses is not a content signer, whatever it
chains to. c2pa-python exposes no certificate, so the signer is taken from the manifest
store's JUMBF boxes (ISO/IEC 19566-5) and the COSE_Sign1 header ``x5chain`` (RFC 9360),
decoded by ``cbor_raw`` (tags uninterpreted, repeated keys kept).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from provenance import cbor_raw
from provenance.isobox import box_header

# Purposes for which a certificate may sign content (C2PA's accepted EKUs minus the service ones).
CONTENT_SIGNING_EKUS = frozenset({
    ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string,  # id-kp-emailProtection
    "1.3.6.1.5.5.7.3.36",  # id-kp-documentSigning
    "1.3.6.1.4.1.311.76.59.1.9",  # Microsoft C2PA signing
    "1.3.6.1.4.1.62558.2.1",  # c2pa-kp-claimSigning
})
# Purposes of certificates that serve the signature (time-stamps, revocation answers), never sign content.
SERVICE_EKUS = {
    ExtendedKeyUsageOID.TIME_STAMPING.dotted_string: "time-stamping",
    ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string: "OCSP responses",
}

MAX_SIGNATURE_BYTES = 1 << 20  # a COSE signature with its chain is a few KB; refuse to decode more
_X5CHAIN = 33  # COSE header label (RFC 9360); early C2PA files used the text key
_COSE_SIGN1_TAG = 18
_JUMD_LABEL = 0x02  # description box toggle: a label follows the 16-byte type


class SignerCertificateError(ValueError):
    """The active manifest's signer certificate could not be found or parsed."""


@dataclass(frozen=True)
class SignerPurpose:
    subject: str
    ekus: tuple[str, ...]
    problem: str | None  # why this certificate may not sign content, or None


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, payload) of each box in ``data``; raises on a box that does not fit."""
    at = 0
    while at < len(data):
        box = box_header(data[at:at + 16], len(data) - at)
        if box is None or at + box.size > len(data):
            raise SignerCertificateError("JUMBF box header truncated or its size out of range")
        yield box.kind, data[at + box.header:at + box.size]
        at += box.size


def _label(superbox: bytes) -> tuple[str | None, list[tuple[bytes, bytes]]]:
    """A JUMBF superbox's label and its content boxes (after the description box)."""
    children = list(_boxes(superbox))
    if not children or children[0][0] != b"jumd":
        raise SignerCertificateError("JUMBF superbox without a description box")
    desc = children[0][1]
    label = None
    if len(desc) > 17 and desc[16] & _JUMD_LABEL:
        end = desc.find(b"\x00", 17)
        label = desc[17:end if end >= 0 else len(desc)].decode("utf-8", "replace")
    return label, children[1:]


def _only(children: list[tuple[bytes, bytes]], label: str) -> list[tuple[bytes, bytes]]:
    found = [kids for kind, payload in children if kind == b"jumb" for name, kids in [_label(payload)] if name == label]
    if len(found) != 1:
        raise SignerCertificateError(f"{len(found)} JUMBF boxes labelled {label!r} where one was expected")
    return found[0]


def signature_bytes(store: bytes, manifest_label: str) -> bytes:
    """The COSE_Sign1 bytes of ``manifest_label`` in a C2PA manifest store (a ``c2pa`` superbox)."""
    top = list(_boxes(store))
    if len(top) != 1 or top[0][0] != b"jumb":
        raise SignerCertificateError("the manifest store is not one JUMBF superbox")
    name, manifests = _label(top[0][1])
    if name != "c2pa":
        raise SignerCertificateError(f"the manifest store is labelled {name!r}, not 'c2pa'")
    signature = _only(_only(manifests, manifest_label), "c2pa.signature")
    cbor = [payload for kind, payload in signature if kind == b"cbor"]
    if len(cbor) != 1 or len(cbor[0]) > MAX_SIGNATURE_BYTES:
        raise SignerCertificateError("the signature box holds no single CBOR payload of a sane size")
    return cbor[0]


def leaf_certificate(cose: bytes) -> x509.Certificate:
    """The signer's certificate: the first of the ``x5chain`` that c2pa verifies with.

    c2pa takes the chain from the signed (protected) header, under key 33 or the text key
    "x5chain", and from the unsigned header (text key only) when the signed one has none. A
    header that names more than one distinct leaf is refused: which one c2pa used would then
    depend on encoding order, and a decoy beside a time-stamping chain passed this check. Keys
    nobody signs (the unsigned header when the signed one has a chain) are never read, so
    junk there cannot change the result."""
    try:
        sign1 = cbor_raw.decode(cose)
        if isinstance(sign1, cbor_raw.Tagged) and sign1.tag == _COSE_SIGN1_TAG:
            sign1 = sign1.value
        if not (isinstance(sign1, list) and len(sign1) == 4 and isinstance(sign1[0], bytes)
                and isinstance(sign1[1], cbor_raw.Pairs)):
            raise SignerCertificateError("the signature is not a COSE_Sign1 structure")
        protected = cbor_raw.decode(sign1[0]) if sign1[0] else cbor_raw.Pairs()
    except cbor_raw.CborError as exc:
        raise SignerCertificateError(f"the COSE signature cannot be decoded: {exc}") from None
    if not isinstance(protected, cbor_raw.Pairs):
        raise SignerCertificateError("the COSE protected header is not a map")
    chains = protected.values_of(_X5CHAIN, "x5chain") or sign1[1].values_of("x5chain")
    leaves = {_first_bytes(chain) for chain in chains}
    leaves.discard(None)
    if not leaves:
        raise SignerCertificateError("the COSE signature carries no x5chain certificate")
    if len(leaves) > 1:
        raise SignerCertificateError(f"the COSE header names {len(leaves)} different signer certificates")
    try:
        return x509.load_der_x509_certificate(leaves.pop())
    except ValueError as exc:
        raise SignerCertificateError(f"the signer certificate cannot be parsed: {exc}") from None


def _first_bytes(chain) -> bytes | None:
    """A chain is one certificate or an array whose first certificate is the leaf."""
    if isinstance(chain, bytes):
        return chain
    if isinstance(chain, list):
        return next((c for c in chain if isinstance(c, bytes)), None)
    return None


def signer_purpose(cert: x509.Certificate) -> SignerPurpose:
    try:
        ekus = tuple(o.dotted_string for o in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        ekus = ()
    except ValueError as exc:
        return SignerPurpose(cert.subject.rfc4514_string(), (), f"its key-usage extension cannot be parsed ({exc})")
    service = [SERVICE_EKUS[e] for e in ekus if e in SERVICE_EKUS]
    problem = None
    if service:
        problem = f"it is a certificate for {' and '.join(service)}, not for signing content"
    elif ekus and not CONTENT_SIGNING_EKUS.intersection(ekus):
        problem = "none of its key purposes (EKU) is content signing"
    return SignerPurpose(cert.subject.rfc4514_string(), ekus, problem)


def active_signer_purpose(reader, manifest_label: str) -> SignerPurpose:
    """Read the active manifest's signer certificate through a c2pa Reader."""
    buf = io.BytesIO()
    try:
        reader.resource_to_stream(f"self#jumbf=/c2pa/{manifest_label}/c2pa.signature", buf)
    except Exception as exc:  # c2pa raises its own error types for a missing resource
        raise SignerCertificateError(f"c2pa did not return the signature: {exc}") from None
    # c2pa-python 0.38 hands back the whole manifest store for this URI.
    return signer_purpose(leaf_certificate(signature_bytes(buf.getvalue(), manifest_label)))
