"""``verifier ledger ...`` and ``verifier keys ...`` commands (Typer sub-apps).

Exit codes: 0 ok, 2 input/usage error, 3 audit or verification failure
(``SECURITY ERROR``), 4 internal error. User errors print one line to stderr,
never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from verifier.config import Settings
from verifier.display import visible
from verifier.ledger.core import Ledger
from verifier.ledger.errors import (
    LedgerError,
    LedgerInputError,
    LedgerKeyError,
    LedgerStorageError,
    NoteError,
    ProofError,
    SecurityError,
    TimestampError,
)
from verifier.ledger.note import VerifierKey, b64
from verifier.ledger.receipt import Receipt, verify_receipt
from verifier.ledger.record import canonicalize_json_bytes

EXIT_OK, EXIT_USAGE, EXIT_VERIFY, EXIT_INTERNAL = 0, 2, 3, 4

ledger_app = typer.Typer(help="The signed verdict ledger: show, list, export, receipts, consistency proofs, audit.", no_args_is_help=True)
keys_app = typer.Typer(help="The ledger's Ed25519 signing key: init, show, export, rotate.", no_args_is_help=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default: $VERIFIER_DATA_DIR or the user data dir).")]
DbUrl = Annotated[str | None, typer.Option("--db", help="Ledger database URL (default: SQLite in the data dir, or $VERIFIER_LEDGER_URL).")]
Passphrase = Annotated[bool, typer.Option("--passphrase", help="Prompt for the key passphrase (else $VERIFIER_LEDGER_KEY_PASSPHRASE).")]

F = TypeVar("F", bound=Callable[..., Any])


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _guard(fn: F) -> F:
    """Map ledger exceptions to exit codes and one-line messages."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except SecurityError as exc:
            _err(f"SECURITY ERROR\n{exc}")
            raise typer.Exit(EXIT_VERIFY) from None
        except (NoteError, ProofError, TimestampError) as exc:
            _err(f"verification failed: {exc}")
            raise typer.Exit(EXIT_VERIFY) from None
        except (LedgerInputError, LedgerKeyError) as exc:
            _err(f"error: {exc}")
            raise typer.Exit(EXIT_USAGE) from None
        except LedgerStorageError as exc:
            _err(f"ledger storage error: {exc}")
            raise typer.Exit(EXIT_INTERNAL) from None
        except LedgerError as exc:
            _err(f"ledger error: {exc}")
            raise typer.Exit(EXIT_INTERNAL) from None
        except OSError as exc:
            _err(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}")
            raise typer.Exit(EXIT_USAGE) from None
        except Exception as exc:  # noqa: BLE001 - last resort: one line, internal error
            _err(f"internal error: {type(exc).__name__}: {exc}")
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper  # type: ignore[return-value]


def _settings(data_dir: Path | None, db: str | None) -> Settings:
    changes: dict[str, Any] = {}
    if data_dir is not None:
        changes["data_dir"] = data_dir
    if db is not None:
        changes["ledger_url"] = db
    return Settings().with_(**changes)


def _passphrase(prompt: bool) -> bytes | None:
    if not prompt:
        return None
    return typer.prompt("Ledger key passphrase", hide_input=True).encode("utf-8")


def _open(data_dir: Path | None, db: str | None, passphrase: bool = False, **kw: Any) -> Ledger:
    return Ledger.open(_settings(data_dir, db), passphrase=_passphrase(passphrase), **kw)


