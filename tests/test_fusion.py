"""Fusion with constructed findings: provenance first, then the detectors' LLRs
(added within a kind of manipulation, weighed as alternatives across kinds) by profile."""

from __future__ import annotations

import math

import pytest

from verifier.evidence import (
    Finding,
    Ingredient,
    MediaInfo,
    MediaKind,
    MetadataHints,
    ProvenanceResult,
    ProvenanceState,
    VerdictLabel,
)
from verifier.fusion import PROFILES, UnknownProfileError, fuse, get_profile, verbal_scale

MEDIA = MediaInfo(kind=MediaKind.video, mime_type="video/mp4")
ABSENT = ProvenanceResult(state=ProvenanceState.absent)


def finding(name: str, llr: float | None, applicable: bool = True, reason: str = "", kind: str = "voice") -> Finding:
    return Finding(detector=name, version="1", modality="audio", applicable=applicable, llr=llr, raw_score=0.5,
                   reason=reason, manipulation=kind)


def test_no_detectors_is_inconclusive_and_says_so():
    v = fuse(ABSENT, MEDIA, [], get_profile("finance"), detectors_available=0)
    assert v.label == VerdictLabel.inconclusive
    assert "no_detectors_available" in v.reasons
    assert v.llr is None


def test_detectors_present_but_none_applicable():
    v = fuse(ABSENT, MEDIA, [finding("voice", None, applicable=False, reason="no speech")], get_profile("finance"))
    assert v.label == VerdictLabel.inconclusive
    assert "no_applicable_detectors" in v.reasons
    assert "no speech" in v.summary


def test_llrs_of_one_kind_are_summed_over_applicable_findings_only():
    fs = [finding("a", 0.7), finding("b", 0.6), finding("c", 5.0, applicable=False)]
    v = fuse(ABSENT, MEDIA, fs, get_profile("finance"))
    assert v.llr == pytest.approx(1.3)
    assert v.label == VerdictLabel.likely_manipulated
    assert v.decided_by == "detectors"
    assert v.detectors_applicable == 2


@pytest.mark.parametrize(
    "llr,finance,publisher,legal",
    [
        (1.5, "likely_manipulated", "inconclusive", "inconclusive"),
        (2.5, "likely_manipulated", "likely_manipulated", "inconclusive"),
        (3.5, "likely_manipulated", "likely_manipulated", "likely_manipulated"),
        (0.0, "inconclusive", "inconclusive", "inconclusive"),
        (-1.5, "no_manipulation_detected", "no_manipulation_detected", "inconclusive"),
        (-3.5, "no_manipulation_detected", "no_manipulation_detected", "no_manipulation_detected"),
    ],
)
def test_profiles_change_the_label_not_the_evidence(llr, finance, publisher, legal):
    labels = {}
    for name in ("finance", "publisher", "legal"):
        v = fuse(ABSENT, MEDIA, [finding("a", llr)], PROFILES[name])
        assert v.llr == pytest.approx(llr)
        labels[name] = v.label.value
    assert labels == {"finance": finance, "publisher": publisher, "legal": legal}


def test_never_says_authentic_from_detectors():
    v = fuse(ABSENT, MEDIA, [finding("a", -5.0)], get_profile("finance"))
    assert v.label == VerdictLabel.no_manipulation_detected
    assert "does not prove" in v.summary


def test_combined_llr_is_capped():
    v = fuse(ABSENT, MEDIA, [finding("a", 5.0), finding("b", 5.0)], get_profile("finance"))
    assert v.llr == pytest.approx(6.0)
    assert "llr_capped" in v.reasons


def test_integrity_failure_is_tampered_even_with_exonerating_detectors():
    prov = ProvenanceResult(state=ProvenanceState.invalid, failure_codes=["signingCredential.untrusted", "assertion.dataHash.mismatch"])
    v = fuse(prov, MEDIA, [finding("a", -4.0)], get_profile("finance"))
    assert v.label == VerdictLabel.tampered
    assert "c2pa:assertion.dataHash.mismatch" in v.reasons
    assert "c2pa:signingCredential.untrusted" not in v.reasons


