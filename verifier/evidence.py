"""Typed records passed between the stages of the flow.

intake -> provenance -> detectors -> fusion -> ledger -> report. Each stage
takes and returns these values, never loose dicts, so the JSON output, the
ledger record and the report are all views of one object and cannot drift
apart. Field names are part of the published JSON Schema
(``verifier/schemas/verification.schema.json``): rename with a schema bump.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "av-verifier/verification/v1"


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------- intake


class MediaKind(str, Enum):
    image = "image"
    audio = "audio"
    video = "video"


class FileHashes(Record):
    sha256: str
    sha512: str
    size: int


class CustodyEvent(Record):
    """One link in the chain of custody: who did what to which bytes, when."""

    at: datetime
    operator: str
    action: Literal["received", "stored", "verified", "rejected"]
    sha256: str
    detail: str = ""


class StreamInfo(Record):
    index: int
    kind: Literal["video", "audio", "subtitle", "data", "attachment", "unknown"]
    codec: str | None = None
    duration_s: float | None = None
    frame_rate: float | None = None
    width: int | None = None
    height: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    # The stream of its kind a player presents by default (FFmpeg's choice);
    # detectors examine this one and no other of its kind.
    presented: bool = False
    # False when FFmpeg has no decoder for the stream (an unknown or mangled
    # codec tag): nothing can look inside it, so it does not count as a
    # video or audio stream for the detectors.
    decodable: bool = True


class MediaInfo(Record):
    """What the bytes are, judged from the bytes (never the file extension)."""

    kind: MediaKind
    mime_type: str
    container: str | None = None
    duration_s: float | None = None
    streams: list[StreamInfo] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    extension_mismatch: bool = False
    probe_error: str | None = None

    @property
    def has_audio(self) -> bool:
        return any(s.kind == "audio" and s.decodable for s in self.streams)

    @property
    def has_video(self) -> bool:
        return any(s.kind == "video" and s.decodable for s in self.streams)

    def unexamined_streams(self, kind: str) -> int:
        """Streams of ``kind`` beside the presented one: no detector looks at
        them. Not counted for still images: a HEIC photo holds its thumbnail
        and tiles as extra picture streams, which are not other content."""
        if self.kind == MediaKind.image:
            return 0
        return max(0, sum(s.kind == kind for s in self.streams) - 1)

    def unexamined(self) -> dict[str, int]:
        """{"video"|"audio": count} of the kinds with unexamined streams (see above)."""
        return {kind: n for kind in ("video", "audio") if (n := self.unexamined_streams(kind))}


class InputInfo(Record):
    path: str  # as the user gave it
    name: str
    hashes: FileHashes
    stored_as: str | None = None  # path in the content-addressed evidence store
    received_at: datetime
    operator: str


# ----------------------------------------------------------------- provenance


class ProvenanceState(str, Enum):
    trusted = "trusted"  # signature valid, signer chains to a trust anchor, content intact
    valid_untrusted = "valid_untrusted"  # intact and well signed, but the signer is not trusted
    invalid = "invalid"  # manifest present but a hash, signature or credential check failed
    absent = "absent"  # no C2PA manifest
    unsupported_format = "unsupported_format"  # c2pa cannot read this kind of file
    unreadable = "unreadable"  # manifest present (or claimed) but could not be parsed/fetched


class StatusCode(Record):
    code: str
    explanation: str = ""
    url: str = ""
    kind: Literal["success", "informational", "failure"]
    scope: Literal["active", "ingredient"] = "active"


class Ingredient(Record):
    title: str | None = None
    relationship: str | None = None
    format: str | None = None
    state: ProvenanceState | None = None
    failure_codes: list[str] = Field(default_factory=list)
    digital_source_type: str | None = None


class ProvenanceAction(Record):
    action: str
    when: str | None = None
    software_agent: str | None = None
    digital_source_type: str | None = None
    description: str | None = None


class MetadataHints(Record):
    """Container and metadata clues that are not signed: evidence, not proof."""

    encoder: str | None = None
    software: list[str] = Field(default_factory=list)
    iptc_digital_source_type: str | None = None
    ai_generator_hint: str | None = None
    # ISO BMFF: bytes other than padding zeros in top-level boxes a C2PA hash leaves out
    # (free, skip, mfra, a second C2PA uuid box): data carried along that nobody signed.
    unsigned_container_bytes: int = 0


class ProvenanceResult(Record):
    state: ProvenanceState
    message: str = ""
    validation_state: str | None = None  # c2pa's own word: Trusted / Valid / Invalid
    status_codes: list[StatusCode] = Field(default_factory=list)
    failure_codes: list[str] = Field(default_factory=list)
    active_manifest: str | None = None
    manifest_count: int = 0
    signer_subject: str | None = None
    signer_issuer: str | None = None
    signature_alg: str | None = None
    cert_serial: str | None = None
    claim_generator: str | None = None
    signing_time: str | None = None
    timestamped: bool = False
    actions: list[ProvenanceAction] = Field(default_factory=list)
    digital_source_types: list[str] = Field(default_factory=list)
    declared_ai: bool = False
    ingredients: list[Ingredient] = Field(default_factory=list)
    # Ingredients of the earlier manifests in the store (the history behind the active one).
    earlier_ingredients: list[Ingredient] = Field(default_factory=list)
    hints: MetadataHints = Field(default_factory=MetadataHints)
    remote_url: str | None = None


# ------------------------------------------------------------------ detectors


class Segment(Record):
    start_s: float
    end_s: float
    score: float
    llr: float | None = None
    label: str = ""


class Artifact(Record):
    """An evidence image a detector wrote. ``sha256`` binds the file to the record (and so to
    the ledger): a report or bundle shows the image only while its bytes still match."""

    kind: str  # "spectrogram", "heatmap", "sync_curve", "contact_sheet", ...
    media_type: str  # "image/png"
    path: str | None = None
    description: str = ""
    sha256: str | None = None


class ReferenceUsed(Record):
    """The enrolled reference an identity claim was compared with. ``sha256`` is
    of the reference file's bytes as read; ``enrolment_index`` is the ledger
    entry that recorded exactly those bytes at enrolment (checked before the
    comparison), or None when no ledger was there to check it against."""

    person: str
    modality: Literal["face", "voice"]
    sha256: str
    enrolment_index: int | None = None
    # Several voices heard (or audio replayed): the share of the speech the voice compared
    # holds, each replayed stretch counted once (a few seconds of the real person replayed
    # in an impostor's note is the closest voice).
    compared_share: float | None = None
    # Seconds of the speech that repeat earlier audio of the recording exactly (a replay).
    repeated_s: float | None = None
    # Several faces and speech: a face closer to the reference than the one judged, set
    # aside because its lips never speak (a photograph held up beside the speaker).
    silent_closer_face: str | None = None


class Finding(Record):
    """One detector's evidence. LLRs are log10 LR for H1 (manipulated or
    synthetic) against H0 (captured as-is): positive supports manipulation."""

    detector: str
    version: str
    modality: Literal["audio", "video", "image", "audiovisual", "metadata"]
    weights_sha256: str | None = None
    applicable: bool
    reason: str = ""
    raw_score: float | None = None
    llr: float | None = None
    segments: list[Segment] = Field(default_factory=list)
    artifacts: list[Artifact] = Field(default_factory=list)
    validation: str = ""  # named benchmark and error rates behind the calibration
    # False where the detector's "normal" is also what the manipulation shows:
    # identity claims (face, voice; a match is what a clone or a swap is built
    # to produce) and identity consistency (a pasted face keeps one identity).
    # Such a finding cannot support H0; only a positive LLR enters the combined LLR.
    supports_h0: bool = True
    # The kind of manipulation the LLR weighs against capture ("face", "voice",
    # "soundtrack"; empty: the detector's own name). Fusion multiplies the LRs
    # of one kind and weighs different kinds as alternatives (verifier.fusion).
    manipulation: str = ""
    # Identity claims: the enrolled reference compared with (see ReferenceUsed).
    reference: ReferenceUsed | None = None

    @property
    def was_run(self) -> bool:
        """False for a detector that was asked for but never looked, because
        the file lacks what it needs (its reason starts with NOT_RUN)."""
        return not self.reason.startswith(NOT_RUN)


# Reason prefix of a detector asked for whose ``applies_to`` was false.
NOT_RUN = "not run: "


# --------------------------------------------------------------------- fusion


class VerdictLabel(str, Enum):
    authentic_provenance = "authentic_provenance"
    declared_synthetic = "declared_synthetic"
    tampered = "tampered"
    likely_manipulated = "likely_manipulated"
    no_manipulation_detected = "no_manipulation_detected"
    inconclusive = "inconclusive"


class Propositions(Record):
    h1: str = "The media was manipulated or synthetically generated."
    h0: str = "The media was captured as-is and not manipulated."
    # The kinds of manipulation H1 stands for in this verdict (those the
    # applicable detectors examined), weighed as equally likely a priori.
    h1_kinds: list[str] = Field(default_factory=list)


class KindEvidence(Record):
    """The evidence on one kind of manipulation: the product of its detectors' LRs."""

    kind: str
    description: str
    llr: float
    detectors: list[str]