def _read_text(path: Path, what: str) -> str:
    """The file's text byte for byte: a signed note is checked on its exact bytes, so no newline
    translation (read_text turned a CRLF-edited receipt back into the signed one)."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise LedgerInputError(f"{what} file {path} not found") from None
    except UnicodeDecodeError:
        raise LedgerInputError(f"{what} file {path} is not UTF-8 text") from None


def _emit(text: str, out: Path | None) -> None:
    """A proof goes to ``out`` when given, else to stdout byte for byte (no added newline)."""
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)


def _parse_keys(values: list[str]) -> list[VerifierKey]:
    """Each --key is a verifier key string or a file containing one (or several, one per line)."""
    out = []
    for v in values:
        p = Path(v)
        texts = [v]
        if "+" not in v or p.is_file():
            texts = [line for line in _read_text(p, "verifier key").splitlines() if line.strip()]
        for t in texts:
            try:
                out.append(VerifierKey.parse(t))
            except NoteError as exc:
                raise LedgerInputError(f"bad verifier key {t[:60]!r}: {exc}") from None
    return out


# --- ledger commands ---------------------------------------------------------


@ledger_app.command("show")
@_guard
def show(
    index: Annotated[int, typer.Argument(help="Entry index (0-based).")],
    raw: Annotated[bool, typer.Option("--raw", help="Print exactly the bytes hashed into the leaf.")] = False,
    data_dir: DataDir = None,
    db: DbUrl = None,
) -> None:
    """Show one entry."""
    with _open(data_dir, db, readonly=True) as led:
        e = led.entry(index)
    if raw:
        sys.stdout.buffer.write(e.record)
        sys.stdout.buffer.flush()
        return
    typer.echo(json.dumps(
        {"index": e.index, "leaf_hash": e.leaf_hash.hex(), "appended_at": e.appended_at, "record": json.loads(e.record)},
        indent=2, ensure_ascii=False,
    ))


@ledger_app.command("list")
@_guard
def list_entries(
    start: Annotated[int, typer.Option(help="First index.")] = 0,
    limit: Annotated[int, typer.Option(help="How many entries.")] = 50,
    data_dir: DataDir = None,
    db: DbUrl = None,
) -> None:
    """List entries: index, leaf hash, time appended, schema."""
    with _open(data_dir, db, readonly=True) as led:
        rows = led.entries(start, limit)
        typer.echo(f"# {led.origin}  size {led.size}")
    for e in rows:
        try:
            schema = json.loads(e.record).get("schema") or json.loads(e.record).get("kind", "")
        except (ValueError, AttributeError):
            schema = ""
        typer.echo(f"{e.index}\t{e.leaf_hash.hex()}\t{e.appended_at}\t{schema}")


@ledger_app.command("export")
@_guard
def export(
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    data_dir: DataDir = None,
    db: DbUrl = None,
) -> None:
    """Export the whole log as JSON lines (entries with base64 record bytes, then checkpoints and keys)."""
    from verifier.ledger.export import export_lines

    fh = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        with _open(data_dir, db, readonly=True) as led:
            fh.writelines(export_lines(led))
    finally:
        if out:
            fh.close()


@ledger_app.command("receipt")
@_guard
def receipt(
    index: Annotated[int, typer.Argument(help="Entry index.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the receipt here (.tlog-proof).")] = None,
    data_dir: DataDir = None,
    db: DbUrl = None,
) -> None:
    """Print a receipt (C2SP tlog-proof) for an entry against the latest checkpoint."""
    with _open(data_dir, db, readonly=True) as led:
        text = led.receipt(index)
    _emit(text, out)


@ledger_app.command("checkpoint")
@_guard
def checkpoint(
    data_dir: DataDir = None,
    db: DbUrl = None,
    passphrase: Passphrase = False,
    adopt: Annotated[bool, typer.Option(
        "--adopt", help="Sign entries nothing vouches for yet (lazy checkpointing whose note beside the key a "
        "crash lost), after a full audit passes: you state that they are this ledger's own.")] = False,
) -> None:
    """Sign a checkpoint for the current log size now and print it."""
    with _open(data_dir, db, passphrase) as led:
        typer.echo(led.checkpoint(adopt=adopt), nl=False)


@ledger_app.command("verify-receipt")
@_guard
def verify_receipt_cmd(
    receipt_file: Annotated[Path, typer.Argument(metavar="RECEIPT", help="Receipt file (.tlog-proof).")],
    key: Annotated[list[str], typer.Option("--key", help="Trusted verifier key string, or a file holding it. Repeatable.")],
    record: Annotated[Path | None, typer.Option("--record", help="The record (JSON) the receipt is for.")] = None,
    origin: Annotated[str | None, typer.Option("--origin", help="Require this log origin.")] = None,
    media: Annotated[Path | None, typer.Option(
        "--media", help="Also check that this file is the one the record was made for (size, SHA-256, SHA-512).")] = None,
) -> None:
    """Check a receipt offline: signature, inclusion proof and (optionally) the record and the
    received file itself. No database."""
    from verifier.ledger.originals import check_media

    keys = _parse_keys(key)
    rec = canonicalize_json_bytes(record.read_bytes()) if record else None
    r = Receipt.parse(_read_text(receipt_file, "receipt").encode("utf-8"))
    check = verify_receipt(r, keys, record=rec, origin=origin)
    cp = check.checkpoint.checkpoint
    got = None
    if media is not None:  # checked before anything is printed: no "OK" line above a failure
        try:
            got = check_media(check.record, media).recorded
        except ProofError as exc:
            raise ProofError(f"the receipt verifies (entry {check.index} of log {cp.origin}), but {exc}") from None
    typer.echo(
        f"OK: entry {check.index} (leaf {check.leaf_hash.hex()}) is in log {cp.origin} "
        f"at size {cp.size}, root {b64(cp.root_hash)}, signed by "
        + ", ".join(k.key_id_hex for k in check.signed_by)
    )
    if got is not None:
        typer.echo(
            f"OK: {media} is byte for byte the file received as {got.name!r} at {got.received_at} "
            f"by {got.operator} ({got.hashes.size} bytes, SHA-256 {got.hashes.sha256})"
        )


@ledger_app.command("consistency")
@_guard
def consistency(
    old_size: Annotated[int, typer.Argument(metavar="OLD_SIZE", help="Tree size of the checkpoint the asker holds.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the proof here.")] = None,
    data_dir: DataDir = None,
    db: DbUrl = None,
) -> None:
    """Print a proof that the latest checkpoint extends the log at OLD_SIZE, for a holder of an older
    checkpoint or receipt (the body of a C2SP tlog-witness add-checkpoint request)."""
    from verifier.ledger.consistency import prove_extension

    with _open(data_dir, db, readonly=True) as led:
        text = prove_extension(led, old_size).encode()
    _emit(text, out)


@ledger_app.command("verify-consistency")
@_guard
def verify_consistency_cmd(
    saved: Annotated[Path, typer.Argument(metavar="SAVED", help="A checkpoint you kept, or a receipt (its checkpoint is used).")],
    proof: Annotated[Path, typer.Argument(metavar="PROOF", help="The proof from `ledger consistency` or GET /v1/ledger/consistency.")],
    key: Annotated[list[str], typer.Option("--key", help="Trusted verifier key string, or a file holding it. Repeatable "
                                           "(after a key rotation, give the old and the new key).")],
    origin: Annotated[str | None, typer.Option("--origin", help="Require this log origin.")] = None,
) -> None:
    """Check offline that the log today still extends a checkpoint (or receipt) saved earlier: nothing
    was rewritten, removed or forked since. No database."""
    from verifier.ledger.consistency import saved_checkpoint, verify_extension

    held = saved_checkpoint(_read_text(saved, "saved checkpoint"))
    try:
        check = verify_extension(held, _read_text(proof, "consistency proof"), _parse_keys(key), origin=origin)
    except ProofError as exc:  # both signatures are good, so the log itself contradicts what it signed
        _err("SECURITY ERROR")
        _err(f"ledger {held.checkpoint.origin} misbehavior detected: {exc}")
        raise typer.Exit(EXIT_VERIFY) from None
    new = check.new.checkpoint
    typer.echo(
        f"OK: log {new.origin} at size {new.size} (root {b64(new.root_hash)}) extends the checkpoint saved at "
        f"size {check.old.size} (root {b64(check.old.root_hash)}); signed by "
        + ", ".join(k.key_id_hex for k in check.signed_by)
    )


@ledger_app.command("verify-export")
@_guard
def verify_export_cmd(
    export_file: Annotated[Path, typer.Argument(metavar="EXPORT", help="The JSON lines of `ledger export` or GET /v1/ledger/export.")],
    key: Annotated[list[str], typer.Option("--key", help="The ledger's genesis key (verifier key string or file); "
                                           "later keys are followed through the signed rotation entries.")],
    from_checkpoint: Annotated[Path | None, typer.Option(
        "--from-checkpoint", help="A checkpoint or receipt you kept: the exported log must extend it.")] = None,
    tsa_roots: Annotated[Path | None, typer.Option("--tsa-roots", help="PEM file of trusted TSA roots.")] = None,
) -> None:
    """Audit a whole exported log offline, as `ledger verify` audits the database: every leaf, the tree,
    every checkpoint signature and root, key rotations, timestamps. No database of the operator's."""
    from verifier.ledger.consistency import saved_checkpoint
    from verifier.ledger.export import audit_export
    from verifier.ledger.tsa import load_roots

    saved = saved_checkpoint(_read_text(from_checkpoint, "saved checkpoint")).text if from_checkpoint else None
    roots = load_roots(tsa_roots) if tsa_roots else None
    if not export_file.exists():
        raise LedgerInputError(f"export file {export_file} not found")
    with export_file.open(encoding="utf-8", errors="strict") as fh:
        try:
            result = audit_export(fh, _parse_keys(key), from_checkpoint=saved, tsa_roots=roots)
        except UnicodeDecodeError:
            raise LedgerInputError(f"export file {export_file} is not UTF-8 text") from None
    _report_audit(result)


