"""Fusion: provenance decides first, then detector evidence as likelihood ratios.

Propositions (stated in every verdict):
  H1: the media was manipulated or synthetically generated;
  H0: the media was captured as-is and not manipulated.

Order of decision:
1. A manifest whose active claim fails an integrity check (hash, hashed URI,
   claim signature, missing claim/assertion) -> ``tampered``.
2. An intact manifest (trusted, untrusted, or with only credential failures such
   as an expired signer) that declares generative AI -> ``declared_synthetic``.
3. Trusted, intact, no AI declared, no ingredient recorded as altered ->
   ``authentic_provenance``, unless an identity claim the user asked to
   check (``--claimed-person``, ``--claimed-speaker``) does not match at the
   profile's threshold: then ``likely_manipulated``. A signature vouches for
   who made the file, not for who is in it; a signed capture of an impostor
   is still an impostor. Claims are checked whatever the provenance.
4. Anything else (no manifest, unreadable, untrusted signer, only credential
   or ingredient failures) is not settled by provenance: applicable detector
   findings are combined. Credentials present but unreadable are never
   cleared by detectors (at most ``inconclusive``).

Detector combination. Each detector's LLR is calibrated against one kind of
manipulation (``Finding.manipulation``: a replaced face, a synthesized voice,
a soundtrack that is not the picture's own), so H1 is composite: one of the
kinds examined. For a composite proposition the likelihood ratio is the
prior-weighted mean of the kinds' ratios, LR = sum_k pi_k LR_k (Aitken and
Taroni, Statistics and the Evaluation of Evidence, on composite
propositions), with pi_k equal over the kinds the applicable detectors
examined: nothing here says a face swap is likelier than a voice clone.
Within a kind the detectors' LRs multiply (the log10 LRs add), exact only if
their scores are conditionally independent given each proposition, so a
policy caps the total (``max_abs_llr``).

Why not multiply across kinds, as this module did until the twenty-first
session: a genuine voice is evidence against a voice clone, not against a
face swap, yet the product let it cancel the face evidence. On the pasted
swaps of ``face_swap.verdict_eval`` with the target clips' real audio
detectors' LLRs (a swap keeps the target's voice and mouth), the product
cleared 8 of 56 swaps and flagged 10; the mean clears none and flags 12
(AUC 0.87 -> 0.91). The cost: strong evidence of one kind is diluted by
log10 of the number of kinds examined (at most 0.48 for three), and clearing
a file needs support for capture against every kind.

Findings with ``supports_h0`` False (identity claims, identity consistency:
a clone or a swap is made to match its target and keeps one identity) count
only when positive; their kind still counts as examined, with LR 1 when they
do not. Profiles only set thresholds: the evidence and the LLR are the same
under every profile.

Verbal scale: the ENFSI Guideline for Evaluative Reporting in Forensic Science
(2015), verbal equivalents of the likelihood ratio, applied symmetrically to
support for H0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from provenance.metadata import SYNTHETIC_SOURCE_TYPES
from verifier.evidence import (
    Finding,
    KindEvidence,
    MediaInfo,
    Propositions,
    ProvenanceResult,
    ProvenanceState,
    Verdict,
    VerdictLabel,
)

# The kinds of manipulation detectors are calibrated against (``examines`` on a detector).
MANIPULATION_KINDS: dict[str, str] = {
    "face": "the face was replaced or re-animated",
    "voice": "the voice was synthesized or is someone else's",
    "soundtrack": "the soundtrack is not the one recorded with the picture",
}

# Failure codes that say something about the signer's credential or the
# ingredients' history, not about the integrity of these bytes.
CREDENTIAL_CODE_PREFIXES = ("signingCredential.", "timeStamp.", "cawg.", "verifier.signingCredential.")

# Data (not padding zeros) in unsigned container boxes above this size is named in the verdict;
# genuine files in the conformance set carry at most 374 such bytes, a hidden 17 KB MP4 15,756.
UNSIGNED_NOTE_BYTES = 4 << 10

# ENFSI 2015 bands on log10(LR): (upper bound, phrase).
VERBAL_BANDS: tuple[tuple[float, str], ...] = (
    (1.0, "weak support"),
    (2.0, "moderate support"),
    (3.0, "moderately strong support"),
    (4.0, "strong support"),
    (6.0, "very strong support"),
    (float("inf"), "extremely strong support"),
)


@dataclass(frozen=True)
class Profile:
    """Decision thresholds on the combined log10 LR for one kind of user."""

    name: str
    manipulated_at: float  # LLR >= this -> likely_manipulated
    cleared_at: float  # LLR <= this -> no_manipulation_detected
    max_abs_llr: float = 6.0  # cap on the combined LLR (correlated-evidence guard)
    description: str = ""

    def thresholds(self) -> dict[str, float]:
        return {"manipulated_at": self.manipulated_at, "cleared_at": self.cleared_at, "max_abs_llr": self.max_abs_llr}


PROFILES: dict[str, Profile] = {
    # A wrongly paid transfer is costly: flag on moderate support, clear only on moderate support the other way.
    "finance": Profile("finance", manipulated_at=1.0, cleared_at=-1.0, description="flag early; a false alarm costs a phone call"),
    # Rejecting a genuine clip is costly too: flag only on moderately strong support.
    "publisher": Profile("publisher", manipulated_at=2.0, cleared_at=-1.0, description="flag on moderately strong support"),
    # Evidence intake: conclude only on strong support either way, otherwise inconclusive.
    "legal": Profile("legal", manipulated_at=3.0, cleared_at=-3.0, description="conclude only on strong support"),
}


class UnknownProfileError(ValueError):
    pass


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfileError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None


def verbal_scale(llr: float) -> str:
    if llr == 0:
        return "no support for either proposition"
    magnitude = abs(llr)
    phrase = next(p for bound, p in VERBAL_BANDS if magnitude < bound)
    side = "H1 (manipulated or synthetic)" if llr > 0 else "H0 (captured as-is)"
    return f"{phrase} for {side}"


def integrity_failures(prov: ProvenanceResult) -> list[str]:
    return [c for c in prov.failure_codes if not c.startswith("ingredient:") and not c.startswith(CREDENTIAL_CODE_PREFIXES)]


def altered_ingredients(prov: ProvenanceResult) -> list[str]:
    """Ingredients whose own validation, as recorded in the signed manifest, failed on more than
    the credential: a trusted signer vouches for its own edit, not for a parent or component
    that was altered before it. c2pa re-reports at read time only what changed since signing
    (``ingredientDeltas``), so a tampered parent recorded as such at signing shows up only here,
    in the active manifest's ingredients or in those of the manifests it builds on."""
    return [i.title or "untitled" for i in [*prov.ingredients, *prov.earlier_ingredients]
            if any(not c.rsplit(":", 1)[-1].startswith(CREDENTIAL_CODE_PREFIXES) for c in i.failure_codes)]


