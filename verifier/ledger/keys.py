"""The ledger's Ed25519 signing key on disk.

The private key is a PKCS#8 PEM file created with mode 0600 inside a 0700
directory, optionally encrypted with a passphrase (from
``VERIFIER_LEDGER_KEY_PASSPHRASE`` or given by the caller). Creation uses
O_EXCL so two processes opening a fresh ledger at once end up with one key,
not two.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.ledger.errors import LedgerKeyError
from verifier.ledger.note import NoteSigner, VerifierKey

PASSPHRASE_ENV = "VERIFIER_LEDGER_KEY_PASSPHRASE"


def env_passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


@dataclass(frozen=True)
class KeyFile:
    path: Path
    private_key: Ed25519PrivateKey

    def signer(self, name: str) -> NoteSigner:
        return NoteSigner(name=name, private_key=self.private_key)

    def verifier_key(self, name: str) -> VerifierKey:
        return self.signer(name).verifier_key


def _serialize(key: Ed25519PrivateKey, passphrase: bytes | None) -> bytes:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def write_new_key(path: Path, passphrase: bytes | None, key: Ed25519PrivateKey | None = None) -> KeyFile:
    """Create a key file that must not exist yet (mode 0600, parent 0700)."""
    key = key or Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Write a private temp file, then link it into place: the link fails if the key
    # exists, and no reader ever sees a half-written key.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_serialize(key, passphrase))
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
    except FileExistsError:
        raise LedgerKeyError(f"key file {path} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise LedgerKeyError(f"cannot create key file {path}: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return KeyFile(path=path, private_key=key)


def load_key(path: Path, passphrase: bytes | None) -> KeyFile:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LedgerKeyError(f"ledger key file {path} not found (run `verifier keys init`)") from None
    except OSError as exc:
        raise LedgerKeyError(f"cannot read ledger key file {path}: {exc.strerror}") from None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise LedgerKeyError(f"ledger key file {path} has mode {mode:o}; it must not be readable by others (chmod 600)")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        if passphrase:
            raise LedgerKeyError(f"ledger key file {path} is not encrypted but a passphrase was given") from None
        raise LedgerKeyError(
            f"ledger key file {path} is encrypted: set VERIFIER_LEDGER_KEY_PASSPHRASE or use --passphrase"
        ) from None
    except ValueError:
        raise LedgerKeyError(f"cannot decrypt or parse ledger key file {path} (wrong passphrase?)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerKeyError(f"ledger key file {path} does not hold an Ed25519 key")
    return KeyFile(path=path, private_key=key)


def load_or_create_key(path: Path, passphrase: bytes | None) -> tuple[KeyFile, bool]:
    """Load the key, creating it if absent. Returns (key, created)."""
    if path.exists():
        return load_key(path, passphrase), False
    try:
        return write_new_key(path, passphrase), True
    except LedgerKeyError:
        if path.exists():  # another process won the race
            return load_key(path, passphrase), False
        raise


def archive_path(path: Path, key_id_hex: str) -> Path:
    return path.with_name(f"{path.name}.{key_id_hex}.retired")


def next_path(path: Path) -> Path:
    """Where a rotation writes the new key before its commit."""
    return path.with_name(path.name + ".next")


@contextlib.contextmanager
def key_lock(path: Path, exclusive: bool) -> Iterator[None]:
    """A lock on the key: exclusive while rotating it, shared while signing with it.

    Always taken *before* the database's write lock, never while holding it, so the two
    cannot deadlock. Two rotations at once had archived one key over another and left the
    ledger with a current key nobody held; an append between a rotation's commit and its
    rename had found no key file at all."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def archive(path: Path, key_id_hex: str) -> Path:
    """Keep a copy of the key file under its retired name, never overwriting another file (a
    hard link: the key stays in place until the new one replaces it atomically)."""
    dest = archive_path(path, key_id_hex)
    n = 0
    while True:
        try:
            os.link(path, dest)
            return dest
        except FileExistsError:
            if dest.read_bytes() == path.read_bytes():
                return dest
            n += 1
            dest = archive_path(path, key_id_hex).with_name(f"{archive_path(path, key_id_hex).name}.{n}")


def set_aside(path: Path) -> Path:
    """A ``.next`` key that never became current (its rotation did not commit): kept, not deleted."""
    dest = path.with_name(f"{path.name}.{os.urandom(4).hex()}.abandoned")
    os.replace(path, dest)
    return dest
