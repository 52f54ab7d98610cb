"""Real signed media from cameras, editors and AI generators (../shared): every
file gets the state and failure codes c2pa reports with the trust lists
loaded (MANIFEST.tsv column "with_trust_lists"), and none raises."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE
from verifier.config import Settings
from verifier.errors import VerifierError
from verifier.pipeline import Verifier

STATE = {"Trusted": "trusted", "Valid": "valid_untrusted", "Invalid": "invalid"}
EXC_STATE = {"ManifestNotFound": "absent", "NotSupported": "unsupported_format"}


def manifest_rows() -> list[dict[str, str]]:
    path = CONFORMANCE / "MANIFEST.tsv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [r for r in rows if not r["path"].startswith("trust/")]


def expected(cell: str) -> tuple[str, set[str]]:
    if cell.startswith("EXC"):
        kind = cell.split(":", 1)[0].split()[-1].split(".")[-1]
        return EXC_STATE.get(kind, "unreadable"), set()
    state, codes = cell.split(": ", 1)
    return STATE[state], set() if codes.startswith("(no") else set(codes.split(","))


ROWS = manifest_rows()


@pytest.fixture(scope="module")
def verifier(tmp_path_factory):
    if not ROWS:
        pytest.skip(f"shared C2PA conformance corpus not present at {CONFORMANCE}")
    anchors = (CONFORMANCE / "trust" / "ms_test_root_CA.crt",)
    return Verifier(Settings(data_dir=tmp_path_factory.mktemp("conf"), trust_anchors=anchors), detector_names=[])


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS] or None)
def test_conformance_file(verifier, row):
    column = next(k for k in row if k.startswith("with_trust_lists"))
    want_state, want_codes = expected(row[column])
    try:
        result = verifier.verify(Path(CONFORMANCE / row["path"]))
    except VerifierError as exc:  # a typed, user-facing error is acceptable only for non-media
        pytest.fail(f"{row['path']}: {exc}")
    assert result.provenance.state.value == want_state, result.provenance.message
    assert set(result.provenance.failure_codes) == want_codes


def test_corpus_is_complete_when_present():
    if not ROWS:
        pytest.skip("corpus absent")
    assert len(ROWS) >= 40
    missing = [r["path"] for r in ROWS if not (CONFORMANCE / r["path"]).is_file()]
    assert not missing


@pytest.mark.parametrize(
    "path,label",
    [
        ("image/ai-generators/openai_dalle_cloud_surfing_puppy.webp", "declared_synthetic"),
        ("image/ai-generators/bing_creator_cloud_surfing_puppy.jpg", "declared_synthetic"),
        ("image/ai-generators/amazon-titan-g1.png", "declared_synthetic"),
        ("image/vendors/adobe_photoshop_ocsp.jpg", "declared_synthetic"),
        ("video/ebu/prmiere-firefly.mp4", "declared_synthetic"),
        ("image/microsoft-testpki/cards_trusted.jpg", "authentic_provenance"),
        ("audio/microsoft/cicadas_trusted.mp3", "authentic_provenance"),
        ("image/microsoft-testpki/cards_invalid.jpg", "tampered"),
        ("image/public-testfiles/adobe-20220124-E-sig-CA.jpg", "tampered"),
        ("image/vendors/nikon-20221019-building.jpeg", "inconclusive"),  # expired signer: not evidence of editing
        ("image/c2pa-rs/remote_manifest_cloud.jpg", "inconclusive"),
    ],
)
def test_conformance_labels(verifier, path, label):
    assert verifier.verify(CONFORMANCE / path).verdict.label.value == label