def metadata_declares_ai(prov: ProvenanceResult) -> bool:
    """The file's own IPTC metadata declares a synthetic source type its signed manifest does not
    (the metadata lies inside the signed bytes, so the signer signed a contradiction)."""
    return (prov.state in (ProvenanceState.trusted, ProvenanceState.valid_untrusted) and not prov.declared_ai
            and bool(prov.hints.ai_generator_hint) and (prov.hints.iptc_digital_source_type or "") in SYNTHETIC_SOURCE_TYPES)


def provenance_caveat(prov: ProvenanceResult) -> str:
    """Why signed credentials that look good did not settle the file, said first in the summary:
    a reader who sees "signed by a trusted signer" in the panel must learn why it is not enough."""
    if any(c.startswith("verifier.signingCredential.notContentSigner") for c in prov.failure_codes):
        return ("The Content Credentials are signed with a certificate made for time-stamps or revocation "
                "answers, not for signing content, so they are not trusted. ")
    if prov.state != ProvenanceState.trusted:
        return ""
    if altered := altered_ingredients(prov):
        return (f"The Content Credentials are from a trusted signer, but a file they were made from "
                f"({', '.join(altered[:3])}) was altered before that signature, so they do not vouch for its origin. ")
    if metadata_declares_ai(prov):
        return ("The file's own metadata declares it AI-generated while its trusted Content Credentials do not; "
                "the two contradict each other. ")
    return ""


def _tampered(prov: ProvenanceResult) -> bool:
    return prov.state == ProvenanceState.invalid and bool(integrity_failures(prov))


def _declares_ai(prov: ProvenanceResult) -> bool:
    """A signed AI declaration counts under any intact manifest, even one whose credential has
    expired or is not trusted: a generator saying its output is AI states against its interest."""
    return prov.declared_ai and prov.state in (ProvenanceState.trusted, ProvenanceState.valid_untrusted, ProvenanceState.invalid)


def _authentic(prov: ProvenanceResult) -> bool:
    return prov.state == ProvenanceState.trusted and not altered_ingredients(prov) and not metadata_declares_ai(prov)