def test_credential_only_failure_is_not_called_tampered():
    prov = ProvenanceResult(state=ProvenanceState.invalid, failure_codes=["signingCredential.untrusted", "signingCredential.expired"])
    v = fuse(prov, MEDIA, [], get_profile("finance"), detectors_available=0)
    assert v.label == VerdictLabel.inconclusive
    assert "provenance_credential_failed" in v.reasons


def test_ingredient_only_failure_is_not_called_tampered():
    prov = ProvenanceResult(state=ProvenanceState.invalid, failure_codes=["ingredient:assertion.dataHash.mismatch"])
    v = fuse(prov, MEDIA, [finding("a", -2.0)], get_profile("finance"))
    assert v.label == VerdictLabel.no_manipulation_detected
    assert "provenance_ingredient_failed" in v.reasons


def test_trusted_and_declared_ai_is_declared_synthetic():
    prov = ProvenanceResult(state=ProvenanceState.trusted, declared_ai=True, digital_source_types=["trainedAlgorithmicMedia"])
    v = fuse(prov, MEDIA, [], get_profile("legal"))
    assert v.label == VerdictLabel.declared_synthetic
    assert v.decided_by == "provenance"


def test_untrusted_signer_declaring_ai_is_still_declared_synthetic():
    prov = ProvenanceResult(state=ProvenanceState.valid_untrusted, declared_ai=True)
    assert fuse(prov, MEDIA, [], get_profile("finance")).label == VerdictLabel.declared_synthetic


def test_expired_signer_declaring_ai_is_still_declared_synthetic():
    # Intact, credential failures only: a signed AI declaration states against the signer's interest.
    prov = ProvenanceResult(state=ProvenanceState.invalid, declared_ai=True,
                            failure_codes=["signingCredential.untrusted", "signingCredential.expired"])
    v = fuse(prov, MEDIA, [finding("a", -3.0)], get_profile("finance"))
    assert v.label == VerdictLabel.declared_synthetic
    assert "credential failed validation" in v.summary


def test_tampered_manifest_declaring_ai_is_still_tampered():
    prov = ProvenanceResult(state=ProvenanceState.invalid, declared_ai=True, failure_codes=["assertion.dataHash.mismatch"])
    assert fuse(prov, MEDIA, [], get_profile("finance")).label == VerdictLabel.tampered


def test_unreadable_credentials_are_never_cleared_by_detectors():
    # Bytes appended to a tampered MP4 made c2pa refuse the container: "tampered" became "unreadable".
    prov = ProvenanceResult(state=ProvenanceState.unreadable, message="C2PA data could not be parsed")
    v = fuse(prov, MEDIA, [finding("a", -3.0)], get_profile("finance"))
    assert v.label == VerdictLabel.inconclusive
    assert "unreadable_credentials_not_cleared" in v.reasons
    assert fuse(prov, MEDIA, [finding("a", 3.0)], get_profile("finance")).label == VerdictLabel.likely_manipulated
    assert fuse(ABSENT, MEDIA, [finding("a", -3.0)], get_profile("finance")).label == VerdictLabel.no_manipulation_detected


def test_signed_metadata_declaring_ai_blocks_authentic_provenance():
    hints = MetadataHints(iptc_digital_source_type="trainedAlgorithmicMedia", ai_generator_hint="IPTC digital source type trainedAlgorithmicMedia")
    prov = ProvenanceResult(state=ProvenanceState.trusted, hints=hints)
    v = fuse(prov, MEDIA, [], get_profile("finance"), detectors_available=0)
    assert v.label == VerdictLabel.inconclusive
    assert "metadata_contradicts_manifest" in v.reasons
    tool_only = MetadataHints(software=["Midjourney v6"], ai_generator_hint="software tag mentions midjourney")
    v = fuse(ProvenanceResult(state=ProvenanceState.trusted, hints=tool_only), MEDIA, [], get_profile("finance"))
    assert v.label == VerdictLabel.authentic_provenance  # a software name is a hint, not a declaration
    assert "metadata_mentions_ai_generator" in v.reasons


