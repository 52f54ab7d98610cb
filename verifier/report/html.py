"""Self-contained HTML report of one Verification.

Everything is inline (CSS, SVG, images as data: URIs) so the file can be
archived with the evidence, opened offline and printed. The report is a view
of the same ``Verification`` that ``--json`` prints: it adds wording, never
facts.
"""

from __future__ import annotations

import base64
import html
import shlex
from pathlib import Path

from verifier.artifacts import ArtifactSource, from_files
from verifier.display import visible
from verifier.evidence import NOT_RUN, Artifact, Finding, ProvenanceState, StreamInfo, VerdictLabel, Verification
from verifier.report.timeline import timeline_svg


def escape(text: str) -> str:
    """HTML-escaped, with controls and bidi overrides shown as escapes (``verifier.display``)."""
    return html.escape(visible(text))


HEADLINE = {
    VerdictLabel.authentic_provenance: ("Provenance verified", "ok"),
    VerdictLabel.no_manipulation_detected: ("No manipulation detected", "ok"),
    VerdictLabel.inconclusive: ("Inconclusive", "warn"),
    VerdictLabel.declared_synthetic: ("Declared AI-generated", "alert"),
    VerdictLabel.likely_manipulated: ("Likely manipulated", "alert"),
    VerdictLabel.tampered: ("Tampered after signing", "alert"),
}

STATE_TEXT = {
    ProvenanceState.trusted: "Signed by a signer on a trust list, and the content matches the signature.",
    ProvenanceState.valid_untrusted: "Validly signed and unchanged, but the signer is not on any trust list we use: anyone can make such a signature.",
    ProvenanceState.invalid: "Content Credentials are present but failed validation.",
    ProvenanceState.absent: "The file carries no Content Credentials (C2PA). Most media today has none; this alone is not suspicious.",
    ProvenanceState.unsupported_format: "Content Credentials cannot be read from this file format.",
    ProvenanceState.unreadable: "Content Credentials data is present but could not be read.",
}

LIMITATIONS = (
    "Detectors estimate how much the evidence supports manipulation; they cannot prove a file authentic. "
    "'No manipulation detected' means the checks that could run found nothing, not that nothing was done.",
    "Each detector was measured on the data named in its model card; media unlike that data (other languages, "
    "codecs, lighting, generators) may be scored less reliably.",
    "Unsigned metadata (encoder, software tags) can be written or removed by anyone and is shown as a hint only.",
    "The combined likelihood ratio assumes the detectors' errors are independent; it is capped to limit overstatement.",
)

CSS = """
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1b1b;max-width:900px;margin:24px auto;padding:0 18px}
h1{font-size:26px;margin:0 0 6px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:3px;margin-top:28px}
.verdict{border-radius:8px;padding:16px 20px;margin:12px 0 6px;border:2px solid}
.ok{background:#eaf7ee;border-color:#2e8b57}.warn{background:#fff7e0;border-color:#c99700}.alert{background:#fdecec;border-color:#c0392b}
.verdict .label{font-size:24px;font-weight:700}.sentence{font-size:17px;margin:6px 0}
.small{font-size:12.5px;color:#555}table{border-collapse:collapse;width:100%;margin:6px 0}
td,th{border:1px solid #ddd;padding:4px 7px;text-align:left;vertical-align:top;font-size:13.5px;overflow-wrap:anywhere}th{background:#f5f5f5;width:11em}
code,pre{font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;word-break:break-all;white-space:pre-wrap}
pre{background:#f7f7f7;border:1px solid #e2e2e2;padding:8px}
.finding{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:8px 0}
.finding img{max-width:100%;border:1px solid #ccc;margin-top:6px}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;background:#eee}
@media print{body{margin:0;max-width:none;font-size:11pt}.finding,table,svg{page-break-inside:avoid}a{color:inherit}}
"""


def _row(k: str, v: object) -> str:
    """A table row, or nothing for an absent value. Zero is a value (ledger entry 0,
    an empty file's size): ``v in (None, "", [], False)`` had hidden it, as 0 == False."""
    if v is None or v is False or (isinstance(v, (str, list, tuple, dict)) and not v):
        return ""
    return f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>"


def _image_data_uri(art: Artifact, source: ArtifactSource) -> str | None:
    data = source(art)
    if data is None:
        return None
    mime = art.media_type if art.media_type in ("image/png", "image/jpeg", "image/svg+xml") else "image/png"
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _stream_text(s: StreamInfo, still: bool) -> str:
    """FFmpeg reads a photo as a one-frame 25 fps "video" stream: say image."""
    kind = "image" if still and s.kind == "video" else s.kind
    return (f"{kind} {s.codec or '?'}" + (f" {s.width}x{s.height}" if s.width else "")
            + (f" {s.frame_rate:.2f} fps" if s.frame_rate and not still else "")
            + (f" {s.sample_rate} Hz" if s.sample_rate else ""))