def provenance_decides(prov: ProvenanceResult) -> bool:
    """Provenance alone gives the verdict (steps 1-3 of ``fuse``): detectors need not run."""
    return _tampered(prov) or _declares_ai(prov) or _authentic(prov)


def _provenance_reasons(prov: ProvenanceResult, media: MediaInfo) -> list[str]:
    reasons = [f"provenance_{prov.state.value}"]
    if altered_ingredients(prov):
        reasons.append("provenance_ingredient_altered")
    if any(c.startswith("verifier.signingCredential.") for c in prov.failure_codes):
        reasons.append("provenance_signer_not_content_signer")
    if prov.state == ProvenanceState.invalid and not integrity_failures(prov):
        if any(not c.startswith("ingredient:") for c in prov.failure_codes):
            reasons.append("provenance_credential_failed")
        if any(c.startswith("ingredient:") for c in prov.failure_codes):
            reasons.append("provenance_ingredient_failed")
    if media.extension_mismatch:
        reasons.append("extension_mismatch")
    if media.probe_error:
        reasons.append("container_unparseable")
    reasons += [f"unexamined_{kind}_streams" for kind in media.unexamined()]
    signed = prov.state in (ProvenanceState.trusted, ProvenanceState.valid_untrusted)
    if prov.hints.ai_generator_hint and not signed:
        reasons.append("unsigned_ai_metadata_hint")
    elif prov.hints.ai_generator_hint and not prov.declared_ai:
        reasons.append("metadata_mentions_ai_generator")  # inside the signed bytes, yet the manifest declares no AI
    if metadata_declares_ai(prov):
        reasons.append("metadata_contradicts_manifest")
    if signed and prov.hints.unsigned_container_bytes > UNSIGNED_NOTE_BYTES:
        reasons.append("unsigned_container_data")
    return reasons