def test_trusted_edit_of_an_altered_ingredient_is_not_authentic():
    altered = Ingredient(title="parent.jpg", relationship="parentOf", failure_codes=["assertion.dataHash.mismatch"])
    expired = Ingredient(title="old.jpg", relationship="componentOf", failure_codes=["signingCredential.expired"])
    v = fuse(ProvenanceResult(state=ProvenanceState.trusted, ingredients=[altered]), MEDIA, [], get_profile("finance"))
    assert v.label == VerdictLabel.inconclusive and "provenance_ingredient_altered" in v.reasons
    assert v.summary.startswith("The Content Credentials are from a trusted signer, but a file they were made from (parent.jpg)")
    v = fuse(ProvenanceResult(state=ProvenanceState.trusted, ingredients=[expired]), MEDIA, [], get_profile("finance"))
    assert v.label == VerdictLabel.authentic_provenance


def test_trusted_intact_is_authentic_provenance():
    prov = ProvenanceResult(state=ProvenanceState.trusted, signer_issuer="Example News")
    v = fuse(prov, MEDIA, [], get_profile("finance"))
    assert v.label == VerdictLabel.authentic_provenance
    assert "Example News" in v.summary


def test_untrusted_signer_does_not_settle():
    prov = ProvenanceResult(state=ProvenanceState.valid_untrusted)
    v = fuse(prov, MEDIA, [finding("a", 2.0)], get_profile("finance"))
    assert v.label == VerdictLabel.likely_manipulated


@pytest.mark.parametrize(
    "llr,phrase",
    [(0.5, "weak support for H1"), (1.5, "moderate support for H1"), (2.5, "moderately strong support for H1"),
     (3.5, "strong support for H1"), (5.0, "very strong support for H1"), (7.0, "extremely strong support for H1"),
     (-2.5, "moderately strong support for H0"), (0.0, "no support for either")],
)
def test_verbal_scale_enfsi_bands(llr, phrase):
    assert verbal_scale(llr).startswith(phrase)


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(UnknownProfileError, match="choose one of"):
        get_profile("lenient")


def test_nonfinite_llr_is_rejected_by_the_detector_guard():
    from detectors.base import check_llr

    with pytest.raises(ValueError):
        check_llr(math.nan)
    assert check_llr(None) is None


def test_an_identity_match_is_not_support_for_authenticity():
    """A cloned voice matches its target: a claim match must not clear a file,
    while a mismatch still counts as evidence against it."""
    match = Finding(detector="speaker_claim", version="1", modality="audio", applicable=True, llr=-3.0, supports_h0=False,
                    manipulation="voice")
    v = fuse(ABSENT, MEDIA, [match, finding("voice", 0.4)], get_profile("finance"))
    assert v.llr == pytest.approx(0.4)
    assert "speaker_claim:match_not_counted" in v.reasons
    assert v.label != VerdictLabel.no_manipulation_detected
    mismatch = match.model_copy(update={"llr": 2.0})
    v = fuse(ABSENT, MEDIA, [mismatch, finding("voice", 0.4)], get_profile("finance"))
    assert v.llr == pytest.approx(2.4) and v.label == VerdictLabel.likely_manipulated


def test_kinds_of_manipulation_are_alternatives_not_cumulative():
    """A genuine voice is evidence against a voice clone, not against a face swap:
    it must not cancel the face evidence, as a product of all LRs let it."""
    face, voice = finding("face_swap", 1.5, kind="face"), finding("voice_clone", -1.5, kind="voice")
    v = fuse(ABSENT, MEDIA, [face, voice], get_profile("finance"))
    assert v.llr == pytest.approx(math.log10((10 ** 1.5 + 10 ** -1.5) / 2))  # +1.2, not 0
    assert v.label == VerdictLabel.likely_manipulated
    assert v.propositions.h1_kinds == ["face", "voice"]
    assert [(k.kind, k.llr, k.detectors) for k in v.by_manipulation] == [("face", 1.5, ["face_swap"]),
                                                                         ("voice", -1.5, ["voice_clone"])]
    assert "replaced" in v.by_manipulation[0].description


