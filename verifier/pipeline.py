"""``verify()``: the one function the CLI and the HTTP service both call.

intake -> provenance -> detectors -> fusion -> ledger. Each stage gets the
stored original (read-only, named by its SHA-256), never the user's path,
so what is analysed is exactly what was hashed.
"""

from __future__ import annotations

import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from detectors.base import DetectorContext, check_llr, default_detectors, get_detector, manipulation_kind, not_run
from provenance.c2pa_reader import C2paSession
from provenance.metadata import read_hints
from provenance.trust import load_trust
from verifier import toolinfo
from verifier.artifacts import seal
from verifier.config import Settings
from verifier.errors import NotMediaError, UnrecordedVerdictError, VerifierError
from verifier.evidence import (
    Finding,
    InputInfo,
    LedgerRef,
    ProvenanceResult,
    ToolInfo,
    Verification,
)
from verifier.fusion import CLAIM_DETECTORS, fuse, get_profile, provenance_decides
from verifier.intake import CustodyLog, EvidenceStore, check_input_path, custody_event, printable_path, utcnow
from verifier.media import probe, sniff_file
from verifier.selection import DetectorSelection

log = logging.getLogger(__name__)

LEDGER_RECORD_SCHEMA = "av-verifier/ledger-record/v1"

# Append a verification's record to the ledger; returns where it landed.
LedgerWriter = Callable[[dict[str, Any]], LedgerRef]


# How a finding reads when its detector raised: the record keeps the verdict,
# and the fuzzer (tests/fuzz) looks for this prefix.
DETECTOR_FAILED = "detector failed: "