def fuse(
    prov: ProvenanceResult,
    media: MediaInfo,
    findings: list[Finding],
    profile: Profile,
    detectors_available: int | None = None,
) -> Verdict:
    """``detectors_available`` is how many detectors are registered at all; it
    tells "none exists" apart from "none could examine this file"."""
    available = len(findings) if detectors_available is None else detectors_available
    props = Propositions()
    reasons = _provenance_reasons(prov, media)
    common = {"propositions": props, "profile": profile.name, "thresholds": profile.thresholds(),
              "detectors_run": len(findings), "detectors_applicable": sum(f.applicable for f in findings)}

    broken = integrity_failures(prov)
    if _tampered(prov):
        return Verdict(
            label=VerdictLabel.tampered,
            summary=f"The file carries Content Credentials, but its content or signature no longer matches them ({', '.join(broken[:3])}): it was changed after signing.",
            reasons=reasons + [f"c2pa:{c}" for c in broken],
            decided_by="provenance",
            **common,
        )
    if _declares_ai(prov):
        who = {ProvenanceState.trusted: "a trusted signer", ProvenanceState.valid_untrusted: "a signer that is not on a trust list"}.get(
            prov.state, "a signer whose credential failed validation (expired, revoked or not trusted)")
        return Verdict(
            label=VerdictLabel.declared_synthetic,
            summary=f"The file's Content Credentials, signed by {who}, declare that it was generated or edited with AI ({', '.join(prov.digital_source_types) or 'stated in the actions'}).",
            reasons=reasons + ["c2pa_declares_ai"],
            decided_by="provenance",
            **common,
        )
    claims = [f for f in findings if f.detector in CLAIM_DETECTORS]
    if _authentic(prov) and (unmatched := _unmatched_claims(claims, profile)):
        llr = max(-profile.max_abs_llr, min(profile.max_abs_llr, max(f.llr or 0.0 for f in unmatched)))
        return Verdict(
            label=VerdictLabel.likely_manipulated,
            summary=(f"The file carries valid Content Credentials from a trusted signer ({prov.signer_issuer or prov.signer_subject or 'unnamed'}), "
                     f"but {'; '.join(_claim_clause(f) for f in unmatched)}: a signature vouches for who made the file, not for who "
                     f"is in it. Treat the claim as false (log10 LR {llr:+.2f}, {verbal_scale(llr)})." + _claim_note(claims)),
            reasons=reasons + ["claimed_identity_not_matched"] + [f"detector:{f.detector}" for f in unmatched] + _claim_reasons(claims),
            decided_by="detectors",
            llr=llr,
            verbal=verbal_scale(llr),
            **common,
        )
    if _authentic(prov):
        return Verdict(
            label=VerdictLabel.authentic_provenance,
            summary=f"The file carries valid Content Credentials from a trusted signer ({prov.signer_issuer or prov.signer_subject or 'unnamed'}); its content matches them and no AI generation is declared."
                    + (f" It also carries {prov.hints.unsigned_container_bytes} bytes of data in container boxes the signature does not cover: nobody vouches for them (a player ignores them; another tool may read them as a second file)."
                       if "unsigned_container_data" in reasons else "") + _claim_note(claims),
            reasons=reasons + _claim_reasons(claims),
            decided_by="provenance",
            **common,
        )

    caveat = provenance_caveat(prov)
    applicable = once_per_detector([f for f in findings if f.applicable and f.llr is not None])
    if available == 0:
        return Verdict(
            label=VerdictLabel.inconclusive,
            summary=caveat + "Provenance does not settle this file and no manipulation detector was run (none is enabled by default until its measured error rates meet their targets), so no conclusion can be drawn.",
            reasons=reasons + ["no_detectors_available"],
            decided_by="none",
            **common,
        )
    if not applicable:
        why = "; ".join(f"{f.detector}: {f.reason}" for f in findings if f.reason and f.was_run)
        not_run = sum(not f.was_run for f in findings)
        if not_run:
            lacking = f"{not_run} other detector{'s' if not_run > 1 else ''} not run: the file does not hold what they need"
            why = f"{why}; {lacking}" if why else lacking
        return Verdict(
            label=VerdictLabel.inconclusive,
            summary=caveat + f"Provenance does not settle this file and no detector could examine it ({why or 'not applicable'})." + _claim_note(claims),
            reasons=reasons + ["no_applicable_detectors"] + _claim_reasons(claims),
            decided_by="none",
            **common,
        )

    kinds = evidence_by_kind(applicable)
    reasons += [f"{f.detector}:match_not_counted" for f in applicable if not counted(f)]
    total = mean_of_ratios([k.llr for k in kinds])
    capped = max(-profile.max_abs_llr, min(profile.max_abs_llr, total))
    if capped != total:
        reasons.append("llr_capped")
    verbal = verbal_scale(capped)
    if capped >= profile.manipulated_at:
        label, summary = VerdictLabel.likely_manipulated, f"The detectors' evidence gives {verbal} (combined log10 LR {capped:+.2f}): treat this file as likely manipulated or synthetic."
    elif capped <= profile.cleared_at and prov.state == ProvenanceState.unreadable:
        # Credentials that are there but cannot be checked may be tampered ones hidden behind a
        # broken container (bytes appended to a tampered MP4 read as unparseable): never cleared.
        label, summary = VerdictLabel.inconclusive, f"The detectors found no sign of manipulation ({verbal}, combined log10 LR {capped:+.2f}), but the file's Content Credentials could not be read, and credentials that cannot be checked may hide tampering: not cleared."
        reasons.append("unreadable_credentials_not_cleared")
    elif capped <= profile.cleared_at:
        label, summary = VerdictLabel.no_manipulation_detected, f"The detectors found no sign of manipulation ({verbal}, combined log10 LR {capped:+.2f}); this does not prove the file is authentic."
    else:
        label, summary = VerdictLabel.inconclusive, f"The detectors' evidence is too weak to conclude either way ({verbal}, combined log10 LR {capped:+.2f})."
    return Verdict(
        label=label,
        summary=caveat + summary + _claim_note(claims),
        reasons=reasons + [f"detector:{f.detector}" for f in applicable] + _claim_reasons(claims),
        decided_by="detectors",
        llr=capped,
        verbal=verbal,
        **{**common, "propositions": Propositions(h1_kinds=[k.kind for k in kinds])},
        by_manipulation=kinds,
    )


# Checks of a claim the user made about who is shown or heard: run whatever the provenance says.
CLAIM_DETECTORS = frozenset({"face_identity_claim", "speaker_claim"})


def _unmatched_claims(claims: list[Finding], profile: Profile) -> list[Finding]:
    return [f for f in once_per_detector(claims) if f.applicable and f.llr is not None and f.llr >= profile.manipulated_at]


def _claim_clause(f: Finding) -> str:
    who = f.reference.person if f.reference is not None else "the claimed person"
    what = "the voice" if f.detector == "speaker_claim" else "the face"
    return f"{what} does not match the enrolled reference for {who!r}"


