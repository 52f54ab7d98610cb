"""Human-readable terminal summary of a Verification (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from verifier.display import visible
from verifier.evidence import VerdictLabel, Verification

LABEL_STYLE = {
    VerdictLabel.authentic_provenance: "bold green",
    VerdictLabel.no_manipulation_detected: "green",
    VerdictLabel.inconclusive: "yellow",
    VerdictLabel.declared_synthetic: "bold magenta",
    VerdictLabel.likely_manipulated: "bold red",
    VerdictLabel.tampered: "bold red",
}


def _cell(text: str, style: str = "") -> Text:
    """File names, tags and manifest strings are the file maker's text: never markup, no controls."""
    return Text(visible(text), style=style)


def print_summary(console: Console, v: Verification) -> None:
    label = Text(v.verdict.label.value, style=LABEL_STYLE[v.verdict.label])
    # No line may wrap to the left margin, where a file's own text could pass for another
    # file's verdict line: the header is cut at the front (the name's end and the label stay),
    # the summary wraps indented.
    path = visible(v.input.path)
    room = console.width - len(label) - 2
    if len(path) > room > 16:
        path = "..." + path[len(path) - room + 3:]
    console.print(Text.assemble(Text(f"{path}: ", style="bold"), label), no_wrap=True, overflow="crop")
    console.print(Padding(_cell(v.verdict.summary), (0, 0, 0, 2)))
    t = Table(show_header=False, box=None, pad_edge=False, padding=(0, 2))
    media = _cell(f"{v.media.kind.value} ({v.media.mime_type}" + (f", {v.media.duration_s:.1f} s" if v.media.duration_s else "") + ")")
    if v.media.extension_mismatch:
        media.append("  extension does not match content", style="yellow")
    for kind, n in v.media.unexamined().items():
        media.append(f"  {n} more {kind} stream(s) not examined", style="yellow")
    t.add_row("media", media)
    t.add_row("sha256", v.input.hashes.sha256)
    p = v.provenance
    prov = f"{p.state.value}: {p.message}"
    if p.signer_issuer or p.signer_subject:
        prov += f"  [signer: {p.signer_subject or '?'} / {p.signer_issuer or '?'}]"
    t.add_row("provenance", _cell(prov))
    if p.claim_generator:
        t.add_row("generator", _cell(p.claim_generator))
    if p.digital_source_types:
        t.add_row("source type", _cell(", ".join(p.digital_source_types)))
    for f in v.findings:
        val = f"llr {f.llr:+.2f}" if f.applicable and f.llr is not None else f"not applicable: {f.reason}"
        t.add_row(f"detector {f.detector}", _cell(val))
    if len(v.verdict.by_manipulation) > 1:  # several kinds: show what each one weighs
        for k in v.verdict.by_manipulation:
            t.add_row(f"kind {k.kind}", _cell(f"log10 LR {k.llr:+.2f} ({', '.join(k.detectors)})"))
    if v.verdict.llr is not None:
        t.add_row("combined", _cell(f"log10 LR {v.verdict.llr:+.2f} ({v.verdict.verbal})"
                  + (" - kinds weighed as equally likely alternatives" if len(v.verdict.by_manipulation) > 1 else "")))
    t.add_row("profile", _cell(v.verdict.profile))
    if v.ledger is not None:
        t.add_row("ledger", _cell(f"entry {v.ledger.index} in {v.ledger.origin}"))
    console.print(t)
