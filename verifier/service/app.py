"""FastAPI application: ``POST /v1/verify`` takes one file, returns the same
Verification document ``verifier verify --json`` prints.

Form fields besides ``file``: ``profile``, ``detectors`` ('all', 'none' or
comma-separated names), ``claimed_person`` and ``claimed_speaker`` (names
enrolled with ``verifier enroll`` in the service's data directory) and
``format`` (``json``, the default, or ``html`` for the self-contained report).

The ledger's read side (checkpoint, consistency proof, entry with a fresh
receipt, "is this the file you received?", public keys) is under
``/v1/ledger/`` (``ledger_routes.py``).

Errors are JSON with a 4xx status: 400 not media / unusable, 413 too large,
422 bad parameters (unknown profile, detector or format; a claim about
someone never enrolled); 409 a claim about someone whose reference is not the
one the ledger recorded at enrolment (422 ``claims_unavailable`` on a service
run without a ledger); 503 when the evidence store, custody log or ledger
cannot be used; a bug gets 500 with the same JSON shape. Error messages name the
data directory as ``DATA_DIR``, never by its path. An upload
over the limit (``VERIFIER_MAX_UPLOAD``, 2 GiB by default) is refused while it
arrives (``limits.py``), before it fills a disk. The upload is streamed to a
temporary file, copied into the data directory, then verified like a local
file; the original filename is kept as ``input.path``.

Run: ``uvicorn --factory verifier.service.app:create_app`` (binds to
127.0.0.1 by default; put it behind your own TLS and authentication).
"""

from __future__ import annotations

import math
import os
import re
import threading
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import FastAPI, File, Form, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from verifier import __version__
from verifier.config import Settings
from verifier.enrolment_log import EnrolmentLogUnavailableError, ReferenceIntegrityError
from verifier.errors import (
    EXIT_INPUT_ERROR,
    ConfigError,
    EvidenceStoreError,
    FileTooLargeError,
    UnrecordedVerdictError,
    VerifierError,
)
from verifier.fusion import PROFILES
from verifier.pipeline import Verifier
from verifier.selection import select_detectors
from verifier.service.ledger_routes import ledger_router
from verifier.service.limits import BODY_IDLE_TIMEOUT_S, FORM_LIMITS, BodyLimitMiddleware, too_large_message
from verifier.service.workfiles import sweep_leftovers, upload_dir

DEFAULT_MAX_UPLOAD = 2 << 30
MAX_NAME_CHARS = 1024  # of the client's file name kept in the record


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"type": kind, "message": message}})