def _unchecked_claim_reasons(claims: list[Finding]) -> list[str]:
    """A claim asked for but not compared (no face, too little speech, noise) must show in the
    verdict: "not checked" is not "checked and fine"."""
    return [f"claim_not_checked:{f.detector}" for f in once_per_detector(claims) if not f.applicable]


def _claim_note(claims: list[Finding]) -> str:
    notes = []
    if _unchecked_claim_reasons(claims):
        notes.append(" The identity claim could not be checked (see its finding): it is neither confirmed nor refuted.")
    for f in _minor_voice_matches(claims):
        notes.append(f" Only {100 * (f.reference.compared_share or 0):.0f} % of the speech is the voice that matches "  # type: ignore[union-attr]
                     f"{f.reference.person!r}; the rest is another voice, which is not theirs (a replayed snippet "  # type: ignore[union-attr]
                     "of the real person matches too).")
    for f in _replays(claims):
        notes.append(f" {f.reference.repeated_s:.1f} s of the speech is the same recording played again "  # type: ignore[union-attr]
                     "(the waveform repeats exactly, which no one speaking does): a replayed recording.")
    for f in _silent_closer_faces(claims):
        notes.append(f" Another face on screen ({f.reference.silent_closer_face}) looks more like "  # type: ignore[union-attr]
                     f"{f.reference.person!r} but does not speak: its lips barely move while someone speaks, as a "  # type: ignore[union-attr]
                     "photograph held up beside the speaker would not, so the claim was judged on the speaking face.")
    if _unledgered(claims):
        notes.append(" The enrolled reference was not checked against the ledger: nothing shows it is the one enrolled.")
    return "".join(notes)


# A voice that matches but holds less than this share of the speech is named in the verdict.
MINOR_VOICE_SHARE = 0.5


def _minor_voice_matches(claims: list[Finding]) -> list[Finding]:
    return [f for f in once_per_detector(claims) if f.applicable and f.reference is not None
            and f.reference.compared_share is not None and f.reference.compared_share < MINOR_VOICE_SHARE
            and (f.llr or 0.0) <= 0]


def _unledgered(claims: list[Finding]) -> list[Finding]:
    """Claims compared with a reference no ledger vouched for (a library caller without one)."""
    return [f for f in once_per_detector(claims) if f.applicable and f.reference is not None
            and f.reference.enrolment_index is None]


def _replays(claims: list[Finding]) -> list[Finding]:
    return [f for f in once_per_detector(claims) if f.applicable and f.reference is not None and f.reference.repeated_s]


def _silent_closer_faces(claims: list[Finding]) -> list[Finding]:
    return [f for f in once_per_detector(claims) if f.applicable and f.reference is not None
            and f.reference.silent_closer_face]


def _claim_reasons(claims: list[Finding]) -> list[str]:
    return (_unchecked_claim_reasons(claims) + ["claimed_speaker_minor_voice" for _ in _minor_voice_matches(claims)]
            + ["speech_replayed" for _ in _replays(claims)]
            + ["claimed_face_silent" for _ in _silent_closer_faces(claims)]
            + ["claim_reference_not_in_ledger" for _ in _unledgered(claims)])


def once_per_detector(findings: list[Finding]) -> list[Finding]:
    """The first finding of each detector: the same evidence counted twice would double its LLR."""
    first: dict[str, Finding] = {}
    for f in findings:
        first.setdefault(f.detector, f)
    return list(first.values())


def counted(f: Finding) -> bool:
    return f.supports_h0 or (f.llr or 0.0) > 0


def evidence_by_kind(findings: list[Finding]) -> list[KindEvidence]:
    """Per kind of manipulation, the sum of its counted findings' log10 LRs (0 when none counts)."""
    llrs: dict[str, float] = {}
    names: dict[str, list[str]] = {}
    for f in findings:
        kind = f.manipulation or f.detector
        llrs[kind] = llrs.get(kind, 0.0) + (f.llr if counted(f) and f.llr is not None else 0.0)
        names.setdefault(kind, []).append(f.detector)
    return [KindEvidence(kind=k, description=MANIPULATION_KINDS.get(k, f"what {names[k][0]} looks for"),
                         llr=round(llrs[k], 6), detectors=names[k]) for k in llrs]


def mean_of_ratios(llrs: list[float]) -> float:
    """log10 of the mean of 10**llr, without overflow (LLRs are finite but may be large)."""
    top = max(llrs)
    return top + math.log10(sum(10.0 ** (v - top) for v in llrs) / len(llrs))