def _finding_html(f: Finding, source: ArtifactSource = from_files) -> str:
    head = f"<b>{escape(f.detector)}</b> <span class='pill'>v{escape(f.version)}</span> <span class='pill'>{escape(f.modality)}</span>"
    if not f.applicable:
        return f"<div class='finding'>{head}<div>Not applicable: {escape(f.reason or 'no reason given')}</div></div>"
    body = [head]
    if f.llr is not None:
        from verifier.fusion import verbal_scale

        body.append(f"<div>log10 likelihood ratio <b>{f.llr:+.2f}</b>: {escape(verbal_scale(f.llr))}"
                    + (f" (raw score {f.raw_score:.3f})" if f.raw_score is not None else "") + "</div>")
        if not f.supports_h0 and f.llr <= 0:
            body.append("<div class='small'><b>Not counted in the verdict:</b> what this check reads as normal is "
                        "also what the manipulation it looks for produces (a voice clone or face swap is built to "
                        "match the enrolled person; a swapped face keeps one steady identity), so it is no evidence "
                        "that the file is genuine. A positive result would have counted.</div>")
    if f.reason:
        body.append(f"<div class='small'>{escape(f.reason)}</div>")
    top = sorted(f.segments, key=lambda s: -(s.llr if s.llr is not None else s.score))[:5]
    if top:
        body.append("<div class='small'>Strongest segments: " + "; ".join(
            f"{s.start_s:.1f}-{s.end_s:.1f} s ({s.label or 'score'} {s.score:.2f})" for s in top) + "</div>")
    for a in f.artifacts:
        uri = _image_data_uri(a, source)
        if uri is None:
            body.append(f"<div class='small'>Evidence image ({escape(a.kind)}) not shown: its file is missing or no "
                        "longer has the SHA-256 the record gives it" + (f" (<code>{escape(a.sha256)}</code>)" if a.sha256
                                                                         else " (none: made before images were sealed)")
                        + ".</div>")
        else:
            body.append(f"<figure><img src='{uri}' alt='{escape(a.kind)}'><figcaption class='small'>{escape(a.description or a.kind)}</figcaption></figure>")
    return "<div class='finding'>" + "".join(body) + "</div>"


def _kinds_text(vd) -> str:
    """With several kinds of manipulation examined, H1 stands for any one of them: say which, and
    what the evidence on each was, since the combined figure is their mean, not their sum."""
    if len(vd.by_manipulation) < 2:
        return ""
    parts = "; ".join(f"{escape(k.description)} (log10 LR {k.llr:+.2f}: {escape(', '.join(k.detectors))})"
                      for k in vd.by_manipulation)
    return (f"<div class='small'>H1 here is one of {len(vd.by_manipulation)} kinds of manipulation, weighed as "
            f"equally likely: {parts}. The combined likelihood ratio is the mean of theirs: evidence against one kind "
            "is not evidence against another.</div>")


