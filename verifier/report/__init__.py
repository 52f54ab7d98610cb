"""Reports a non-expert reads in ten seconds and an expert can audit."""

from verifier.report.html import render_html, write_report

__all__ = ["render_html", "write_report"]
