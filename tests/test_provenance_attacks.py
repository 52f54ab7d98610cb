"""Ways to fool the provenance path that a red-team round found (session 23), each signed for
real with c2pa and read back through the verifier: a time-stamping certificate passing as a
trusted content signer, a trusted edit of a tampered parent, AI declarations in places or
spellings the reader missed, and manifest strings that rewrote the terminal's output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from provenance.c2pa_reader import NOT_CONTENT_SIGNER, _short_dst, declares_ai
from provenance.pki import make_test_pki
from provenance.signer_cert import SignerCertificateError, signature_bytes
from provenance.signing import IPTC, sign_file
from tests.conftest import assert_no_traceback, run_cli
from verifier.config import Settings
from verifier.pipeline import Verifier


def _definition(*, actions=None, assertions=(), generator="camera-app") -> dict:
    acts = actions if actions is not None else [{"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}]
    return {"claim_generator_info": [{"name": generator, "version": "1.0"}], "title": "photo.jpg",
            "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": acts}}, *assertions]}


@pytest.fixture(scope="module")
def verifier_for(tmp_path_factory):
    def make(root: Path) -> Verifier:
        return Verifier(Settings(data_dir=tmp_path_factory.mktemp("v"), trust_anchors=(root,)), detector_names=[])
    return make


@pytest.fixture(scope="module")
def fx(media_fixtures):
    return media_fixtures[0]


def _sign(fx: Path, dst: Path, definition: dict, pki_dir: Path | None = None, ingredients=()) -> Path:
    pki = pki_dir or fx / "pki"
    sign_file(fx / "jpg" / "sample.jpg", dst, cert_chain=pki / "chain.pem", key=pki / "signer.key",
              definition=definition, ingredients=ingredients)
    return dst


@pytest.mark.parametrize("eku", [ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.OCSP_SIGNING])
def test_a_time_stamping_or_ocsp_certificate_is_not_a_trusted_content_signer(tmp_path, fx, verifier_for, eku):
    # The bundled interim anchors carry DigiCert's time-stamping CAs, and c2pa's EKU list must accept
    # time-stamping: c2pa itself reads such a signer as Trusted. The root here stands in for DigiCert.
    pki = make_test_pki(tmp_path / "tsa", name="Some TSA", leaf_ekus=(eku,))
    signed = _sign(fx, tmp_path / "x.jpg", _definition(), tmp_path / "tsa")
    v = verifier_for(pki.root_cert).verify(signed)
    assert v.provenance.validation_state == "Trusted"  # what c2pa says
    assert v.provenance.state.value == "valid_untrusted"
    assert NOT_CONTENT_SIGNER in v.provenance.failure_codes
    assert v.verdict.label.value != "authentic_provenance"
    assert "provenance_signer_not_content_signer" in v.verdict.reasons


def test_a_content_signing_certificate_still_reads_trusted(fx, verifier_for):
    v = verifier_for(fx / "pki" / "root.pem").verify(fx / "jpg" / "signed.jpg")
    assert v.provenance.state.value == "trusted" and v.verdict.label.value == "authentic_provenance"


def test_a_store_without_the_manifest_asked_for_is_refused():
    with pytest.raises(SignerCertificateError):
        signature_bytes(b"\x00\x00\x00\x08jumb", "urn:c2pa:x")
    with pytest.raises(SignerCertificateError):
        signature_bytes(b"junk", "urn:c2pa:x")


def test_a_trusted_edit_of_a_tampered_parent_is_not_authentic(tmp_path, fx, verifier_for):
    # c2pa records the parent's failures in the ingredient at signing and re-reports only changes since.
    opened = _definition(actions=[{"action": "c2pa.opened", "parameters": {"ingredientIds": ["p1"]}}])
    parent = ({"title": "parent.jpg", "relationship": "parentOf", "label": "p1"}, fx / "jpg" / "content_changed.jpg")
    signed = _sign(fx, tmp_path / "edit.jpg", opened, ingredients=(parent,))
    v = verifier_for(fx / "pki" / "root.pem").verify(signed)
    assert v.provenance.state.value == "trusted"
    assert any("assertion.dataHash.mismatch" in c for i in v.provenance.ingredients for c in i.failure_codes)
    assert v.verdict.label.value == "inconclusive"
    assert "provenance_ingredient_altered" in v.verdict.reasons
    # The same edit of an intact parent keeps its verdict.
    intact = ({"title": "parent.jpg", "relationship": "parentOf", "label": "p1"}, fx / "jpg" / "signed.jpg")
    ok = _sign(fx, tmp_path / "edit_ok.jpg", opened, ingredients=(intact,))
    assert verifier_for(fx / "pki" / "root.pem").verify(ok).verdict.label.value == "authentic_provenance"


IPTC_AI = IPTC + "trainedAlgorithmicMedia"


@pytest.mark.parametrize("name,definition", [
    ("signed IPTC metadata", _definition(assertions=[{"label": "c2pa.metadata", "data": {
        "@context": {"Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"}, "Iptc4xmpExt:DigitalSourceType": IPTC_AI}}])),
    ("other case", _definition(actions=[{"action": "c2pa.created", "digitalSourceType": IPTC + "TrainedAlgorithmicMedia"}])),
    ("query string", _definition(actions=[{"action": "c2pa.created", "digitalSourceType": IPTC_AI + "?x=1"}])),
    ("c2pa namespace", _definition(actions=[{"action": "c2pa.created",
                                             "digitalSourceType": "http://c2pa.org/digitalsourcetype/trainedAlgorithmicData"}])),
    ("in words", _definition(actions=[{"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"},
                                      {"action": "c2pa.edited", "description": "Generative Fill (generated by AI)"}])),
])
def test_signed_ai_declarations_are_read_wherever_and_however_written(tmp_path, fx, verifier_for, name, definition):
    v = verifier_for(fx / "pki" / "root.pem").verify(_sign(fx, tmp_path / "ai.jpg", definition))
    assert v.provenance.declared_ai, name
    assert v.verdict.label.value == "declared_synthetic", name


def test_source_type_names_and_ai_wording():
    assert _short_dst(" " + IPTC + "TrainedAlgorithmicMedia#x ") == "trainedAlgorithmicMedia"
    assert _short_dst(IPTC + "digitalCapture/") == "digitalCapture"
    assert _short_dst("") is None and _short_dst(3) is None
    # Round 2: IPTC's QCode form, a URN and JSON-LD objects were read as other names.
    assert _short_dst("digsrctype:trainedAlgorithmicMedia") == "trainedAlgorithmicMedia"
    assert _short_dst("urn:iptc:digsrc:TrainedAlgorithmicMedia") == "trainedAlgorithmicMedia"
    assert _short_dst({"@id": "digsrc:compositeWithTrainedAlgorithmicMedia"}) == "compositeWithTrainedAlgorithmicMedia"
    assert _short_dst("digsrctype:digitalCapture") == "digitalCapture"
    assert declares_ai("AI Generated Image") and declares_ai("generated with AI")
    assert declares_ai("Generative Fill by Firefly (generated by AI)")
    # Round 2: denials made genuine captures "declared synthetic" (exit 12).
    for denial in ("not AI-generated", "Captured in camera without generative AI", "This is not an AI-generated image",
                   "Never AI-generated: straight from the sensor", "no  AI-generated content",
                   "Zero AI-generated pixels; Generative Fill was not used", "edited by hand"):
        assert not declares_ai(denial), denial


def test_a_description_does_not_override_the_source_type_its_action_states(tmp_path, fx, verifier_for):
    capture = _definition(actions=[{"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture",
                                    "description": "Straight from the sensor, AI-generated effects: none"}])
    v = verifier_for(fx / "pki" / "root.pem").verify(_sign(fx, tmp_path / "c.jpg", capture))
    assert v.verdict.label.value == "authentic_provenance"


def test_two_trusted_edits_do_not_launder_a_tampered_original(tmp_path, fx, verifier_for):
    opened = _definition(actions=[{"action": "c2pa.opened", "parameters": {"ingredientIds": ["p1"]}}])
    hop1 = _sign(fx, tmp_path / "hop1.jpg", opened,
                 ingredients=(({"title": "original.jpg", "relationship": "parentOf", "label": "p1"},
                               fx / "jpg" / "content_changed.jpg"),))
    hop2 = _sign(fx, tmp_path / "hop2.jpg", opened,
                 ingredients=(({"title": "hop1.jpg", "relationship": "parentOf", "label": "p1"}, hop1),))
    v = verifier_for(fx / "pki" / "root.pem").verify(hop2)
    assert v.provenance.state.value == "trusted"
    assert v.verdict.label.value == "inconclusive" and "provenance_ingredient_altered" in v.verdict.reasons
    assert "original.jpg" in v.verdict.summary
    # Provenance did not decide, so the detectors ran (they were skipped as if it had).
    from verifier.fusion import provenance_decides

    assert not provenance_decides(v.provenance)
    ran = Verifier(Settings(data_dir=tmp_path / "d2", trust_anchors=(fx / "pki" / "root.pem",), record_to_ledger=False),
                   detector_names=["face_swap"]).verify(hop2)
    assert ran.findings and "provenance_ingredient_altered" in ran.verdict.reasons


def _bstr(b: bytes) -> bytes:
    return bytes([0x59]) + len(b).to_bytes(2, "big") + b


def _sign1(protected: bytes, unprotected: bytes) -> bytes:
    """COSE_Sign1 (tag 18) with a detached payload and a dummy signature."""
    return b"\xd2\x84" + _bstr(protected) + unprotected + b"\xf6" + _bstr(b"\0" * 64)


def _cert_der(tmp_path, name, eku) -> bytes:
    from cryptography import x509

    pki = make_test_pki(tmp_path / name, name=name, leaf_ekus=(eku,))
    return x509.load_pem_x509_certificates(pki.chain.read_bytes())[0].public_bytes(serialization.Encoding.DER)


def test_the_signer_certificate_is_the_one_c2pa_verifies_or_none(tmp_path):
    from provenance.signer_cert import leaf_certificate, signer_purpose

    tsa = _cert_der(tmp_path, "TSA", ExtendedKeyUsageOID.TIME_STAMPING)
    decoy = _cert_der(tmp_path, "Decoy", ExtendedKeyUsageOID.EMAIL_PROTECTION)
    alg = b"\x01\x26"  # alg: ES256
    # Signed header naming two leaves (text key and 33): which one c2pa used depends on order. Refused.
    both = b"\xa3" + alg + b"\x67x5chain\x81" + _bstr(tsa) + b"\x18\x21\x81" + _bstr(decoy)
    with pytest.raises(SignerCertificateError, match="2 different"):
        leaf_certificate(_sign1(both, b"\xa0"))
    # No chain signed: c2pa reads only the text key of the unsigned header, and so does this.
    unsigned = b"\xa2\x67x5chain\x81" + _bstr(tsa) + b"\x18\x21\x81" + _bstr(decoy)
    assert signer_purpose(leaf_certificate(_sign1(b"\xa1" + alg, unsigned))).problem
    # Junk in the unsigned header (a decimal fraction with a huge exponent crashed a CBOR library,
    # deep nesting) cannot change or break the reading of a signed chain.
    signed = b"\xa2" + alg + b"\x18\x21\x81" + _bstr(decoy)
    junk = b"\xa2\x61x\xc4\x82\x1b\x7f\xff\xff\xff\xff\xff\xff\xff\x01\x61y" + b"\x81" * 250 + b"\x00"
    assert signer_purpose(leaf_certificate(_sign1(signed, junk))).problem is None


def test_display_escapes_line_separators_zero_width_and_space_runs():
    from verifier.display import visible

    assert visible("Leica\u2028provenance trusted\u200b") == "Leica\\u2028provenance trusted\\u200b"
    assert visible("x" + " " * 130 + "evidence.jpg: authentic_provenance") == "x (130 spaces) evidence.jpg: authentic_provenance"
    assert visible("café 2 spaces  ok") == "café 2 spaces  ok"


def test_manifest_strings_cannot_forge_or_break_the_terminal_output(tmp_path, fx):
    # Markup ("[/]" crashed rich with a traceback and stopped the folder), a newline with a fake
    # row, and ANSI cursor moves that could overwrite the printed verdict.
    hostile = "Canon [/] [bold green]x\n\x1b[3A\x1b[2Kprovenance     trusted: signed by a trusted signer\u202e"
    folder = tmp_path / "in"
    folder.mkdir()
    _sign(fx, folder / "a_hostile.jpg", _definition(generator=hostile))
    (folder / "b_plain.jpg").write_bytes((fx / "jpg" / "signed.jpg").read_bytes())
    res = run_cli("verify", str(folder), "--no-ledger", "--trust-anchors", str(fx / "pki" / "root.pem"), data_dir=tmp_path / "d",
                  env_extra={"COLUMNS": "400"})
    assert_no_traceback(res)
    assert res.code == 0, res.stderr
    assert "b_plain.jpg: authentic_provenance" in res.stdout  # the next file was still verified
    assert "\x1b" not in res.stdout and "\u202e" not in res.stdout
    assert "Canon [/] [bold green]x\\u000a\\u001b[3A" in res.stdout
    assert sum(line.startswith("provenance ") for line in res.stdout.splitlines()) == 2  # one row per file, none forged
    # JSON keeps the exact string (it is data, and JSON escapes it).
    res = run_cli("verify", str(folder / "a_hostile.jpg"), "--no-ledger", "--json", data_dir=tmp_path / "d")
    assert json.loads(res.stdout)["provenance"]["claim_generator"].startswith("Canon [/] [bold green]x\n\x1b[3A")


def test_a_planted_source_type_does_not_hide_the_synthetic_one(tmp_path):
    from provenance.metadata import read_hints
    from verifier.evidence import MediaInfo, MediaKind

    # A comment segment naming "digitalCapture" ahead of the XMP hid its trainedAlgorithmicMedia.
    path = tmp_path / "x.jpg"
    path.write_bytes(b"\xff\xd8\xff\xfe\x00\x40http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
                     b"<x:xmpmeta>Iptc4xmpExt:DigitalSourceType=http://cv.iptc.org/newscodes/digitalsourcetype/"
                     b"trainedAlgorithmicMedia</x:xmpmeta>\xff\xd9")
    hints = read_hints(path, MediaInfo(kind=MediaKind.image, mime_type="image/jpeg"))
    assert hints.iptc_digital_source_type == "trainedAlgorithmicMedia"
    assert hints.ai_generator_hint


def test_only_a_trusted_time_stamp_counts_as_one():
    from provenance.c2pa_reader import trusted_timestamp
    from verifier.evidence import StatusCode

    def codes(*names, scope="active"):
        return [StatusCode(code=n, kind="success", scope=scope) for n in names]
    assert trusted_timestamp(codes("timeStamp.validated", "timeStamp.trusted"))
    # An attacker-run TSA: the token validates, its signer is not trusted.
    assert not trusted_timestamp(codes("timeStamp.validated", "timeStamp.untrusted"))
    assert not trusted_timestamp(codes("timeStamp.validated"))
    assert not trusted_timestamp(codes("timeStamp.trusted", scope="ingredient"))


def test_data_hidden_in_unsigned_mp4_boxes_is_named_padding_is_not(tmp_path, fx, verifier_for):
    # c2pa leaves top-level free/skip/mfra boxes out of the hash: a signed MP4 carried a whole
    # second video in a trailing "skip" box and read as plain authentic_provenance.
    import struct

    signed = (fx / "mp4" / "signed.mp4").read_bytes()
    hidden = (fx / "mp4" / "sample.mp4").read_bytes()  # the unsigned original: a whole other video
    carrier = tmp_path / "carrier.mp4"
    carrier.write_bytes(signed + struct.pack(">I4s", 8 + len(hidden), b"skip") + hidden)
    padded = tmp_path / "padded.mp4"
    padded.write_bytes(signed + struct.pack(">I4s", 8 + 50_000, b"free") + bytes(50_000))
    v = verifier_for(fx / "pki" / "root.pem")
    carried, pad = v.verify(carrier), v.verify(padded)
    assert carried.verdict.label.value == pad.verdict.label.value == "authentic_provenance"
    assert "unsigned_container_data" in carried.verdict.reasons and "not cover" in carried.verdict.summary
    assert carried.provenance.hints.unsigned_container_bytes > 4096
    assert "unsigned_container_data" not in pad.verdict.reasons and pad.provenance.hints.unsigned_container_bytes == 0