@ledger_app.command("bundle")
@_guard
def bundle_cmd(
    index: Annotated[int, typer.Argument(help="Entry index.")],
    out: Annotated[Path, typer.Option("--out", help="The bundle to write (.zip).")],
    no_original: Annotated[bool, typer.Option(
        "--no-original", help="Leave the received file out (too large to hand over, or no longer in the store).")] = False,
    store: Annotated[Path | None, typer.Option("--store", help="Evidence store (default: DATA_DIR/evidence).")] = None,
    data_dir: DataDir = None,
    db: DbUrl = None,
) -> None:
    """Write one zip for a court or an auditor: the received file, the record, its receipt, the
    evidence images, the report and the log's keys, each bound to the signed record."""
    from verifier.bundle import write_bundle
    from verifier.intake import EvidenceStore

    with _open(data_dir, db, readonly=True) as led:
        write_bundle(led, index, EvidenceStore(store or _settings(data_dir, db).evidence_dir), out,
                     include_original=not no_original)
    typer.echo(f"wrote {out} ({out.stat().st_size} bytes): check it with "
               f"`verifier ledger verify-bundle {out} --key KEY`")


@ledger_app.command("verify-bundle")
@_guard
def verify_bundle_cmd(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE", help="An evidence bundle (`ledger bundle`).")],
    key: Annotated[list[str], typer.Option("--key", help="Trusted verifier key string, or a file holding it, obtained "
                                           "independently of the bundle. Repeatable.")],
    origin: Annotated[str | None, typer.Option("--origin", help="Require this log origin.")] = None,
    skip_report: Annotated[bool, typer.Option(
        "--skip-report", help="Do not check report.html (a bundle made by another version of av-verifier renders "
        "differently); everything else is still checked, and the report is then not to be relied on.")] = False,
) -> None:
    """Check an evidence bundle offline: the receipt's signature and inclusion proof, and every
    member (received file, record, evidence images, report, README) against the signed record."""
    from verifier.bundle import verify_bundle

    res = verify_bundle(bundle, _parse_keys(key), origin=origin, check_report=not skip_report)
    cp = res.receipt.checkpoint.checkpoint
    v = res.verification
    for note in res.notes:
        _err(f"note: {note}")
    typer.echo(f"OK: entry {res.receipt.index} of log {cp.origin} (size {cp.size}), signed by "
               + ", ".join(k.key_id_hex for k in res.receipt.signed_by))
    if res.original:
        typer.echo(f"OK: {res.original} is byte for byte the file received as {v.input.name!r} at "
                   f"{v.input.received_at} by {v.input.operator} (SHA-256 {v.input.hashes.sha256})")
    typer.echo(f"OK: {res.artifacts} evidence image(s) match the record"
               + (f"; {res.artifacts_absent} sealed image(s) absent" if res.artifacts_absent else ""))
    if res.report_matches:
        typer.echo("OK: report.html is this tool's rendering of the signed record")
    typer.echo(visible(f"verdict recorded: {v.verdict.label.value}: {v.verdict.summary}"))


