"""The HTML report: self-contained, says the verdict first, carries the evidence,
and renders to a non-blank page in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_cli
from verifier.artifacts import seal
from verifier.config import Settings
from verifier.evidence import Artifact, Finding, Segment
from verifier.pipeline import Verifier
from verifier.report import render_html, write_report

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


@pytest.fixture(scope="module")
def verifier(tmp_path_factory, test_root):
    return Verifier(Settings(data_dir=tmp_path_factory.mktemp("rep"), trust_anchors=(test_root,)), detector_names=[])


def _with_detector_evidence(result, tmp_path):
    png = tmp_path / "spec.png"
    Image.fromarray((np.random.default_rng(0).random((40, 120)) * 255).astype("uint8")).save(png)
    finding = Finding(detector="voice_clone", version="0.1", modality="audio", weights_sha256="ab" * 32, applicable=True,
                      raw_score=0.93, llr=2.4, validation="EER 3.1% on held-out families (model card)",
                      segments=[Segment(start_s=0.0, end_s=0.5, score=0.2, llr=-0.8), Segment(start_s=0.5, end_s=1.0, score=0.95, llr=2.4)],
                      artifacts=[Artifact(kind="spectrogram", media_type="image/png", path=str(png), description="flagged spans")])
    finding = seal(finding)  # as the pipeline does before the record is signed
    skipped = Finding(detector="face_swap", version="0.1", modality="video", applicable=False, reason="no face found")
    return result.model_copy(update={"findings": [finding, skipped]})


@pytest.mark.parametrize("fmt,variant,headline", [("jpg", "content_changed", "Tampered after signing"),
                                                  ("wav", "signed", "Provenance verified"),
                                                  ("mp4", "ai", "Declared AI-generated"),
                                                  ("m4a", "plain", "Inconclusive")])
def test_report_says_the_verdict_first_and_is_self_contained(verifier, media_fixtures, fmt, variant, headline):
    result = verifier.verify(media_fixtures[1][fmt][variant])
    html = render_html(result)
    assert html.index(headline) < html.index("The file")
    assert result.verdict.summary.split(" (")[0][:40] in html.replace("&#x27;", "'")
    assert result.input.hashes.sha256 in html and result.provenance.state.value in html
    assert not re.search(r"""(src|href)=['"]?https?:""", html), "report must not load anything from the network"
    assert "<script" not in html
    assert "How to reproduce" in html and result.tool.dependency_set_sha256 in html


def test_detector_evidence_is_shown_with_timeline_and_inline_images(verifier, media_fixtures, tmp_path):
    result = _with_detector_evidence(verifier.verify(media_fixtures[1]["wav"]["plain"]), tmp_path)
    html = render_html(result)
    assert "<svg" in html and "data:image/png;base64," in html
    assert "+2.40" in html and "moderately strong support" in html
    assert "face_swap could not examine this file: no face found" in html
    assert "EER 3.1% on held-out families" in html and "ab" * 32 in html


def test_detectors_not_run_are_one_line_and_the_reproduce_command_names_the_detectors(media_fixtures, tmp_path, test_root):
    v = Verifier(Settings(data_dir=tmp_path / "d", trust_anchors=(test_root,)), detector_names=["face_swap", "av_sync"])
    result = v.verify(media_fixtures[1]["wav"]["plain"])  # audio only: neither can run
    assert result.tool.settings["detectors"] == "face_swap,av_sync"
    html = render_html(result)
    assert html.count("<div class='finding") == 1 and "<b>Not run</b>" in html
    assert "face_swap: it needs an image or a video stream" in html
    assert "<th>Weights SHA-256</th>" not in html  # no model was used
    assert "--detectors face_swap,av_sync" in html


def test_a_still_image_has_no_time_axis(verifier, media_fixtures, tmp_path):
    result = verifier.verify(media_fixtures[1]["png"]["plain"])
    finding = Finding(detector="face_swap", version="0.1", modality="video", applicable=True, llr=-0.5,
                      segments=[Segment(start_s=0.0, end_s=0.001, score=-1.0, llr=-0.5)])
    html = render_html(result.model_copy(update={"findings": [finding]}))
    assert "<svg" not in html
    streams = re.search(r"<th>Streams</th><td>([^<]*)</td>", html).group(1)
    assert streams.startswith("image ") and "fps" not in streams


def test_cli_writes_the_report(media_fixtures, data_dir, tmp_path, test_root):
    out = tmp_path / "r.html"
    r = run_cli("verify", "--no-ledger", "--trust-anchors", str(test_root), "--report", str(out),
                str(media_fixtures[1]["mov"]["signed"]), data_dir=data_dir)
    assert r.code == 0, r.stderr
    assert "Provenance verified" in out.read_text()


def test_a_report_folder_holds_one_report_per_input_even_when_names_collide(media_fixtures, tmp_path):
    # Reports were named by stem: a.png and a.jpg, or sub1/x.png and sub2/x.png, overwrote each other.
    src = tmp_path / "in"
    for rel, kind in (("a.png", "png"), ("a.jpg", "jpg"), ("sub1/x.png", "png"), ("sub2/x.png", "png")):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(media_fixtures[1][kind]["plain"].read_bytes())
    out = tmp_path / "reports"
    out.mkdir()
    r = run_cli("verify", "--no-ledger", "--report", str(out), str(src), data_dir=tmp_path / "d")
    assert r.code == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg.report.html", "a.png.report.html", "x.png.2.report.html",
                                                     "x.png.report.html"]
    assert "Verification report: a.jpg<" in (out / "a.jpg.report.html").read_text()
    assert "Verification report: a.png<" in (out / "a.png.report.html").read_text()


