"""Every tamper case, for every fixture format, gets the right state and label."""

from __future__ import annotations

import json

import pytest

from fixtures.make_fixtures import FORMATS, VARIANTS, expected_outcomes
from tests.conftest import assert_no_traceback, run_cli
from verifier.config import Settings
from verifier.errors import EXIT_DECLARED_SYNTHETIC, EXIT_OK, EXIT_TAMPERED
from verifier.pipeline import Verifier

EXPECTED = expected_outcomes()


@pytest.fixture(scope="module")
def verifier(media_fixtures, test_root, tmp_path_factory):
    return Verifier(Settings(data_dir=tmp_path_factory.mktemp("data"), trust_anchors=(test_root,)), detector_names=[])


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_state_and_label(verifier, media_fixtures, fmt, variant):
    path = media_fixtures[1][fmt][variant]
    result = verifier.verify(path)
    want = EXPECTED[variant]
    assert (result.provenance.state.value, result.verdict.label.value) == (want.state, want.label), result.provenance.failure_codes


@pytest.mark.parametrize("fmt", FORMATS)
def test_specific_failure_codes(verifier, media_fixtures, fmt):
    v = media_fixtures[1][fmt]
    changed = verifier.verify(v["content_changed"]).provenance.failure_codes
    assert any(c in changed for c in ("assertion.dataHash.mismatch", "assertion.bmffHash.mismatch")), changed
    assert "claimSignature.mismatch" in verifier.verify(v["signature_flipped"]).provenance.failure_codes
    assert "signingCredential.expired" in verifier.verify(v["expired"]).provenance.failure_codes
    assert verifier.verify(v["untrusted"]).provenance.failure_codes == ["signingCredential.untrusted"]


def test_without_the_test_root_the_signed_file_is_only_valid_untrusted(media_fixtures, tmp_path):
    v = Verifier(Settings(data_dir=tmp_path), detector_names=[])
    r = v.verify(media_fixtures[1]["jpg"]["signed"])
    assert r.provenance.state.value == "valid_untrusted"
    assert r.verdict.label.value == "inconclusive"


def test_signed_fields_are_reported(verifier, media_fixtures):
    p = verifier.verify(media_fixtures[1]["mp4"]["ai"]).provenance
    assert p.signer_subject == "av-verifier TEST Signer"
    assert p.signer_issuer == "av-verifier TEST"
    assert p.claim_generator.startswith("av-verifier")
    assert p.digital_source_types == ["trainedAlgorithmicMedia"]
    assert p.declared_ai and p.actions[0].action == "c2pa.created"
    assert p.signature_alg and p.active_manifest


@pytest.mark.parametrize("variant,code", [("signed", EXIT_OK), ("content_changed", EXIT_TAMPERED),
                                          ("signature_flipped", EXIT_TAMPERED), ("ai", EXIT_DECLARED_SYNTHETIC)])
def test_cli_exit_codes(media_fixtures, test_root, data_dir, variant, code):
    r = run_cli("verify", "--json", "--no-ledger", "--trust-anchors", str(test_root),
                str(media_fixtures[1]["wav"][variant]), data_dir=data_dir)
    assert_no_traceback(r)
    assert r.code == code, r.stderr
    doc = json.loads(r.stdout)
    assert doc["verdict"]["label"] == EXPECTED[variant].label