@ledger_app.command("verify")
@_guard
def verify(
    from_checkpoint: Annotated[Path | None, typer.Option("--from-checkpoint", help="A checkpoint saved earlier: prove the log extends it.")] = None,
    key: Annotated[list[str] | None, typer.Option("--key", help="Pin the ledger's genesis key (verifier key string or file).")] = None,
    tsa_roots: Annotated[Path | None, typer.Option("--tsa-roots", help="PEM file of trusted TSA roots.")] = None,
    originals: Annotated[bool, typer.Option(
        "--originals", help="Also hash every original the verdict records name, in the data dir's evidence "
        "store (or --store), and compare with the records.")] = False,
    store: Annotated[Path | None, typer.Option(
        "--store", help="Evidence store to check with --originals (default: DATA_DIR/evidence).")] = None,
    data_dir: DataDir = None,
    db: DbUrl = None,
) -> None:
    """Audit the whole log: leaves, tree, checkpoint signatures, consistency, timestamps; with
    --originals, also the received files the records name."""
    from verifier.ledger.originals import audit_originals
    from verifier.ledger.tsa import load_roots

    saved = _read_text(from_checkpoint, "checkpoint") if from_checkpoint else None
    keys = _parse_keys(key) if key else None
    roots = load_roots(tsa_roots) if tsa_roots else None
    with _open(data_dir, db, readonly=True) as led:
        result = led.verify(from_checkpoint=saved, trusted_keys=keys, tsa_roots=roots)
        held = (audit_originals(((e.index, e.record) for e in led.iter_entries()),
                                store or _settings(data_dir, db).evidence_dir) if originals else None)
    _report_audit(result, exit_on_failure=False)
    if held is not None:
        (typer.echo if held.ok else _err)(held.summary())
        for p in held.problems:
            _err(f"{p.code}: {p.message}")
    if not result.ok or (held is not None and not held.ok):
        raise typer.Exit(EXIT_VERIFY)



