"""Issue Content Credentials for one's own media (publishers, capture teams).

Thumbnails are off by default: they make signing about ten times slower and
the verifier does not need them. The signing algorithm is derived from the
key, so a user cannot pair an EC key with an RSA algorithm by mistake.
"""

from __future__ import annotations

import json
from pathlib import Path

import c2pa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from verifier import __version__
from verifier.errors import SigningError
from verifier.media import sniff_file

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def _alg_for_key(key_pem: bytes) -> bytes:
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"signing key is not an unencrypted PEM private key: {exc}") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: b"es256", 384: b"es384", 521: b"es512"}[key.curve.key_size]
    if isinstance(key, rsa.RSAPrivateKey):
        return b"ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return b"ed25519"
    raise SigningError(f"unsupported key type {type(key).__name__}")


def manifest_definition(title: str, *, ai_generated: bool, source_type: str | None = None) -> dict:
    dst = "trainedAlgorithmicMedia" if ai_generated else (source_type or "digitalCapture")
    return {
        "claim_generator_info": [{"name": "av-verifier", "version": __version__}],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": IPTC + dst}]},
            }
        ],
    }


def sign_file(
    src: Path,
    dst: Path,
    *,
    cert_chain: Path,
    key: Path,
    ai_generated: bool = False,
    tsa_url: str | None = None,
    thumbnails: bool = False,
    definition: dict | None = None,
    ingredients: tuple[tuple[dict, Path], ...] = (),
) -> None:
    """Sign ``src`` into ``dst``. ``definition`` replaces the default manifest (created, capture or
    AI source type); ``ingredients`` are (ingredient JSON, file) pairs, e.g. the parent of an edit."""
    try:
        chain_pem, key_pem = cert_chain.read_bytes(), key.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read certificate or key: {exc}") from None
    mime = sniff_file(src).mime_type
    if src.resolve() == dst.resolve():
        raise SigningError("output must differ from input (the original is never modified)")
    info = c2pa.C2paSignerInfo(
        alg=_alg_for_key(key_pem),
        sign_cert=chain_pem,
        private_key=key_pem,
        ta_url=tsa_url.encode() if tsa_url else None,
    )
    settings = {"builder": {"thumbnail": {"enabled": thumbnails}}}
    try:
        context = c2pa.Context.from_dict(settings)
        signer = c2pa.Signer.from_info(info)
        builder = c2pa.Builder(definition or manifest_definition(src.name, ai_generated=ai_generated), context=context)
        for ingredient, path in ingredients:
            with open(path, "rb") as fh:
                builder.add_ingredient(ingredient, sniff_file(path).mime_type, fh)
        tmp = dst.with_name(dst.name + ".partial")
        with open(src, "rb") as fin, open(tmp, "w+b") as fout:
            builder.sign(signer, mime, fin, fout)
        tmp.replace(dst)
    except c2pa.C2paError as exc:
        raise SigningError(f"c2pa refused to sign {src}: {' '.join(str(exc).split())}") from None
    except OSError as exc:
        raise SigningError(f"cannot write {dst}: {exc.strerror}") from None


def manifest_json(path: Path) -> str:
    return json.dumps(manifest_definition(path.name, ai_generated=False), indent=2)
