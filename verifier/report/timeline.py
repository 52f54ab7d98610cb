"""One timeline figure (inline SVG) with every detector's segments over the
media's duration. SVG rather than a plotting library: it is text, prints
sharply, needs no fonts or binaries, and keeps the report self-contained."""

from __future__ import annotations

from html import escape

from verifier.evidence import Finding

WIDTH, LABEL_W, ROW_H, TOP, AXIS_H = 760, 170, 26, 8, 28


def _colour(llr: float | None, score: float, supports_h0: bool = True, finding_llr: float | None = None) -> str:
    """Red for support of manipulation, green for support of capture, by
    strength; a finding fusion counts only when positive (an identity match, a steady
    identity) is grey at or below zero.

    A segment without an LLR of its own (lip sync's speech windows, which
    all feed one whole-clip statistic) takes its finding's: its score is on
    the detector's own scale, and reading it as a probability painted every
    window of a clip whose audio leans "substituted" green."""
    value = llr if llr is not None else finding_llr if finding_llr is not None else (score - 0.5) * 4
    if not supports_h0 and value <= 0:
        return "rgb(215,215,215)"
    strength = min(abs(value) / 3.0, 1.0)
    if value >= 0:
        r, g, b = 255, int(235 - 190 * strength), int(220 - 190 * strength)
    else:
        r, g, b = int(220 - 170 * strength), int(240 - 70 * strength), int(220 - 150 * strength)
    return f"rgb({r},{g},{b})"


def _ticks(end: float) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten), about six of them."""
    import math

    raw = end / 6
    base = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw)
    return [k * step for k in range(int(end / step + 1e-9) + 1)]


def timeline_svg(findings: list[Finding], duration_s: float | None) -> str | None:
    rows = [f for f in findings if f.applicable and f.segments]
    if not rows:
        return None
    end = duration_s or max(s.end_s for f in rows for s in f.segments) or 1.0
    plot_w = WIDTH - LABEL_W - 30
    height = TOP + ROW_H * len(rows) + AXIS_H

    def x(t: float) -> float:
        return LABEL_W + plot_w * max(0.0, min(t, end)) / end

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'aria-label="Detector scores over time">']
    for i, f in enumerate(rows):
        y = TOP + i * ROW_H
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + ROW_H * 0.65:.1f}" text-anchor="end" font-size="12">{escape(f.detector)}</text>')
        parts.append(f'<rect x="{LABEL_W}" y="{y + 3}" width="{plot_w}" height="{ROW_H - 6}" fill="#f3f3f3"/>')
        for s in f.segments:
            w = max(x(s.end_s) - x(s.start_s), 1.5)
            tip = f"{s.start_s:.1f}-{s.end_s:.1f} s: score {s.score:.2f}" + (f", LLR {s.llr:+.2f}" if s.llr is not None else "")
            parts.append(f'<rect x="{x(s.start_s):.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}" '
                         f'fill="{_colour(s.llr, s.score, f.supports_h0, f.llr)}" stroke="#666" stroke-width="0.3"><title>{escape(tip)}</title></rect>')
    axis_y = TOP + ROW_H * len(rows) + 4
    parts.append(f'<line x1="{LABEL_W}" y1="{axis_y}" x2="{LABEL_W + plot_w}" y2="{axis_y}" stroke="#333"/>')
    for t in _ticks(end):
        parts.append(f'<line x1="{x(t):.1f}" y1="{axis_y}" x2="{x(t):.1f}" y2="{axis_y + 4}" stroke="#333"/>')
        parts.append(f'<text x="{x(t):.1f}" y="{axis_y + 16}" text-anchor="middle" font-size="11">{t:g} s</text>')
    parts.append("</svg>")
    return "".join(parts)