def _report_audit(result: Any, exit_on_failure: bool = True) -> None:
    """Warnings and problems to stderr (SECURITY ERROR first when evidence contradicts a signature),
    the summary to stdout when it passed."""
    for w in result.warnings:
        _err(f"warning: {w}")
    if result.ok:
        typer.echo(result.summary())
        return
    if result.security_failure:
        _err("SECURITY ERROR")
        _err(f"ledger {result.origin} misbehavior detected!\n")
    for p in result.problems:
        _err(f"{p.code}: {p.message}")
        if p.details:
            _err(p.details.rstrip("\n"))
    if exit_on_failure:
        raise typer.Exit(EXIT_VERIFY)


# --- key commands ------------------------------------------------------------


@keys_app.command("init")
@_guard
def keys_init(data_dir: DataDir = None, db: DbUrl = None, passphrase: Passphrase = False) -> None:
    """Create the ledger (and its signing key, mode 0600) if absent; print the verifier key."""
    s = _settings(data_dir, db)
    existed = s.ledger_key_path.exists()
    with Ledger.open(s, passphrase=_passphrase(passphrase)) as led:
        typer.echo(led.verifier_key.encode())
    _err(f"{'using existing' if existed else 'created'} key {s.ledger_key_path}")


@keys_app.command("show")
@_guard
def keys_show(data_dir: DataDir = None, db: DbUrl = None, passphrase: Passphrase = False) -> None:
    """Show the current key and every key the log has used."""
    s = _settings(data_dir, db)
    with Ledger.open(s, readonly=True) as led:  # public keys only: no private key, nothing created
        typer.echo(f"origin:   {led.origin}")
        typer.echo(f"key file: {s.ledger_key_path}")
        typer.echo(f"current:  {led.verifier_key.encode()}")
        for k in led.verifier_keys():
            typer.echo(f"key:      {k.encode()}")


@keys_app.command("export")
@_guard
def keys_export(data_dir: DataDir = None, db: DbUrl = None, passphrase: Passphrase = False) -> None:
    """Print the C2SP verifier key string of the current signing key (`keys init` creates one)."""
    with _open(data_dir, db, readonly=True) as led:  # what is handed to courts: read, never made here
        typer.echo(led.verifier_key.encode())


@keys_app.command("rotate")
@_guard
def keys_rotate(data_dir: DataDir = None, db: DbUrl = None, passphrase: Passphrase = False) -> None:
    """Replace the signing key; the change is recorded in the log, signed by both keys."""
    with _open(data_dir, db, passphrase) as led:
        old, new, idx = led.rotate_key()
    _err(f"rotated at entry {idx}: {old.key_id_hex} -> {new.key_id_hex}")
    typer.echo(new.encode())