class Verdict(Record):
    label: VerdictLabel
    summary: str  # one sentence a non-expert can read
    reasons: list[str] = Field(default_factory=list)  # machine-readable reason codes
    decided_by: Literal["provenance", "detectors", "none"]
    llr: float | None = None
    verbal: str | None = None
    propositions: Propositions = Field(default_factory=Propositions)
    profile: str
    thresholds: dict[str, float] = Field(default_factory=dict)
    detectors_run: int = 0
    detectors_applicable: int = 0
    by_manipulation: list[KindEvidence] = Field(default_factory=list)


class ToolInfo(Record):
    name: str = "av-verifier"
    version: str
    c2pa_sdk: str
    python: str
    dependency_set_sha256: str
    trust_bundle_sha256: str
    settings: dict[str, str | bool | None] = Field(default_factory=dict)


class LedgerRef(Record):
    index: int
    origin: str
    leaf_hash: str
    receipt: str


class Verification(Record):
    """The whole answer for one file: what the CLI prints, the service returns,
    the ledger stores and the report renders."""

    schema_: str = Field(default=SCHEMA_VERSION, alias="schema")
    record_id: str
    input: InputInfo
    media: MediaInfo
    custody: list[CustodyEvent]
    provenance: ProvenanceResult
    findings: list[Finding]
    verdict: Verdict
    tool: ToolInfo
    ledger: LedgerRef | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
