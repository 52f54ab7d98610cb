"""Human-readable terminal summary of a Verification (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from verifier.evidence import VerdictLabel, Verification

LABEL_STYLE = {
    VerdictLabel.authentic_provenance: "bold green",
    VerdictLabel.no_manipulation_detected: "green",
    VerdictLabel.inconclusive: "yellow",
    VerdictLabel.declared_synthetic: "bold magenta",
    VerdictLabel.likely_manipulated: "bold red",
    VerdictLabel.tampered: "bold red",
}


def print_summary(console: Console, v: Verification) -> None:
    label = Text(v.verdict.label.value, style=LABEL_STYLE[v.verdict.label])
    console.print(Text.assemble(Text(f"{v.input.path}: ", style="bold"), label))
    console.print(f"  {v.verdict.summary}")
    t = Table(show_header=False, box=None, pad_edge=False, padding=(0, 2))
    t.add_row("media", f"{v.media.kind.value} ({v.media.mime_type}"
              + (f", {v.media.duration_s:.1f} s" if v.media.duration_s else "") + ")"
              + ("  [yellow]extension does not match content[/]" if v.media.extension_mismatch else "")
              + "".join(f"  [yellow]{n} more {kind} stream(s) not examined[/]" for kind, n in v.media.unexamined().items()))
    t.add_row("sha256", v.input.hashes.sha256)
    p = v.provenance
    prov = f"{p.state.value}: {p.message}"
    if p.signer_issuer or p.signer_subject:
        prov += f"  [signer: {p.signer_subject or '?'} / {p.signer_issuer or '?'}]"
    t.add_row("provenance", prov)
    if p.claim_generator:
        t.add_row("generator", p.claim_generator)
    if p.digital_source_types:
        t.add_row("source type", ", ".join(p.digital_source_types))
    for f in v.findings:
        val = f"llr {f.llr:+.2f}" if f.applicable and f.llr is not None else f"not applicable: {f.reason}"
        t.add_row(f"detector {f.detector}", val)
    if len(v.verdict.by_manipulation) > 1:  # several kinds: show what each one weighs
        for k in v.verdict.by_manipulation:
            t.add_row(f"kind {k.kind}", f"log10 LR {k.llr:+.2f} ({', '.join(k.detectors)})")
    if v.verdict.llr is not None:
        t.add_row("combined", f"log10 LR {v.verdict.llr:+.2f} ({v.verdict.verbal})"
                  + (" - kinds weighed as equally likely alternatives" if len(v.verdict.by_manipulation) > 1 else ""))
    t.add_row("profile", v.verdict.profile)
    if v.ledger is not None:
        t.add_row("ledger", f"entry {v.ledger.index} in {v.ledger.origin}")
    console.print(t)
