"""Evidence bundles: one zip that a court or an auditor checks offline as a whole, and in
which no member can be changed, swapped or added without the check failing."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import assert_no_traceback, run_cli
from verifier.artifacts import seal
from verifier.bundle import REPORT, verify_bundle, write_bundle
from verifier.config import Settings
from verifier.evidence import Artifact, Finding
from verifier.intake import EvidenceStore
from verifier.ledger import Ledger, LedgerInputError, ProofError
from verifier.pipeline import Verifier, ledger_record

ORIGIN = "test.example/bundle"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("VERIFIER_LEDGER_URL", "VERIFIER_LEDGER_KEY", "VERIFIER_LEDGER_KEY_PASSPHRASE", "VERIFIER_LEDGER_TSA_URL"):
        monkeypatch.delenv(var, raising=False)


def _image(path: Path, seed: int) -> Path:
    Image.fromarray((np.random.default_rng(seed).random((30, 90)) * 255).astype("uint8")).save(path)
    return path


@pytest.fixture
def case(tmp_path, media_fixtures):
    """A data dir whose ledger entry 0 is a real verification of a WAV, with two sealed evidence
    images (written where a detector writes them), and its bundle."""
    settings = Settings(data_dir=tmp_path / "data", ledger_url=None, record_to_ledger=False)
    result = Verifier(settings, detector_names=[]).verify(media_fixtures[1]["wav"]["plain"])
    art_dir = settings.data_dir / "artifacts" / result.record_id
    art_dir.mkdir(parents=True)
    finding = seal(Finding(
        detector="voice_clone", version="0.1", modality="audio", applicable=True, raw_score=0.9, llr=1.2,
        artifacts=[Artifact(kind="spectrogram", media_type="image/png", path=str(_image(art_dir / "s.png", 1))),
                   Artifact(kind="sync_curve", media_type="image/png", path=str(_image(art_dir / "c.png", 2)))]))
    result = result.model_copy(update={"findings": [finding]})
    with Ledger.open(settings, origin=ORIGIN) as led:
        led.append(ledger_record(result, ORIGIN))
        led.checkpoint()
        key = led.verifier_key.encode()
        bundle = write_bundle(led, 0, EvidenceStore(settings.evidence_dir), tmp_path / "case.zip")
    return settings, bundle, key, result


def _keys(key: str):
    from verifier.ledger.note import VerifierKey

    return [VerifierKey.parse(key)]


def _rezip(src: Path, dst: Path, replace: dict[str, bytes] | None = None, add: list[tuple[str, bytes]] = ()) -> Path:
    """A doctored copy of a bundle: some members' bytes replaced, some members added."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info)))
        for name, data in add:
            zout.writestr(name, data)
    return dst


def test_a_bundle_checks_offline_and_holds_what_a_court_needs(case, tmp_path):
    settings, bundle, key, result = case
    names = zipfile.ZipFile(bundle).namelist()
    assert {"receipt.tlog-proof", "record.json", "report.html", "README.txt",
            "original/sample.wav", "artifacts/0-0-spectrogram.png", "artifacts/0-1-sync_curve.png"} == set(names)
    check = verify_bundle(bundle, _keys(key))
    assert check.original == "original/sample.wav" and check.artifacts == 2 and check.report_matches
    assert check.verification.input.hashes == result.input.hashes and not check.notes
    report = zipfile.ZipFile(bundle).read(REPORT).decode()
    assert report.count("data:image/png;base64,") == 2 and "Ledger" in report

    # the CLI, with the key as the operator exports it: everything the user relies on is said
    out = run_cli("ledger", "verify-bundle", str(bundle), "--key", key)
    assert out.code == 0, out.stderr
    assert "byte for byte the file received as 'sample.wav'" in out.stdout
    assert "2 evidence image(s) match" in out.stdout and "report.html is this tool's rendering" in out.stdout
    # the same entry bundles again to the same bytes (fixed member times, nothing else varies)
    again = run_cli("ledger", "bundle", "0", "--out", str(tmp_path / "again.zip"), data_dir=settings.data_dir)
    assert again.code == 0, again.stderr
    assert (tmp_path / "again.zip").read_bytes() == bundle.read_bytes()