def test_the_reports_ledger_section_tells_how_to_check_the_file_and_that_works(media_fixtures, tmp_path):
    """A reader of the report alone can check, offline, that a file is the one received."""
    import html
    import re

    data, out = tmp_path / "data", tmp_path / "r.html"
    exhibit = media_fixtures[1]["wav"]["plain"]
    assert run_cli("verify", "--report", str(out), str(exhibit), data_dir=data).code == 0
    page = out.read_text()
    assert "<tr><th>Entry</th><td>0</td></tr>" in page  # the first entry's index is a value, not an absence
    blocks = [html.unescape(x) for x in re.findall(r"<pre>(.*?)</pre>", page, re.S)]
    command = next(b for b in blocks if b.startswith("verifier ledger verify-receipt receipt.txt --key KEY --media "))
    receipt = next(b for b in blocks if b.startswith("c2sp.org/tlog-proof@v1\n"))
    (tmp_path / "receipt.txt").write_text(receipt)
    key = run_cli("keys", "export", data_dir=data).stdout.strip()
    args = command.split()[1:]
    args[args.index("KEY")] = key
    args[-1] = str(exhibit)  # the report names the file as received; the reader points at their copy
    r = run_cli(*args, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert f"byte for byte the file received as '{exhibit.name}'" in r.stdout

    # ... and, once the log has grown, that it still extends the receipt's checkpoint
    assert run_cli("verify", str(media_fixtures[1]["png"]["plain"]), data_dir=data).code == 0
    later = next(b for b in blocks if b.startswith("verifier ledger verify-consistency"))
    asked = re.search(r"<code>(verifier ledger consistency \d+)</code>", page).group(1).split()[1:]
    made = run_cli(*asked, "--out", str(tmp_path / "proof.txt"), data_dir=data)
    assert made.code == 0, made.stderr
    args = later.split()[1:]
    args[args.index("KEY")] = key
    r = run_cli(*args, cwd=tmp_path)
    assert r.code == 0 and "at size 2" in r.stdout and "saved at size 1" in r.stdout, r.stderr


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.parametrize("fmt,variant", [("jpg", "content_changed"), ("wav", "plain"), ("mp4", "ai")])
def test_report_renders_in_headless_chromium(verifier, media_fixtures, tmp_path, fmt, variant):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (.ci/run installs Debian's chromium)")
    result = _with_detector_evidence(verifier.verify(media_fixtures[1][fmt][variant]), tmp_path)
    page = write_report(result, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1400",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=60, check=True)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.shape == (1400, 1000)
    ink = (pixels < 200).mean()
    assert ink > 0.02, f"page looks blank ({ink:.3%} dark pixels)"
    # the verdict box is coloured: some clearly non-grey pixels near the top
    rgb = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)[:300]
    assert (np.abs(rgb[..., 0] - rgb[..., 1]) > 20).mean() > 0.01


def test_windows_without_their_own_llr_take_their_findings_side():
    """Lip-sync windows carry a correlation, not an LLR: on a clip whose audio
    leans "substituted" they are red, on one in sync green."""
    from verifier.evidence import Finding, Segment
    from verifier.report.timeline import timeline_svg

    seg = Segment(start_s=0.5, end_s=4.5, score=0.2)
    leans_substituted = Finding(detector="av_sync", version="1", modality="audiovisual", applicable=True, llr=0.78,
                                segments=[seg])
    in_sync = leans_substituted.model_copy(update={"llr": -1.7})

    def fill(f: Finding) -> tuple[int, int, int]:
        import re

        r, g, b = re.findall(r'fill="rgb\((\d+),(\d+),(\d+)\)" stroke', timeline_svg([f], 5.0))[0]
        return int(r), int(g), int(b)

    r, g, b = fill(leans_substituted)
    assert r > g and r > b
    r, g, b = fill(in_sync)
    assert g > r


def test_identity_match_is_shown_as_not_counted():
    """A claim match is grey on the timeline and says it was not counted."""
    from verifier.evidence import Finding, Segment
    from verifier.report.html import _finding_html
    from verifier.report.timeline import timeline_svg

    seg = Segment(start_s=0.0, end_s=4.0, score=0.9, llr=-2.5)
    claim = Finding(detector="speaker_claim", version="1", modality="audio", applicable=True, llr=-2.5,
                    segments=[seg], supports_h0=False)
    other = claim.model_copy(update={"detector": "voice_clone", "supports_h0": True})
    assert "rgb(215,215,215)" in timeline_svg([claim], 4.0)
    assert "rgb(215,215,215)" not in timeline_svg([other], 4.0)
    assert "Not counted in the verdict" in _finding_html(claim)
    assert "Not counted in the verdict" not in _finding_html(other)


def test_several_kinds_of_manipulation_are_each_shown_with_their_evidence(verifier, media_fixtures):
    """The combined figure is a mean over kinds, not a sum: the report and the terminal say
    which kinds H1 stood for and what each one weighed."""
    from rich.console import Console

    from verifier.fusion import PROFILES, fuse
    from verifier.output import print_summary

    result = verifier.verify(media_fixtures[1]["wav"]["plain"])
    findings = [Finding(detector="face_swap", version="1", modality="video", applicable=True, llr=1.5, manipulation="face"),
                Finding(detector="voice_clone", version="1", modality="audio", applicable=True, llr=-1.5,
                        manipulation="voice")]
    verdict = fuse(result.provenance, result.media, findings, PROFILES["finance"])
    shown = result.model_copy(update={"findings": findings, "verdict": verdict})
    html = render_html(shown)
    assert "H1 here is one of 2 kinds of manipulation" in html
    assert "the face was replaced or re-animated (log10 LR +1.50: face_swap)" in html
    console = Console(record=True, width=200)
    print_summary(console, shown)
    text = console.export_text()
    assert "kind face" in text and "kind voice" in text and "equally likely alternatives" in text
    assert "No detector examined these kinds of manipulation" in html and "soundtrack (the soundtrack is not" in html
    single = result.model_copy(update={"findings": findings[:1],
                                       "verdict": fuse(result.provenance, result.media, findings[:1], PROFILES["finance"])})
    page = render_html(single)
    assert "H1 here is one of" not in page
    assert "verdict says nothing about them: voice (the voice was synthesized" in page


def test_an_evidence_image_swapped_after_the_verdict_is_not_shown(verifier, media_fixtures, tmp_path):
    """The record holds each image's SHA-256: whoever can write the data directory must not be
    able to change the picture a reader is shown."""
    result = _with_detector_evidence(verifier.verify(media_fixtures[1]["wav"]["plain"]), tmp_path)
    art = result.findings[0].artifacts[0]
    assert art.sha256 and len(art.sha256) == 64
    png = tmp_path / "spec.png"
    png.chmod(0o644)
    Image.fromarray(np.zeros((40, 120), dtype="uint8")).save(png)
    html = render_html(result)
    assert "data:image/png;base64," not in html
    assert "not shown" in html and art.sha256 in html