def create_app(settings: Settings | None = None, *, max_upload: int | None = None, ledger: Any = None) -> FastAPI:
    settings = settings or Settings()
    limit = max_upload or int(os.environ.get("VERIFIER_MAX_UPLOAD", DEFAULT_MAX_UPLOAD))
    verifiers: dict[str, Verifier] = {}
    lock = threading.Lock()  # one verification at a time: the machine has few cores and c2pa holds one context

    if ledger is None and settings.record_to_ledger:
        from verifier.ledger import Ledger

        ledger = Ledger.open(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        if ledger is not None:
            ledger.close()

    app = FastAPI(title="av-verifier", version=__version__, lifespan=lifespan, form_limits=FORM_LIMITS)
    app.add_middleware(BodyLimitMiddleware, limit=limit, idle_timeout=_idle_timeout())
    sweep_leftovers(settings.data_dir)

    data_root = settings.data_dir.resolve()  # absolute: a relative "e" must not rewrite "notes.txt"

    def public(message: str) -> str:
        """Error text for clients: the server's own directories are not theirs to know."""
        return message.replace(str(data_root), "DATA_DIR")

    @app.exception_handler(Exception)
    async def internal_error(_request, exc: Exception) -> JSONResponse:
        """A bug still answers with the service's error document (and is
        logged by the server), never a bare text page."""
        return _error(500, "internal_error", public(f"{type(exc).__name__}: {exc}"))

    @app.exception_handler(EvidenceStoreError)
    async def storage_error(_request, exc: EvidenceStoreError) -> JSONResponse:
        """The server cannot keep records (store, custody log or upload directory): not the client's fault."""
        return _error(503, "storage_unavailable", public(str(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request, exc: StarletteHTTPException) -> JSONResponse:
        """Routing refusals (no such path, wrong method) in the service's error document too."""
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = _error(exc.status_code, kind, str(exc.detail))
        for name, value in (exc.headers or {}).items():  # e.g. Allow on a 405
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request, exc: RequestValidationError) -> JSONResponse:
        """Malformed requests (no file part, an empty file name) get the same
        error document as every other refusal, not FastAPI's own shape."""
        errors = exc.errors()
        problems = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors)
        hint = "; send the media as the multipart field 'file'" if any(e.get("loc", ("",))[0] == "body" for e in errors) else ""
        return _error(422, "bad_request", f"malformed request ({problems}){hint}")

    def verifier_for(profile: str) -> Verifier:
        if profile not in verifiers:
            v = Verifier(settings.with_(profile=profile))
            if ledger is not None:
                from verifier.cli import _ledger_writer

                v.ledger_writer, v.ledger_origin = _ledger_writer(ledger), ledger.origin
            verifiers[profile] = v
        return verifiers[profile]

    app.include_router(ledger_router(ledger, error=_error, copy_upload=_copy_limited,
                                     upload_dir=lambda: upload_dir(settings.data_dir / "uploads"), limit=limit,
                                     evidence_dir=settings.evidence_dir))

    @app.api_route("/v1/health", methods=["GET", "HEAD"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.post("/v1/verify")
    def verify(file: UploadFile = File(...), profile: str = Form("finance"), detectors: str | None = Form(None),
               claimed_person: str | None = Form(None), claimed_speaker: str | None = Form(None),
               format: str = Form("json")):
        if profile not in PROFILES:
            return _error(422, "bad_profile", f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
        if format not in ("json", "html"):
            return _error(422, "bad_format", f"unknown format {format!r}; choose json or html")
        try:  # refused before the upload is stored: nothing is received for a request that cannot be honoured
            selection = select_detectors(settings.data_dir, detectors, claimed_person, claimed_speaker, ledger=ledger)
        except ReferenceIntegrityError as exc:  # the server's reference is not the one enrolled
            return _error(409, "reference_not_enrolled", public(str(exc)))
        except EnrolmentLogUnavailableError as exc:
            return _error(503, "storage_unavailable", public(str(exc)))
        except VerifierError as exc:
            return _error(422, "bad_selection", public(str(exc)))
        if ledger is None and (claimed_person or claimed_speaker):
            return _error(422, "claims_unavailable", "identity claims are checked against the enrolments the ledger "
                          "recorded, and this service runs without a ledger")
        # The record keeps the name as the client sent it (it is part of what
        # was received); the disk copy gets a fixed name with the sent suffix,
        # which the extension check reads, so no name ("..", 300 bytes, a
        # path) can fail the write or leave the temporary directory.
        name = (file.filename or "upload")[:MAX_NAME_CHARS]
        with upload_dir(settings.data_dir / "uploads") as tmp:
            dest = Path(tmp) / ("upload" + _safe_suffix(name))
            try:
                _copy_limited(file, dest, limit)
            except FileTooLargeError as exc:
                return _error(413, "too_large", str(exc))
            with lock:
                try:
                    result = verifier_for(profile).verify(dest, display_path=name, selection=selection)
                except UnrecordedVerdictError as exc:  # the verdict exists: return it, marked as unrecorded
                    return JSONResponse(status_code=503, content={
                        "error": {"type": "ledger_unavailable", "message": str(exc)},
                        "verification": exc.verification.model_dump(mode="json", by_alias=True)})
                except EvidenceStoreError as exc:  # the server cannot keep records: not the client's fault
                    return _error(503, "storage_unavailable", public(str(exc).replace(str(dest), name)))
                except VerifierError as exc:
                    status = 400 if exc.exit_code == EXIT_INPUT_ERROR else 500
                    return _error(status, "input_error" if status == 400 else "error", public(str(exc).replace(str(dest), name)))
        if format == "html":
            from verifier.report import render_html

            return HTMLResponse(render_html(result))
        return JSONResponse(content=result.model_dump(mode="json", by_alias=True))

    return app


def _idle_timeout() -> float:
    raw = os.environ.get("VERIFIER_BODY_IDLE_TIMEOUT")
    if raw is None:
        return BODY_IDLE_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"VERIFIER_BODY_IDLE_TIMEOUT={raw!r}: give a number of seconds above 0")
    return value


def _safe_suffix(name: str) -> str:
    suffix = PurePosixPath(name.replace("\\", "/")).suffix
    return suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", suffix) else ""


def _copy_limited(upload: UploadFile, dest: Path, limit: int) -> None:
    copied = 0
    try:
        with open(dest, "wb") as out:
            while chunk := upload.file.read(1 << 20):
                copied += len(chunk)
                if copied > limit:
                    raise FileTooLargeError(too_large_message(limit))
                out.write(chunk)
    except OSError as exc:
        raise EvidenceStoreError(f"upload directory {dest.parent.parent}: cannot write ({exc.strerror})") from None