@dataclass
class Verifier:
    """Holds what is costly to build once per run (the c2pa context with every
    trust anchor parsed, the ledger connection) and verifies files with it."""

    settings: Settings
    ledger_writer: LedgerWriter | None = None
    ledger_origin: str | None = None
    detector_names: list[str] | None = None
    detector_options: dict[str, str] = field(default_factory=dict)
    _session: C2paSession | None = field(default=None, init=False, repr=False)
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="probe"), init=False, repr=False)

    @property
    def session(self) -> C2paSession:
        if self._session is None:
            self._session = C2paSession(
                load_trust(self.settings.trust_anchors),
                remote_manifest_fetch=self.settings.remote_manifest_fetch,
                ocsp_fetch=self.settings.ocsp_fetch,
            )
        return self._session

    def tool_info(self) -> ToolInfo:
        s = self.settings
        return ToolInfo(
            version=toolinfo.tool_version(),
            c2pa_sdk=toolinfo.c2pa_sdk_version(),
            python=toolinfo.python_version(),
            dependency_set_sha256=toolinfo.dependency_set_sha256(),
            trust_bundle_sha256=self.session.trust.sha256,
            settings={
                "profile": s.profile,
                "remote_manifest_fetch": s.remote_manifest_fetch,
                "ocsp_fetch": s.ocsp_fetch,
                "user_trust_anchors": ",".join(str(p) for p in s.trust_anchors) or None,
            },
        )

    def _tool_info_for(self, selection: DetectorSelection) -> ToolInfo:
        """The tool and settings, plus what this run was asked to examine: the
        record (and the report's "how to reproduce") must be enough to run the
        same verification again, and opt-in detectors are part of that."""
        tool = self.tool_info()
        options = {k: v for k, v in selection.options.items() if not k.endswith("_dir")}  # dirs follow --data-dir
        asked = {
            "detectors": "default" if selection.names is None else ",".join(selection.names) or "none",
            "claimed_person": options.pop("claimed_person", None),
            "claimed_speaker": options.pop("claimed_speaker", None),
            "detector_options": ", ".join(f"{k}={v}" for k, v in sorted(options.items())) or None,
        }
        return tool.model_copy(update={"settings": {**tool.settings, **asked}})

    def verify(self, path: Path, display_path: str | None = None,
               selection: DetectorSelection | None = None) -> Verification:
        """``selection`` overrides this verifier's detectors and claims for one
        file (the HTTP service keeps one verifier per profile)."""
        s = self.settings
        profile = get_profile(s.profile)  # fail on a bad profile before touching the file
        shown = printable_path(display_path if display_path is not None else str(path))
        name = printable_path(Path(display_path).name if display_path else path.name)
        custody = CustodyLog(s.custody_log)
        check_input_path(path)
        try:
            sniffed = sniff_file(path)
        except NotMediaError as exc:
            custody.append(custody_event(s, "rejected", "", detail=f"{shown}: {exc}"))
            raise
        received_at = utcnow()
        copy = EvidenceStore(s.evidence_dir).receive(path)
        try:
            # The private copy is complete and read-only; its hashes finish on
            # their own threads while PyAV probes it (worker thread) and c2pa
            # validates it (this thread).
            probing = self._pool.submit(probe, copy.path, sniffed, name)
            prov = self.session.read(copy.path, sniffed.mime_type)
            media = probing.result()
            prov = prov.model_copy(update={"hints": read_hints(copy.path, media)})
            # Receipt is logged before the store takes the file: an unwritable log leaves no orphan.
            received = custody.append(custody_event(s, "received", copy.hashes().sha256, detail=shown + _link_note(path),
                                                    at=received_at),
                                      sync=False)
        except BaseException:
            copy.abandon()
            raise
        stored = copy.finish()
        sha = stored.sha256
        hashes = stored.hashes
        events = [
            received,
            custody.append(custody_event(
                s, "stored", sha, detail=str(stored.stored_path) + ("" if stored.newly_stored else " (already held)")), sync=False),
        ]

        record_id = str(uuid.uuid4())
        if selection is None:
            selection = DetectorSelection(
                tuple(self.detector_names) if self.detector_names is not None else None, dict(self.detector_options))
        findings, available = self._run_detectors(
            stored.stored_path, media, prov, s.data_dir / "artifacts" / record_id, selection, name)
        verdict = fuse(prov, media, findings, profile, detectors_available=available)
        events.append(custody.append(custody_event(s, "verified", sha, detail=f"{verdict.label.value} ({profile.name})")))

        result = Verification(
            record_id=record_id,
            input=InputInfo(
                path=shown,
                name=name,
                hashes=hashes,
                stored_as=str(stored.stored_path),
                received_at=received_at,
                operator=s.operator,
            ),
            media=media,
            custody=events,
            provenance=prov,
            findings=findings,
            verdict=verdict,
            tool=self._tool_info_for(selection),
        )
        if self.ledger_writer is not None and s.record_to_ledger:
            try:
                ref = self.ledger_writer(ledger_record(result, self.ledger_origin))
            except VerifierError as exc:  # the verdict exists; the caller must still see it
                raise UnrecordedVerdictError(str(exc), result) from exc
            result = result.model_copy(update={"ledger": ref})
        return result

    def _run_detectors(self, stored: Path, media, prov: ProvenanceResult, artifact_dir: Path,
                       selection: DetectorSelection, shown_as: str) -> tuple[list[Finding], int]:
        """Findings of the selected detectors on the stored copy. A reason that
        names the copy (a decoder's error message) names the user's file
        instead: the store path is an internal hash path nobody submitted."""
        # Each detector once: a repeated name would add its evidence again and let a requester pick the verdict.
        names = list(dict.fromkeys(selection.names)) if selection.names is not None else default_detectors()
        if provenance_decides(prov):
            # Provenance settles how the file was made, not who is in it: claims the user asked to check still run.
            claims = [n for n in names if n in CLAIM_DETECTORS]
            if not claims:
                return [], len(names)
            names = claims
        findings: list[Finding] = []
        skipped: list[Finding] = []
        ctx = DetectorContext(path=stored, media=media, provenance=prov, artifact_dir=artifact_dir,
                              options=dict(selection.options), run_detectors=frozenset(names))
        dets = []
        for det in (get_detector(name) for name in names):
            if det.applies_to(media):
                dets.append(det)
            else:
                skipped.append(not_run(det, media).model_copy(update={"manipulation": manipulation_kind(det)}))
        for det in dets:
            prepare = getattr(det, "prepare", None)
            if prepare is not None:
                try:
                    prepare(ctx)
                except Exception:  # only a head start; analyze does the work anyway
                    log.warning("detector %s: prepare failed", det.name, exc_info=True)
        for det in dets:
            try:
                finding = det.analyze(ctx)
                finding = finding.model_copy(update={"llr": check_llr(finding.llr)})
            except Exception as exc:  # a detector bug must not lose the verdict record
                finding = Finding(
                    detector=det.name, version=det.version, modality=det.modality,  # type: ignore[arg-type]
                    weights_sha256=det.weights_sha256, applicable=False,
                    reason=f"{DETECTOR_FAILED}{type(exc).__name__}: {exc}",
                )
            findings.append(seal(finding.model_copy(update={
                "reason": finding.reason.replace(str(stored), shown_as),
                "manipulation": finding.manipulation or manipulation_kind(det)})))
        order = {name: i for i, name in enumerate(names)}
        return sorted(findings + skipped, key=lambda f: order.get(f.detector, len(order))), len(names)


def _link_note(path: Path) -> str:
    """A file named through a symbolic link was read from its target: the custody trail says which."""
    if not path.is_symlink():
        return ""
    return f" (a symbolic link to {printable_path(os.path.realpath(path))})"


def ledger_record(result: Verification, origin: str | None) -> dict[str, Any]:
    """The document hashed into the ledger: the verification minus its own
    ledger reference (which cannot exist before the append), plus the origin."""
    return {
        "schema": LEDGER_RECORD_SCHEMA,
        "record_id": result.record_id,
        "ledger_origin": origin,
        "verification": result.model_dump(mode="json", by_alias=True, exclude={"ledger"}),
    }
