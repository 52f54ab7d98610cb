"""Evidence bundles: one file that carries a verdict, the received bytes and the proof.

Legal intake is asked, months later, to show what it received, what it found and
that nothing changed since. The pieces exist separately (the original in the
evidence store, the record in the ledger, a receipt, the report, the evidence
images); handed over one by one, each invites the question whether it is the
right one. A bundle is a zip of all of them that checks as a whole, offline:

- ``receipt.tlog-proof``: the C2SP tlog-proof, carrying the canonical record bytes;
  the only signed member. Everything else is bound to it:
- ``record.json``: the same record bytes, for reading;
- ``original/NAME``: the received file (its size, SHA-256 and SHA-512 are in the record);
- ``artifacts/...``: the evidence images (their SHA-256 are in the record);
- ``report.html``: rendered from the record with those images; a checker renders it
  again and compares, so the page cannot say something the record does not;
- ``README.txt``: what it is and how to check it by hand, also derived from the record.

Every member is either signed (the receipt) or derived from what is signed, so the
checker can recompute or re-hash all of them; nothing in the zip is taken on its word
(an earlier layout carried a member list, the log's keys and the tool version in
unchecked files, and a forged report passed by claiming an older version). The log's
key is never in the bundle: it must come from the operator, independently. A member
the record does not cover, a name not of the bundle's own making, a second copy of a
name, bytes before the first member or an archive comment make the check fail.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from verifier.artifacts import from_files, matches
from verifier.enrolment_log import ENROLMENT_PREFIX
from verifier.evidence import Artifact, LedgerRef, Verification
from verifier.intake import EvidenceStore, hash_stream
from verifier.ledger.errors import LedgerInputError, ProofError
from verifier.ledger.note import VerifierKey
from verifier.ledger.originals import recorded_input
from verifier.ledger.receipt import Receipt, ReceiptCheck, verify_receipt
from verifier.ledger.record import ROTATION_PREFIX

BUNDLE_FORMAT = "av-verifier/evidence-bundle/v1"
RECEIPT, RECORD, REPORT, README = "receipt.tlog-proof", "record.json", "report.html", "README.txt"
ORIGINAL_NAME = re.compile(r"original/[A-Za-z0-9][A-Za-z0-9._-]{0,119}")
MAX_MEMBERS = 512  # a record has a handful of findings with a few images each
MAX_TEXT_BYTES = 64 << 20  # any member but the original (a report embeds its images)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same entry bundles to the same member bytes


@dataclass(frozen=True)
class BundleCheck:
    """A bundle that verified: what it holds and what it could not show."""

    receipt: ReceiptCheck
    verification: Verification
    original: str | None  # member name, or None when the bundle was made without it
    artifacts: int  # evidence images present and matching the record
    artifacts_absent: int  # sealed in the record but not in the bundle (their files were gone or altered)
    report_matches: bool  # report.html is this tool's rendering of the signed record
    notes: list[str] = field(default_factory=list)


def _safe_name(name: str, fallback: str) -> str:
    """A member name from a name someone else chose (the submitted file's): no directories,
    nothing a zip tool would read as a path."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip("._-")
    return base[:120] or fallback


def artifact_member(finding_index: int, artifact_index: int, art: Artifact) -> str:
    ext = {"image/jpeg": "jpg", "image/svg+xml": "svg"}.get(art.media_type, "png")
    return f"artifacts/{finding_index}-{artifact_index}-{_safe_name(art.kind, 'image')}.{ext}"


def _sealed(v: Verification) -> Iterable[tuple[str, Artifact]]:
    for fi, f in enumerate(v.findings):
        for ai, art in enumerate(f.artifacts):
            if art.sha256:
                yield artifact_member(fi, ai, art), art


def _verification(record: bytes, check_index: int, origin: str, leaf_hash: bytes, receipt: str) -> Verification:
    if record.startswith(ROTATION_PREFIX):
        raise LedgerInputError("this entry is a key-rotation record: there is no verdict to bundle")
    if record.startswith(ENROLMENT_PREFIX):
        raise LedgerInputError("this entry records an enrolment (a person's reference): there is no verdict to bundle")
    try:
        doc = json.loads(record)
        v = Verification.model_validate(doc["verification"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LedgerInputError(f"the entry is not a verdict record this tool can read: {str(exc)[:200]}") from None
    return v.model_copy(update={"ledger": LedgerRef(index=check_index, origin=origin, leaf_hash=leaf_hash.hex(),
                                                    receipt=receipt)})


def _render(v: Verification, images: dict[str, bytes]) -> bytes:
    from verifier.report import render_html

    return render_html(v, artifacts=lambda art: images.get(art.sha256 or "")).encode("utf-8")


def _readme(v: Verification, original: str | None) -> str:
    """The bundle's README, a function of the record alone (the checker renders it again)."""
    lines = [
        f"Evidence bundle ({BUNDLE_FORMAT})",
        "",
        f"Received file: {v.input.name!r} at {v.input.received_at} by {v.input.operator!r}",
        f"  size {v.input.hashes.size} bytes, SHA-256 {v.input.hashes.sha256}",
        f"Verdict: {v.verdict.label.value}: {v.verdict.summary}",
        f"Ledger entry {v.ledger.index if v.ledger else '?'} of log {v.ledger.origin if v.ledger else '?'}",
        "",
        "Check everything in it, offline, with the log's public key obtained from its operator",
        "independently of this bundle (`verifier keys export` on the operator's side prints it):",
        "",
        "    verifier ledger verify-bundle THIS.zip --key KEY",
        "",
        "By hand: unzip, then",
        "",
        "    verifier ledger verify-receipt receipt.tlog-proof --key KEY --record record.json"
        + (f" --media {original}" if original else " --media RECEIVED_FILE"),
        "",
        "and compare each file in artifacts/ with the sha256 the record gives it.",
        "" if original else "This bundle was made without the received file: check a copy of it with --media as above.",
    ]
    return "\n".join(lines) + "\n"


def original_member(v: Verification) -> str:
    return "original/" + _safe_name(v.input.name, "received")


def write_bundle(ledger, index: int, store: EvidenceStore, out: Path, include_original: bool = True) -> Path:
    """Bundle entry ``index`` of ``ledger`` (a :class:`verifier.ledger.Ledger`) into ``out``.

    The original is hashed against the record as it is packed: a store whose copy has changed
    makes no bundle (``ProofError``), and a missing one needs ``include_original=False``.
    """
    raw = ledger.raw(index)
    receipt_text = ledger.receipt(index)
    check = verify_receipt(receipt_text, ledger.verifier_keys(), record=raw)
    v = _verification(raw, index, ledger.origin, check.leaf_hash, receipt_text)
    recorded = recorded_input(raw)
    member = None
    original_path = None
    if include_original:
        original_path = store.path_for(recorded.hashes.sha256)
        if not original_path.is_file():
            raise LedgerInputError(f"the original of entry {index} ({recorded.hashes.sha256}) is not in the evidence "
                                   f"store {store.root}: make the bundle with --no-original, and see "
                                   "`verifier ledger verify --originals`")
        member = original_member(v)
    images: dict[str, bytes] = {}
    members: list[tuple[str, bytes]] = []
    for name, art in _sealed(v):
        data = from_files(art)  # read capped, shown only if it still matches its seal
        if data is not None:
            images[art.sha256 or ""] = data
            members.append((name, data))
    members = [
        (README, _readme(v, member).encode("utf-8")),
        (RECEIPT, receipt_text.encode("utf-8")),
        (RECORD, raw),
        (REPORT, _render(v, images)),
        *members,
    ]

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for name, data in members:
                zf.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
            if member and original_path is not None:
                info = zipfile.ZipInfo(member, ZIP_TIME)
                info.compress_type = zipfile.ZIP_STORED  # media is compressed already
                with original_path.open("rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                    packed = hash_stream(_Tee(src, dst))  # hashed as it is packed: one read of the file
                if packed != recorded.hashes:
                    diff = "; ".join(f"{k} {getattr(packed, k)}, recorded {getattr(recorded.hashes, k)}"
                                     for k in ("size", "sha256") if getattr(packed, k) != getattr(recorded.hashes, k))
                    raise ProofError(f"{original_path} is not the file this record was made for ({diff or 'SHA-512 differs'}): "
                                     "the evidence store's copy has changed; see `verifier ledger verify --originals`")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


class _Tee:
    """A reader that writes what it reads to ``dst``."""

    def __init__(self, src: BinaryIO, dst: BinaryIO) -> None:
        self.src, self.dst = src, dst

    def read(self, n: int = -1) -> bytes:
        chunk = self.src.read(n)
        self.dst.write(chunk)
        return chunk


def _read_member(zf: zipfile.ZipFile, name: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise ProofError(f"bundle member {name} declares {info.file_size} bytes, more than any such member holds")
    with zf.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ProofError(f"bundle member {name} is larger than it declares")
    return data


_EOCD, _Z64_LOCATOR, _Z64_EOCD, _LOCAL = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06", b"PK\x03\x04"


def _every_byte_accounted(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """The file is exactly what a bundle writer makes: local entries tiling it from byte 0 in
    directory order (no data descriptors, no encryption, names as in the directory), then the
    one central directory, then the end records, the classic one last and agreeing with the
    zip64 one. Zip tools disagree on which directory to believe when a file holds two (Python
    follows the zip64 locator, unzip the classic record): a bundle whose checker and reader
    could see different members passed verify-bundle while unzip showed a forged report."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        def at(offset: int, n: int) -> bytes:
            if offset < 0 or offset + n > size:
                raise ProofError("the bundle's zip structure points outside the file")
            fh.seek(offset)
            return fh.read(n)

        eocd_at = size - 22
        sig, _, _, _, n_total, cd_size, cd_off, comment = struct.unpack("<4sHHHHIIH", at(eocd_at, 22))
        if sig != _EOCD or comment:
            raise ProofError("the bundle does not end with its zip end record (trailing bytes, or a comment)")
        end_of_cd = eocd_at
        if eocd_at >= 20 and at(eocd_at - 20, 4) == _Z64_LOCATOR:
            _, _, z64_at, _ = struct.unpack("<4sIQI", at(eocd_at - 20, 20))
            (sig64, rec_size, _, _, _, _, _, n64, cd_size64, cd_off64) = struct.unpack("<4sQHHIIQQQQ", at(z64_at, 56))
            if sig64 != _Z64_EOCD or rec_size != 44 or z64_at + 56 != eocd_at - 20:
                raise ProofError("the bundle's zip64 end record is not where its locator says, or carries extra data")
            for classic, wide, sentinel in ((n_total, n64, 0xFFFF), (cd_size, cd_size64, 0xFFFFFFFF),
                                            (cd_off, cd_off64, 0xFFFFFFFF)):
                if classic not in (sentinel, wide):
                    raise ProofError("the bundle's two end records name different central directories")
            n_total, cd_size, cd_off, end_of_cd = n64, cd_size64, cd_off64, z64_at
        if cd_off + cd_size != end_of_cd or n_total != len(infos):
            raise ProofError("the bundle holds bytes between its central directory and its end record, or a "
                             "directory other than the one its end record names")
        pos = 0
        for info in sorted(infos, key=lambda i: i.header_offset):
            if info.header_offset != pos:
                raise ProofError(f"the bundle holds bytes no member accounts for before {info.filename!r}")
            sig, _, flags, _, _, _, _, _, _, n_len, e_len = struct.unpack("<4sHHHHHIIIHH", at(pos, 30))
            if sig != _LOCAL or flags & 0x09 or at(pos + 30, n_len) != info.filename.encode("utf-8"):
                raise ProofError(f"member {info.filename!r}: its local header is not the one the directory describes")
            pos += 30 + n_len + e_len + info.compress_size
        if pos != cd_off:
            raise ProofError("the bundle holds bytes no member accounts for before its central directory")


def _layout(zf: zipfile.ZipFile, path: Path) -> list[str]:
    """The member names, if the zip is laid out as a bundle is written: the first member at the
    start of the file, no archive comment, every name once and of the bundle's own making.
    Anything else is something a tool other than this checker might show instead."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise LedgerInputError(f"{path} has {len(infos)} members: not an evidence bundle")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise ProofError("the bundle holds two members under one name: which one a reader sees depends on the tool")
    if zf.comment:
        raise ProofError("the bundle carries an archive comment (a zip tool may display it): bundles have none")
    if infos and min(i.header_offset for i in infos) != 0:
        raise ProofError("the bundle has bytes before its first member (a zip tool reading from the start would "
                         "see other files): bundles start with a member")
    odd = [n for n in names if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?", n)]
    if odd:
        raise ProofError(f"the bundle holds a member whose name it would never write: {odd[0]!r}")
    _every_byte_accounted(path, infos)
    return names


def verify_bundle(path: Path, keys: list[VerifierKey], origin: str | None = None,
                  check_report: bool = True) -> BundleCheck:
    """Check every member of the bundle at ``path`` against the signed record; raise
    :class:`ProofError` on any mismatch, :class:`LedgerInputError` on what is not a bundle.
    ``check_report=False`` (the CLI's ``--skip-report``) leaves report.html unchecked, for a
    bundle rendered by another version of this tool; the result says so."""
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise LedgerInputError(f"bundle {path} not found") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise LedgerInputError(f"{path} is not an evidence bundle (not a readable zip: {exc})") from None
    try:
        with zf:
            return _verify_members(zf, path, keys, origin, check_report)
    except zipfile.BadZipFile as exc:  # a member whose local header disagrees with the directory, a bad CRC
        raise ProofError(f"the bundle's zip structure is inconsistent: {exc}") from None


def _verify_members(zf: zipfile.ZipFile, path: Path, keys: list[VerifierKey], origin: str | None,
                    check_report: bool) -> BundleCheck:
    names = _layout(zf, path)
    if RECEIPT not in names:
        raise LedgerInputError(f"{path} is not an evidence bundle: it has no {RECEIPT}")
    receipt_text = _read_member(zf, RECEIPT)
    check = verify_receipt(Receipt.parse(receipt_text), keys, origin=origin)
    record = check.record
    covered = {RECEIPT}
    notes: list[str] = []
    if RECORD in names:
        if _read_member(zf, RECORD) != record:
            raise ProofError(f"{RECORD} is not the record the receipt carries")
        covered.add(RECORD)

    cp = check.checkpoint.checkpoint
    v = _verification(record, check.index, cp.origin, check.leaf_hash, receipt_text.decode("utf-8"))
    original: str | None = original_member(v)
    assert original is not None and ORIGINAL_NAME.fullmatch(original)
    if original in names:
        recorded = recorded_input(record).hashes
        with zf.open(original) as fh:
            found = hash_stream(fh, max_bytes=recorded.size)
        if found != recorded:
            raise ProofError(f"{original} is not the file the record was made for (size {found.size}, "
                             f"SHA-256 {found.sha256}; recorded {recorded.size}, {recorded.sha256})")
        covered.add(original)
    else:
        original = None
        notes.append("the bundle does not hold the received file: check it with "
                     "`verifier ledger verify-receipt receipt.tlog-proof --key KEY --media FILE`")

    if README in names:
        if _read_member(zf, README) != _readme(v, original).encode("utf-8"):
            raise ProofError(f"{README} does not say what the signed record says (it differs from the text derived "
                             "from the record)")
        covered.add(README)

    images: dict[str, bytes] = {}
    absent = 0
    for name, art in _sealed(v):
        if name not in names:
            absent += 1
            continue
        data = _read_member(zf, name)
        if not matches(art, data):
            raise ProofError(f"{name} is not the evidence image the record sealed (SHA-256 "
                             f"{hashlib.sha256(data).hexdigest()}, recorded {art.sha256})")
        images[art.sha256 or ""] = data
        covered.add(name)
    if absent:
        notes.append(f"{absent} evidence image(s) the record seals are not in the bundle "
                     "(their files were gone or altered when it was made); the report says which")

    report_matches = False
    if REPORT in names:
        covered.add(REPORT)
        if check_report:
            if _read_member(zf, REPORT) != _render(v, images):
                raise ProofError(f"{REPORT} does not say what the signed record says (it differs from this tool's "
                                 "rendering of the record: altered, or rendered by another version of av-verifier; "
                                 "--skip-report checks everything else, and the record is the evidence)")
            report_matches = True
        else:
            notes.append(f"{REPORT} was NOT checked (--skip-report): do not rely on it; read record.json")

    uncovered = sorted(set(names) - covered)
    if uncovered:
        raise ProofError("the bundle holds files the signed record does not vouch for: " + ", ".join(uncovered[:10]))
    return BundleCheck(receipt=check, verification=v, original=original, artifacts=len(images),
                       artifacts_absent=absent, report_matches=report_matches, notes=notes)