def test_clearing_a_file_needs_support_against_every_kind_examined():
    both = [finding("face_swap", -2.0, kind="face"), finding("voice_clone", -2.0, kind="voice")]
    assert fuse(ABSENT, MEDIA, both, get_profile("finance")).label == VerdictLabel.no_manipulation_detected
    # the voice examined only by a claim that matched (no evidence either way): LR 1 for that kind
    match = Finding(detector="speaker_claim", version="1", modality="audio", applicable=True, llr=-3.0,
                    supports_h0=False, manipulation="voice")
    v = fuse(ABSENT, MEDIA, [both[0], match], get_profile("finance"))
    assert v.llr == pytest.approx(math.log10((0.01 + 1) / 2))
    assert v.label == VerdictLabel.inconclusive


def test_a_detector_without_a_declared_kind_is_a_kind_of_its_own():
    v = fuse(ABSENT, MEDIA, [finding("plugin_a", 3.0, kind=""), finding("plugin_b", -3.0, kind="")], get_profile("finance"))
    assert [k.kind for k in v.by_manipulation] == ["plugin_a", "plugin_b"]
    assert v.llr == pytest.approx(math.log10((1e3 + 1e-3) / 2))


def test_extreme_llrs_do_not_overflow():
    v = fuse(ABSENT, MEDIA, [finding("a", 400.0, kind="face"), finding("b", -400.0, kind="voice")], get_profile("legal"))
    assert v.llr == pytest.approx(6.0) and "llr_capped" in v.reasons


def test_a_detector_counts_once_however_often_its_finding_appears():
    # A request naming voice_clone three times tripled its LLR: inconclusive became cleared.
    once = fuse(ABSENT, MEDIA, [finding("voice_clone", -1.05)], get_profile("legal"))
    thrice = fuse(ABSENT, MEDIA, [finding("voice_clone", -1.05)] * 3, get_profile("legal"))
    assert thrice.llr == once.llr == pytest.approx(-1.05)
    assert thrice.label == VerdictLabel.inconclusive


def test_a_repeated_detector_name_is_selected_once():
    from verifier.selection import parse_detector_list

    assert parse_detector_list("voice_clone,voice_clone, voice_clone") == ["voice_clone"]


TRUSTED = ProvenanceResult(state=ProvenanceState.trusted, signer_issuer="Camera Maker CA")


def claim(detector: str, llr: float | None, applicable: bool = True) -> Finding:
    from verifier.evidence import ReferenceUsed

    ref = ReferenceUsed(person="Jane Doe (CFO)", modality="voice" if detector == "speaker_claim" else "face", sha256="a" * 64,
                        enrolment_index=3)
    return Finding(detector=detector, version="1", modality="audio", applicable=applicable, llr=llr, supports_h0=False,
                   reference=ref if applicable else None, reason="" if applicable else "too little speech")


@pytest.mark.parametrize("detector", ["speaker_claim", "face_identity_claim"])
def test_a_trusted_signature_does_not_vouch_for_who_is_in_the_file(detector):
    """A signed capture of an impostor is an impostor: a claim that does not match outweighs authentic provenance."""
    v = fuse(TRUSTED, MEDIA, [claim(detector, 2.4)], get_profile("finance"))
    assert v.label == VerdictLabel.likely_manipulated and v.llr == pytest.approx(2.4)
    assert "claimed_identity_not_matched" in v.reasons and "provenance_trusted" in v.reasons
    assert "does not match the enrolled reference for 'Jane Doe (CFO)'" in v.summary and "Camera Maker CA" in v.summary
    legal = fuse(TRUSTED, MEDIA, [claim(detector, 2.4)], get_profile("legal"))  # below the legal profile's threshold
    assert legal.label == VerdictLabel.authentic_provenance


def test_a_matching_or_unchecked_claim_leaves_authentic_provenance_and_an_unchecked_one_says_so():
    v = fuse(TRUSTED, MEDIA, [claim("speaker_claim", -1.5)], get_profile("finance"))
    assert v.label == VerdictLabel.authentic_provenance and not any(r.startswith("claim_") for r in v.reasons)
    v = fuse(TRUSTED, MEDIA, [claim("speaker_claim", None, applicable=False)], get_profile("finance"))
    assert v.label == VerdictLabel.authentic_provenance
    assert "claim_not_checked:speaker_claim" in v.reasons and "could not be checked" in v.summary
    v = fuse(ABSENT, MEDIA, [claim("speaker_claim", None, applicable=False), finding("voice", -0.2)], get_profile("finance"))
    assert "claim_not_checked:speaker_claim" in v.reasons and "could not be checked" in v.summary


