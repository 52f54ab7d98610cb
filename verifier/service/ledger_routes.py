"""Read side of the verdict ledger over HTTP: what a holder of a receipt needs later.

A receipt proves a record was in the log when it was issued. The people who
hold receipts (a court, the other party, an auditor) then need three things
from the log, and none of them should need a login to the database:

- ``GET /v1/ledger/checkpoint``: the latest signed checkpoint (text), to keep;
- ``GET /v1/ledger/consistency?old=N``: proof that the latest checkpoint
  extends the log at size N (the body of a C2SP tlog-witness add-checkpoint
  request), checked offline with ``verifier ledger verify-consistency``;
- ``GET /v1/ledger/entries/{index}``: the record and a fresh receipt;
- ``POST /v1/ledger/entries/{index}/media``: "is this file the one you
  received?", answered by hashing the upload against the record (the upload
  is not stored and nothing is appended);
- ``GET /v1/ledger/keys``: the public keys the log has signed with;
- ``GET /v1/ledger/export``: the whole log as JSON lines, audited offline with
  ``verifier ledger verify-export``;
- ``GET /v1/ledger/entries/{index}/bundle[?original=false]``: the entry's evidence bundle
  (received file, record, receipt, evidence images, report), checked offline with
  ``verifier ledger verify-bundle``.

Everything here is a read: no endpoint appends, signs or changes the log. The
answers are checkable, not to be trusted: a checkpoint verifies against a key
the holder pinned, a receipt and a consistency proof verify offline.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from verifier.errors import FileTooLargeError
from verifier.intake import EvidenceStore
from verifier.ledger.consistency import prove_extension
from verifier.ledger.errors import LedgerError, LedgerInputError, LedgerStorageError, ProofError
from verifier.ledger.export import export_lines
from verifier.ledger.originals import compare_media, recorded_input

TEXT = "text/plain; charset=utf-8"

ErrorFn = Callable[[int, str, str], JSONResponse]
CopyFn = Callable[[UploadFile, Path, int], None]


def ledger_router(ledger: Any, *, error: ErrorFn, copy_upload: CopyFn,
                  upload_dir: Callable[[], AbstractContextManager[Path]], limit: int,
                  evidence_dir: Path) -> APIRouter:
    """Routes over ``ledger`` (``None`` when the service records nothing: every route answers 404)."""
    router = APIRouter(prefix="/v1/ledger")

    def missing() -> JSONResponse:
        return error(404, "no_ledger", "this service keeps no ledger (recording is turned off)")

    def no_entry(index: int) -> JSONResponse:
        return error(404, "no_entry", f"no ledger entry with index {index} (log size {ledger.size})")

    def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
        """What the database holds is not trusted to be well-formed (it may have been edited):
        a row that does not parse answers 409 with what to do, not a 500."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except LedgerStorageError as exc:
                return error(503, "ledger_unavailable", str(exc))
            except (LedgerError, ValueError) as exc:
                return error(409, "ledger_inconsistent", f"the ledger's stored data does not read as this log "
                             f"wrote it ({type(exc).__name__}: {str(exc)[:300]}); run `verifier ledger verify`")

        return wrapper

    @router.get("/checkpoint")
    @guarded
    def checkpoint():
        if ledger is None:
            return missing()
        latest = ledger.latest_checkpoint()
        if latest is None:
            return error(404, "no_checkpoint", "the log has no signed checkpoint yet")
        return PlainTextResponse(latest.text, media_type=TEXT)

    @router.get("/consistency")
    @guarded
    def consistency(old: int = Query(..., ge=0, description="Tree size of the checkpoint the asker holds.")):
        if ledger is None:
            return missing()
        latest = ledger.latest_checkpoint()
        if latest is None:
            return error(404, "no_checkpoint", "the log has no signed checkpoint yet")
        if old > latest.checkpoint.size:  # a holder of a bigger signed tree is looking at a rolled-back log
            return error(409, "log_smaller", f"the latest signed checkpoint has size {latest.checkpoint.size}, "
                         f"smaller than {old}: if you hold a checkpoint of size {old} signed by this log, "
                         "the log has been truncated or rolled back")
        return PlainTextResponse(prove_extension(ledger, old).encode(), media_type=TEXT)

    @router.get("/export")
    @guarded
    def export():
        if ledger is None:
            return missing()
        lines = export_lines(ledger)
        first = next(lines)  # the header: a key table that does not read fails here, before the 200
        return StreamingResponse(itertools.chain([first], lines), media_type="application/x-ndjson",
                                 headers={"Content-Disposition": 'attachment; filename="ledger-export.jsonl"'})

    @router.get("/keys")
    @guarded
    def keys():
        if ledger is None:
            return missing()
        return {"origin": ledger.origin, "current": ledger.verifier_key.encode(),
                "keys": [k.encode() for k in ledger.verifier_keys()]}

    @router.get("/entries/{index}")
    @guarded
    def entry(index: int):
        if ledger is None:
            return missing()
        if not 0 <= index < ledger.size:
            return no_entry(index)
        e = ledger.entry(index)
        try:
            receipt = ledger.receipt(index)
        except LedgerInputError:  # appended, but no checkpoint covers it yet
            receipt = None
        return {"index": e.index, "leaf_hash": e.leaf_hash.hex(), "appended_at": e.appended_at,
                "record": json.loads(e.record), "receipt": receipt}

    @router.get("/entries/{index}/bundle")
    @guarded
    def bundle(index: int, original: bool = Query(True, description="Include the received file.")):
        from verifier.bundle import write_bundle

        if ledger is None:
            return missing()
        if not 0 <= index < ledger.size:
            return no_entry(index)
        # Nothing is left on disk whatever happens to the response (a Range error, a client
        # that hangs up): the directory goes at once, the open handle keeps the bytes until closed.
        with upload_dir() as tmp:
            out = tmp / f"entry-{index}.zip"
            try:
                write_bundle(ledger, index, EvidenceStore(evidence_dir), out, include_original=original)
                fh = out.open("rb")
            except LedgerInputError as exc:  # a key rotation, no checkpoint yet, or the original is gone
                return error(422, "no_bundle", f"entry {index}: {exc}")
            except ProofError as exc:  # the stored original no longer matches its record
                return error(409, "original_altered", f"entry {index}: {exc}")
        size = os.fstat(fh.fileno()).st_size

        def chunks():
            with fh:
                while chunk := fh.read(1 << 20):
                    yield chunk

        return StreamingResponse(chunks(), media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="entry-{index}.zip"', "Content-Length": str(size)})

    @router.post("/entries/{index}/media")
    @guarded
    def media(index: int, file: UploadFile = File(...)):
        if ledger is None:
            return missing()
        if not 0 <= index < ledger.size:
            return no_entry(index)
        record = ledger.entry(index).record
        try:
            recorded_input(record)
        except LedgerInputError as exc:  # refused before the upload is read
            return error(422, "no_received_file", f"entry {index}: {exc}")
        with upload_dir() as tmp:
            dest = Path(tmp) / "upload"
            try:
                copy_upload(file, dest, limit)
            except FileTooLargeError as exc:
                return error(413, "too_large", str(exc))
            recorded, differences = compare_media(record, dest)
        return {"index": index, "match": not differences, "differences": differences,
                "received_as": recorded.name, "received_at": recorded.received_at, "operator": recorded.operator,
                "size": recorded.hashes.size, "sha256": recorded.hashes.sha256}

    return router