def render_html(v: Verification, artifacts: ArtifactSource = from_files) -> str:
    """``artifacts`` gives each evidence image's bytes (by default from the file the record names;
    an evidence bundle gives its own copies); only bytes matching the sealed SHA-256 are shown."""
    title, tone = HEADLINE[v.verdict.label]
    p, m, vd = v.provenance, v.media, v.verdict
    strength = f"{vd.verbal} (combined log10 LR {vd.llr:+.2f})" if vd.llr is not None else (
        "decided by the file's Content Credentials" if vd.decided_by == "provenance" else "no detector evidence could be weighed")
    out: list[str] = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{escape(title)}: {escape(v.input.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>Verification report: {escape(v.input.name)}</h1>",
        f"<div class='verdict {tone}'><div class='label'>{escape(title)}</div>",
        f"<div class='sentence'>{escape(vd.summary)}</div>",
        f"<div class='small'>Strength of support: {escape(strength)}. Profile: {escape(vd.profile)}.</div></div>",
        f"<div class='small'>Propositions weighed: H1 - {escape(vd.propositions.h1)} H0 - {escape(vd.propositions.h0)}</div>",
        _kinds_text(vd),
        "<h2>The file</h2><table>",
        _row("Name as received", v.input.path), _row("SHA-256", v.input.hashes.sha256), _row("SHA-512", v.input.hashes.sha512),
        _row("Size (bytes)", v.input.hashes.size), _row("Type (from its bytes)", f"{m.kind.value}, {m.mime_type}"),
        _row("Duration", f"{m.duration_s:.2f} s" if m.duration_s else None),
        _row("Streams", "; ".join(_stream_text(s, still=m.kind.value == "image") for s in m.streams)),
        _row("Warning", "The file extension does not match its content." if m.extension_mismatch else None),
        *(_row("Not examined", f"{n} more {kind} stream(s): detectors examined only the {kind} stream a player shows by "
                               "default (FFmpeg's choice); a viewer who picks another track sees content no detector judged.")
          for kind, n in m.unexamined().items()),
        _row("Container problem", m.probe_error),
        _row("Received", f"{v.input.received_at.isoformat()} by {v.input.operator}"),
        "</table>",
        "<h2>Provenance (Content Credentials)</h2>",
        f"<p><b>{escape(p.state.value)}</b>: {escape(STATE_TEXT[p.state])}</p><table>",
        _row("Details", p.message), _row("Signer", p.signer_subject), _row("Signer organisation", p.signer_issuer),
        _row("Signed at", (p.signing_time or "") + (" (trusted timestamp)" if p.timestamped else " (no trusted timestamp)") if p.signing_time else None),
        _row("Made with", p.claim_generator), _row("Declared source type", ", ".join(p.digital_source_types)),
        _row("Failure codes", ", ".join(p.failure_codes)), _row("Remote manifest", p.remote_url),
        _row("Unsigned metadata hint", p.hints.ai_generator_hint), _row("Encoder tag", p.hints.encoder),
        _row("Software tags", ", ".join(p.hints.software)), "</table>",
    ]
    if p.actions:
        out.append("<table><tr><th>Action</th><th>When</th><th>Tool</th><th>Source type</th></tr>")
        out += [f"<tr><td>{escape(a.action)}</td><td>{escape(a.when or '')}</td><td>{escape(a.software_agent or '')}</td>"
                f"<td>{escape(a.digital_source_type or '')}</td></tr>" for a in p.actions]
        out.append("</table>")
    if p.ingredients:
        out.append("<table><tr><th>Ingredient</th><th>Relationship</th><th>State</th><th>Failures</th></tr>")
        out += [f"<tr><td>{escape(i.title or '')}</td><td>{escape(i.relationship or '')}</td>"
                f"<td>{escape(i.state.value if i.state else 'no manifest')}</td><td>{escape(', '.join(i.failure_codes))}</td></tr>"
                for i in p.ingredients]
        out.append("</table>")

    out.append("<h2>Detector evidence</h2>")
    svg = timeline_svg(v.findings, m.duration_s) if m.kind.value != "image" else None  # a still has no time axis
    if svg:
        out.append(f"<figure>{svg}<figcaption class='small'>Each row is one detector; red spans support manipulation, "
                   "green spans support capture as-is, stronger colour is stronger support (a span with no likelihood "
                   "ratio of its own shows its detector's); grey spans are identity matches, which the verdict does "
                   "not count.</figcaption></figure>")
    ran = [f for f in v.findings if f.was_run]
    not_run = [f for f in v.findings if not f.was_run]
    if v.findings:
        out += [_finding_html(f, artifacts) for f in ran]
        if not_run:
            out.append("<div class='finding small'><b>Not run</b> (asked for, but the file does not hold what they "
                       "need): " + "; ".join(escape(f"{f.detector}: {f.reason.removeprefix(NOT_RUN)}") for f in not_run)
                       + "</div>")
    elif vd.decided_by == "provenance":
        out.append("<p>Detectors were not needed: the Content Credentials settle this file.</p>")
    else:
        out.append("<p>No detector was available for this file.</p>")

    out.append("<h2>Models and their measured error rates</h2>")
    if ran:
        out.append("<table><tr><th>Detector</th><th>Version</th><th>Weights SHA-256</th><th>Validation</th></tr>")
        out += [f"<tr><td>{escape(f.detector)}</td><td>{escape(f.version)}</td><td><code>{escape(f.weights_sha256 or '-')}</code></td>"
                f"<td>{escape(f.validation or 'not stated')}</td></tr>" for f in ran]
        out.append("</table>")
    else:
        out.append("<p class='small'>No model contributed to this verdict.</p>")

    out.append("<h2>Limitations</h2><ul>")
    out += [f"<li>{escape(f'{f.detector} could not examine this file: {f.reason}')}</li>" for f in ran if not f.applicable]
    if not_run:
        out.append(f"<li>{escape('Not run, for want of the streams they need: ' + ', '.join(f.detector for f in not_run))}</li>")
    if vd.decided_by == "detectors":
        from verifier.fusion import MANIPULATION_KINDS

        unseen = [f"{k} ({d})" for k, d in MANIPULATION_KINDS.items() if k not in vd.propositions.h1_kinds]
        if unseen:
            out.append(f"<li>{escape('No detector examined these kinds of manipulation, so the verdict says nothing about them: ' + '; '.join(unseen) + '.')}</li>")
    out += [f"<li>{escape(t)}</li>" for t in LIMITATIONS]
    out.append("</ul>")

    out.append("<h2>Chain of custody</h2><table><tr><th>When (UTC)</th><th>Who</th><th>What</th><th>Detail</th></tr>")
    out += [f"<tr><td>{escape(e.at.isoformat())}</td><td>{escape(e.operator)}</td><td>{escape(e.action)}</td><td>{escape(e.detail)}</td></tr>"
            for e in v.custody]
    out.append("</table>")

    t = v.tool
    cmd = ["verifier", "verify", "--json", "--profile", vd.profile]
    if t.settings.get("user_trust_anchors"):
        cmd += ["--trust-anchors", str(t.settings["user_trust_anchors"])]
    if t.settings.get("detectors") not in (None, "default"):
        cmd += ["--detectors", str(t.settings["detectors"])]
    for key in ("claimed_person", "claimed_speaker"):
        if t.settings.get(key):
            cmd += [f"--{key.replace('_', '-')}", str(t.settings[key])]
    cmd.append(v.input.name)
    out += ["<h2>How to reproduce</h2>",
            "<p>Check the file's SHA-256 first (it must equal the one above), then run the same version of the tool:</p>",
            f"<pre>sha256sum {escape(shlex.quote(v.input.name))}\n{escape(shlex.join(cmd))}</pre><table>",
            _row("Tool", f"{t.name} {t.version}"), _row("C2PA SDK", t.c2pa_sdk), _row("Python", t.python),
            _row("Installed packages (SHA-256 of the list)", t.dependency_set_sha256),
            _row("Trust bundle SHA-256", t.trust_bundle_sha256),
            _row("Detector options", t.settings.get("detector_options")), _row("Record id", v.record_id), "</table>"]
    if v.ledger is not None:
        out += ["<h2>Ledger record</h2><table>", _row("Entry", v.ledger.index), _row("Log", v.ledger.origin),
                _row("Leaf hash", v.ledger.leaf_hash), "</table>",
                "<p class='small'>Anyone can check this receipt offline with the ledger's public key, and with "
                "<code>--media FILE</code> that a file is byte for byte the one received: save the receipt below as "
                "<code>receipt.txt</code>, then run</p>",
                f"<pre>verifier ledger verify-receipt receipt.txt --key KEY --media {escape(shlex.quote(v.input.name))}</pre>",
                f"<pre>{html.escape(v.ledger.receipt)}</pre>", _later_check(v.ledger.receipt),
                "<p class='small'>To hand this verification over as one file (the received file, this record and "
                "its receipt, the evidence images and this report, each checkable against the signed record), the "
                f"operator runs <code>verifier ledger bundle {v.ledger.index} --out case.zip</code>; the recipient "
                "checks it with <code>verifier ledger verify-bundle case.zip --key KEY</code>.</p>"]
    out.append("</body></html>")
    return "\n".join(x for x in out if x)


def _later_check(receipt: str) -> str:
    """How the holder of this receipt checks, later, that the log was not rewritten since."""
    from verifier.ledger import LedgerError, Receipt

    try:
        size = Receipt.parse(receipt).checkpoint.checkpoint.size
    except LedgerError:
        return ""
    return ("<p class='small'>Later, to check that the log still holds this entry unchanged (nothing rewritten, "
            f"removed or forked since), ask the ledger's operator for a consistency proof from size {size} "
            f"(<code>verifier ledger consistency {size}</code>, or <code>GET /v1/ledger/consistency?old={size}</code> "
            "from the service), save it as <code>proof.txt</code>, then run</p>"
            "<pre>verifier ledger verify-consistency receipt.txt proof.txt --key KEY</pre>")


def write_report(v: Verification, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(render_html(v), encoding="utf-8")
        tmp.replace(path)
    except BaseException:  # no half-written page left where a finished one is expected
        tmp.unlink(missing_ok=True)
        raise
    return path