def test_claims_do_not_soften_tampered_or_declared_synthetic():
    tampered = ProvenanceResult(state=ProvenanceState.invalid, failure_codes=["assertion.dataHash.mismatch"])
    assert fuse(tampered, MEDIA, [claim("speaker_claim", -2.0)], get_profile("finance")).label == VerdictLabel.tampered
    ai = ProvenanceResult(state=ProvenanceState.trusted, declared_ai=True, digital_source_types=["trainedAlgorithmicMedia"])
    assert fuse(ai, MEDIA, [claim("face_identity_claim", -2.0)], get_profile("finance")).label == VerdictLabel.declared_synthetic


def test_a_match_by_a_minor_voice_is_named_in_the_verdict():
    """An impostor's voice note with a few seconds of the real person replayed: the closest voice matches."""
    from verifier.evidence import ReferenceUsed

    def call(share):
        f = claim("speaker_claim", -0.8)
        return f.model_copy(update={"reference": ReferenceUsed(person="Jane", modality="voice", sha256="a" * 64, compared_share=share,
                                                               enrolment_index=3)})

    v = fuse(TRUSTED, MEDIA, [call(0.12)], get_profile("finance"))
    assert "claimed_speaker_minor_voice" in v.reasons and "Only 12 % of the speech" in v.summary
    v = fuse(ABSENT, MEDIA, [call(0.12), finding("voice", 0.3)], get_profile("finance"))
    assert "claimed_speaker_minor_voice" in v.reasons and "Only 12 % of the speech" in v.summary
    for share in (0.6, None):
        assert "claimed_speaker_minor_voice" not in fuse(TRUSTED, MEDIA, [call(share)], get_profile("finance")).reasons


def test_the_verdict_says_when_a_claim_was_unchecked_or_its_reference_not_in_the_ledger():
    """Round 2: on the trusted-but-unmatched branch an unchecked second claim went unmentioned; a reference
    compared without a ledger (a library caller) was said only inside the finding."""
    both = [claim("face_identity_claim", 2.4), claim("speaker_claim", None, applicable=False)]
    v = fuse(TRUSTED, MEDIA, both, get_profile("finance"))
    assert v.label == VerdictLabel.likely_manipulated and "claim_not_checked:speaker_claim" in v.reasons
    assert "could not be checked" in v.summary
    loose = claim("speaker_claim", -1.0)
    loose = loose.model_copy(update={"reference": loose.reference.model_copy(update={"enrolment_index": None})})
    v = fuse(TRUSTED, MEDIA, [loose], get_profile("finance"))
    assert "claim_reference_not_in_ledger" in v.reasons and "not checked against the ledger" in v.summary


def test_a_replayed_recording_is_named_in_the_verdict():
    from verifier.evidence import ReferenceUsed

    f = claim("speaker_claim", -0.5)
    f = f.model_copy(update={"reference": ReferenceUsed(person="Jane", modality="voice", sha256="a" * 64, enrolment_index=1,
                                                        compared_share=0.3, repeated_s=7.8)})
    v = fuse(TRUSTED, MEDIA, [f], get_profile("finance"))
    assert "speech_replayed" in v.reasons and "7.8 s of the speech is the same recording played again" in v.summary
    none = f.model_copy(update={"reference": f.reference.model_copy(update={"repeated_s": 0.0})})
    assert "speech_replayed" not in fuse(TRUSTED, MEDIA, [none], get_profile("finance")).reasons


def test_a_closer_face_that_never_speaks_is_named_in_the_verdict():
    """A photograph of the claimed person held up beside an impostor who talks: the claim is judged on
    the speaking face, and the verdict says why the closer face was set aside."""
    f = claim("face_identity_claim", 4.0)
    f = f.model_copy(update={"reference": f.reference.model_copy(update={"silent_closer_face": "track 1"})})
    v = fuse(ABSENT, MEDIA, [f], get_profile("finance"))
    assert "claimed_face_silent" in v.reasons and "(track 1)" in v.summary and "does not speak" in v.summary
    assert "claimed_face_silent" not in fuse(ABSENT, MEDIA, [claim("face_identity_claim", 4.0)], get_profile("finance")).reasons