@pytest.mark.parametrize("doctor,expect", [
    ("original/sample.wav", "is not the file the record was made for"),
    ("record.json", "is not the record the receipt carries"),
    ("artifacts/0-1-sync_curve.png", "is not the evidence image the record sealed"),
    (REPORT, "does not say what the signed record says"),
    ("README.txt", "does not say what the signed record says"),
])
def test_any_member_changed_fails_the_check(case, tmp_path, doctor, expect):
    _, bundle, key, _ = case
    with zipfile.ZipFile(bundle) as zf:
        data = bytearray(zf.read(doctor))
    if doctor in (REPORT, "README.txt"):
        data = bytes(data).replace(b"nconclusive", b"uthentic").replace(b"Inconclusive", b"Provenance verified")
        assert b"uthentic" in data or b"Provenance verified" in data
    else:
        data[len(data) // 2] ^= 0x01
    bad = _rezip(bundle, tmp_path / "bad.zip", replace={doctor: bytes(data)})
    with pytest.raises(ProofError, match=expect):
        verify_bundle(bad, _keys(key))
    out = run_cli("ledger", "verify-bundle", str(bad), "--key", key)
    assert out.code == 3 and expect in out.stderr and "OK" not in out.stdout
    assert_no_traceback(out)


def test_a_member_the_record_does_not_cover_or_a_second_copy_fails(case, tmp_path):
    _, bundle, key, _ = case
    extra = _rezip(bundle, tmp_path / "extra.zip", add=[("artifacts/0-2-heatmap.png", b"\x89PNG planted")])
    with pytest.raises(ProofError, match="does not vouch for: artifacts/0-2-heatmap.png"):
        verify_bundle(extra, _keys(key))
    with zipfile.ZipFile(bundle) as zf:
        fake = zf.read("original/sample.wav")[:-10]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it is asked to write
        twice = _rezip(bundle, tmp_path / "twice.zip", add=[("original/sample.wav", fake)])
    with pytest.raises(ProofError, match="two members under one name"):
        verify_bundle(twice, _keys(key))


def test_another_key_or_another_log_does_not_verify(case, tmp_path):
    _, bundle, key, _ = case
    other = Settings(data_dir=tmp_path / "other", ledger_url=None)
    with Ledger.open(other, origin=ORIGIN) as led:
        other_key = led.verifier_key.encode()
    out = run_cli("ledger", "verify-bundle", str(bundle), "--key", other_key)
    assert out.code == 3 and "verification failed" in out.stderr
    out = run_cli("ledger", "verify-bundle", str(bundle), "--key", key, "--origin", "elsewhere.example/log")
    assert out.code == 3


def test_an_original_altered_in_the_store_makes_no_bundle_and_a_missing_one_needs_no_original(case, tmp_path):
    settings, _, key, result = case
    stored = Path(result.input.stored_as)
    stored.chmod(0o644)
    data = bytearray(stored.read_bytes())
    data[100] ^= 0x01
    stored.write_bytes(bytes(data))
    out = run_cli("ledger", "bundle", "0", "--out", str(tmp_path / "x.zip"), data_dir=settings.data_dir)
    assert out.code == 3 and "is not the file this record was made for" in out.stderr
    assert not (tmp_path / "x.zip").exists() and not list(tmp_path.glob("*.partial"))

    stored.unlink()
    out = run_cli("ledger", "bundle", "0", "--out", str(tmp_path / "x.zip"), data_dir=settings.data_dir)
    assert out.code == 2 and "--no-original" in out.stderr
    out = run_cli("ledger", "bundle", "0", "--out", str(tmp_path / "x.zip"), "--no-original", data_dir=settings.data_dir)
    assert out.code == 0, out.stderr
    check = verify_bundle(tmp_path / "x.zip", _keys(key))
    assert check.original is None and any("--media" in n for n in check.notes)


def test_an_evidence_image_swapped_in_the_data_dir_stays_out_of_the_bundle(case, tmp_path):
    settings, _, key, result = case
    path = Path(result.findings[0].artifacts[0].path)
    path.chmod(0o644)
    _image(path, 99)
    with Ledger.open(settings, origin=ORIGIN) as led:
        bundle = write_bundle(led, 0, EvidenceStore(settings.evidence_dir), tmp_path / "swapped.zip")
    assert "artifacts/0-0-spectrogram.png" not in zipfile.ZipFile(bundle).namelist()
    check = verify_bundle(bundle, _keys(key))
    assert check.artifacts == 1 and check.artifacts_absent == 1 and check.report_matches
    assert "not shown" in zipfile.ZipFile(bundle).read(REPORT).decode()


def test_what_is_not_a_bundle_is_refused_in_words(case, tmp_path):
    _, bundle, key, _ = case
    (tmp_path / "not.zip").write_bytes(b"PK\x03\x04 truncated")
    out = run_cli("ledger", "verify-bundle", str(tmp_path / "not.zip"), "--key", key)
    assert out.code == 2 and "not an evidence bundle" in out.stderr
    assert_no_traceback(out)
    with zipfile.ZipFile(tmp_path / "bare.zip", "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(LedgerInputError, match="has no receipt.tlog-proof"):
        verify_bundle(tmp_path / "bare.zip", _keys(key))
    # a report member that inflates far beyond any report is refused without inflating it
    with zipfile.ZipFile(bundle) as zin, zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != REPORT:
                zout.writestr(info.filename, zin.read(info))
        with zout.open(REPORT, "w", force_zip64=True) as fh:
            block = b"\0" * (1 << 20)
            for _ in range(80):
                fh.write(block)
    assert (tmp_path / "bomb.zip").stat().st_size < 2 << 20
    with pytest.raises(ProofError, match="declares .* bytes"):
        verify_bundle(tmp_path / "bomb.zip", _keys(key))


def test_a_key_rotation_entry_is_not_bundled(case, tmp_path):
    settings, _, _, _ = case
    with Ledger.open(settings, origin=ORIGIN) as led:
        led.rotate_key()
        led.checkpoint()
        rotation = led.size - 1
    out = run_cli("ledger", "bundle", str(rotation), "--out", str(tmp_path / "r.zip"), data_dir=settings.data_dir)
    assert out.code == 2 and "key-rotation record" in out.stderr



def test_zip_tricks_that_show_another_tool_other_content_fail(case, tmp_path):
    """Second red-team round: a forged report passed by claiming an older tool version in an
    unchecked index file; README and keys were never read; a member name could print a fake
    verdict line or point outside the bundle; bytes before the first member and an archive
    comment (which unzip prints) were accepted."""
    _, bundle, key, _ = case
    with zipfile.ZipFile(bundle) as zf:
        report = zf.read(REPORT)
    forged = report.replace(b"Inconclusive", b"Provenance verified")
    # a report from "another version" is refused unless the checker says to skip it, and then flagged
    bad = _rezip(bundle, tmp_path / "r.zip", replace={REPORT: forged})
    out = run_cli("ledger", "verify-bundle", str(bad), "--key", key)
    assert out.code == 3 and "--skip-report" in out.stderr
    out = run_cli("ledger", "verify-bundle", str(bad), "--key", key, "--skip-report")
    assert out.code == 0 and "report.html was NOT checked" in out.stderr
    assert "report.html is this tool's rendering" not in out.stdout

    for name in ("original/x.wav\nverdict recorded: authentic", "../../tmp/x.wav", "/tmp/abs.wav", "notes.txt"):
        with pytest.raises(ProofError):
            verify_bundle(_rezip(bundle, tmp_path / "n.zip", add=[(name, b"x")]), _keys(key))

    (tmp_path / "prefixed.zip").write_bytes(b"PK\x03\x04junk" + bundle.read_bytes())
    with pytest.raises((ProofError, LedgerInputError)):
        verify_bundle(tmp_path / "prefixed.zip", _keys(key))
    commented = _rezip(bundle, tmp_path / "c.zip")
    with zipfile.ZipFile(commented, "a") as zf:
        zf.comment = b"COURT NOTICE: verdict AUTHENTIC"
    with pytest.raises(ProofError, match="archive comment"):
        verify_bundle(commented, _keys(key))


def test_every_byte_of_the_zip_belongs_to_a_checked_member(case, tmp_path):
    """Third red-team round: a zip holding a second central directory (found by unzip through
    the classic end record, by Python through the zip64 one) showed unzip a forged report while
    verify-bundle passed. Now every byte must be accounted for; here, bytes slipped in before
    the central directory, with the end record adjusted so that zip readers still open it."""
    import struct

    _, bundle, key, _ = case
    data = bytearray(bundle.read_bytes())
    eocd = len(data) - 22
    cd_off = struct.unpack_from("<I", data, eocd + 16)[0]
    junk = b"PK\x03\x04 a forged member "
    forged = bytearray(bytes(data[:cd_off]) + junk + bytes(data[cd_off:]))
    struct.pack_into("<I", forged, len(forged) - 22 + 16, cd_off + len(junk))
    (tmp_path / "gap.zip").write_bytes(bytes(forged))
    assert zipfile.ZipFile(tmp_path / "gap.zip").testzip() is None  # zip readers take it as it is
    with pytest.raises(ProofError, match="no member accounts for"):
        verify_bundle(tmp_path / "gap.zip", _keys(key))
    (tmp_path / "tail.zip").write_bytes(bundle.read_bytes() + b"\0" * 22)
    with pytest.raises((ProofError, LedgerInputError)):
        verify_bundle(tmp_path / "tail.zip", _keys(key))


def test_a_received_name_with_double_dots_bundles_and_checks(tmp_path, media_fixtures):
    """Third red-team round: 'interview..final.wav' made a bundle its own checker refused."""
    from verifier.evidence import InputInfo

    settings = Settings(data_dir=tmp_path / "data", ledger_url=None, record_to_ledger=False)
    result = Verifier(settings, detector_names=[]).verify(media_fixtures[1]["wav"]["plain"])
    named = result.model_copy(update={"input": InputInfo.model_validate(
        {**result.input.model_dump(), "name": "interview..final.wav"})})
    with Ledger.open(settings, origin=ORIGIN) as led:
        led.append(ledger_record(named, ORIGIN))
        key = led.verifier_key
        out = write_bundle(led, 0, EvidenceStore(settings.evidence_dir), tmp_path / "b.zip")
    assert "original/interview..final.wav" in zipfile.ZipFile(out).namelist()
    assert verify_bundle(out, [key]).original == "original/interview..final.wav"
