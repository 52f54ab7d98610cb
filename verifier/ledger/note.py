"""C2SP signed notes (Ed25519) and tlog-checkpoint bodies.

Formats follow c2sp.org/signed-note and c2sp.org/tlog-checkpoint exactly, so
a checkpoint issued here can be checked with Go's ``golang.org/x/mod/sumdb/note``
or any other C2SP implementation, not only with this tool:

* a note is UTF-8 text ending in a newline, then a blank line, then one or more
  signature lines ``"\u2014 " <key name> " " base64(key ID || signature) "\n"``;
* the key ID of an Ed25519 key is SHA-256(name || 0x0A || 0x01 || pubkey)[:4];
* a verifier key string is ``<name>+<hex key ID>+base64(0x01 || pubkey)``;
* a checkpoint body is ``<origin>\n<decimal size>\n<base64 root>\n`` followed by
  optional extension lines.

Verification ignores signatures by keys it does not know (as the spec asks) but
fails if a known key's signature is invalid, and fails if no known key signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verifier.ledger.errors import NoteError

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # EM DASH + space
_B64_RE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def b64decode_strict(text: str, what: str) -> bytes:
    """Standard base64 with padding, nothing else accepted (no whitespace, no URL alphabet).

    Canonical too: the unused low bits of the last character before the
    padding must be zero. Otherwise several texts decode to the same bytes,
    and a receipt or checkpoint could be altered without failing any check,
    so "is this byte for byte the receipt we issued?" would have no answer."""
    if not _B64_RE.match(text) or len(text) % 4:
        raise NoteError(f"{what} is not standard base64: {text[:60]!r}")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise NoteError(f"{what} is not valid base64: {exc}") from None
    if b64(raw) != text:
        raise NoteError(f"{what} is not canonical base64 (the unused bits before its padding are not zero)")
    return raw


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _check_key_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"invalid key name {name!r}: must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes, alg: int = ALG_ED25519) -> bytes:
    """C2SP signed-note key ID: SHA-256(name || 0x0A || alg || key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _raw_public(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


_P = 2**255 - 19


def _canonical_point(enc: bytes) -> bool:
    """True if a 32-byte Edwards point encoding is canonical (y < p, no "negative zero" x)."""
    if len(enc) != 32:
        return False
    raw = int.from_bytes(enc, "little")
    y, sign = raw & ((1 << 255) - 1), raw >> 255
    if y >= _P:
        return False
    return not (sign and y in (1, _P - 1))  # x == 0 for these y: the sign bit must be 0


@dataclass(frozen=True)
class VerifierKey:
    """A named Ed25519 public key as used to verify signed notes."""

    name: str
    public_key: bytes  # 32 raw bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    @property
    def key_id_hex(self) -> str:
        return self.key_id.hex()

    def encode(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([ALG_ED25519]) + self.public_key)}"

    def __str__(self) -> str:
        return self.encode()

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        text = text.strip()
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise NoteError(f"verifier key must be <name>+<hex id>+<base64 key>, got {text[:80]!r}")
        name, hex_id, key_b64 = parts
        _check_key_name(name)
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise NoteError(f"verifier key ID must be 8 lowercase hex digits, got {hex_id!r}")
        raw = b64decode_strict(key_b64, "verifier key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("verifier key is not an Ed25519 key (type byte 0x01 + 32 bytes)")
        vk = cls(name=name, public_key=raw[1:])
        if not _canonical_point(vk.public_key):
            raise NoteError("verifier key is a non-canonical Ed25519 point encoding")
        if vk.key_id_hex != hex_id:
            raise NoteError(f"verifier key ID {hex_id} does not match its name and key ({vk.key_id_hex})")
        try:
            Ed25519PublicKey.from_public_bytes(vk.public_key)
        except ValueError as exc:
            raise NoteError(f"verifier key is not a valid Ed25519 point: {exc}") from None
        return vk

    def verify(self, message: bytes, signature: bytes) -> bool:
        # OpenSSL accepts some non-canonical point encodings; RFC 8032 and FIPS 186-5
        # require rejecting them, and a signature must have exactly one valid encoding.
        if len(signature) != 64 or not _canonical_point(self.public_key) or not _canonical_point(signature[:32]):
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """A named Ed25519 private key that signs notes."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_key_name(self.name)

    @property
    def verifier_key(self) -> VerifierKey:
        return VerifierKey(self.name, _raw_public(self.private_key.public_key()))

    def signature_line(self, text: str) -> str:
        sig = self.private_key.sign(text.encode("utf-8"))
        return f"{SIG_PREFIX}{self.name} {b64(self.verifier_key.key_id + sig)}\n"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes  # without the key ID

    def line(self) -> str:
        return f"{SIG_PREFIX}{self.name} {b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """A parsed signed note: the signed text and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...] = field(default_factory=tuple)

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    for ch in text:
        if ch != "\n" and (ord(ch) < 0x20 or ord(ch) == 0x7F):
            raise NoteError(f"note text contains control character U+{ord(ch):04X}")


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Return the complete signed note for ``text`` (which must end in a newline)."""
    _check_text(text)
    if not signers:
        raise NoteError("a signed note needs at least one signer")
    return text + "\n" + "".join(s.signature_line(text) for s in signers)


def parse_note(data: str | bytes) -> Note:
    """Split a signed note into text and signatures, checking the format strictly."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("signed note is not valid UTF-8") from None
    if "\r" in data:
        raise NoteError("signed note must use LF line endings, found CR")
    if data.endswith("\n\n"):  # the usual copy-and-paste damage; byte-strict, so say what to remove
        raise NoteError("signed note ends with an extra blank line (added when it was copied or echoed?): "
                        "it must end right after the last signature line's newline; remove the blank line")
    split = data.rfind("\n\n")
    if split < 0:
        raise NoteError("signed note has no blank line before its signatures")
    text, sig_block = data[: split + 1], data[split + 2 :]
    _check_text(text)
    if not sig_block.endswith("\n"):
        raise NoteError("signed note must end with a newline after the last signature")
    sigs = []
    for line in sig_block[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"malformed signature line {line[:60]!r}: must start with an em dash")
        name, sep, encoded = line[len(SIG_PREFIX) :].partition(" ")
        if not sep or " " in encoded:
            raise NoteError(f"malformed signature line {line[:60]!r}")
        _check_key_name(name)
        raw = b64decode_strict(encoded, f"signature of {name}")
        if len(raw) < 5:
            raise NoteError(f"signature of {name} is too short")
        sigs.append(NoteSignature(name=name, key_id=raw[:4], signature=raw[4:]))
    if not sigs:
        raise NoteError("signed note has no signatures")
    return Note(text=text, signatures=tuple(sigs))


def verify_note(data: str | bytes | Note, keys: Iterable[VerifierKey]) -> tuple[Note, list[VerifierKey]]:
    """Verify a note against trusted keys; return it and the keys whose signatures verified.

    Raises :class:`NoteError` if a known key's signature is bad or no known key signed.
    """
    note = data if isinstance(data, Note) else parse_note(data)
    known = {(k.name, k.key_id): k for k in keys}
    if not known:
        raise NoteError("no verifier keys given: refusing to accept an unverified note")
    msg = note.text.encode("utf-8")
    good: list[VerifierKey] = []
    for sig in note.signatures:
        key = known.get((sig.name, sig.key_id))
        if key is None:
            continue
        if not key.verify(msg, sig.signature):
            raise NoteError(f"invalid signature by {sig.name} (key ID {sig.key_id.hex()})")
        good.append(key)
    if not good:
        names = ", ".join(f"{s.name}/{s.key_id.hex()}" for s in note.signatures)
        raise NoteError(f"note is not signed by any trusted key (signed by: {names})")
    return note, good


# --- checkpoints -------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        if not self.origin or "\n" in self.origin:
            raise NoteError(f"invalid checkpoint origin {self.origin!r}")
        ext = "".join(f"{line}\n" for line in self.extensions)
        return f"{self.origin}\n{self.size}\n{b64(self.root_hash)}\n{ext}"

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("checkpoint body needs origin, size and root hash lines, each ending in a newline")
        origin, size_s, root_s, *ext = lines[:-1]
        if not origin:
            raise NoteError("checkpoint origin line is empty")
        if not re.fullmatch(r"0|[1-9][0-9]*", size_s):
            raise NoteError(f"checkpoint size {size_s!r} is not a decimal number without leading zeros")
        root = b64decode_strict(root_s, "checkpoint root hash")
        if len(root) != 32:
            raise NoteError(f"checkpoint root hash must be 32 bytes, got {len(root)}")
        if any(line == "" for line in ext):
            raise NoteError("checkpoint extension lines must not be empty")
        return cls(origin=origin, size=int(size_s), root_hash=root, extensions=tuple(ext))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint together with the full signed note text it came from."""

    checkpoint: Checkpoint
    note: Note

    @property
    def text(self) -> str:
        return self.note.encode()

    @classmethod
    def parse(cls, data: str | bytes) -> SignedCheckpoint:
        note = parse_note(data)
        return cls(checkpoint=Checkpoint.parse_body(note.text), note=note)

    def verify(self, keys: Iterable[VerifierKey], *, origin: str | None = None) -> list[VerifierKey]:
        """Check origin and signatures; C2SP requires the log key name to equal the origin."""
        if origin is not None and self.checkpoint.origin != origin:
            raise NoteError(f"checkpoint is for log {self.checkpoint.origin!r}, expected {origin!r}")
        log_keys = [k for k in keys if k.name == self.checkpoint.origin]
        if not log_keys:
            raise NoteError(f"no trusted key named {self.checkpoint.origin!r} (the checkpoint origin)")
        _, good = verify_note(self.note, log_keys)
        return good


def sign_checkpoint(cp: Checkpoint, signers: Sequence[NoteSigner]) -> SignedCheckpoint:
    text = sign_note(cp.body(), signers)
    return SignedCheckpoint.parse(text)
