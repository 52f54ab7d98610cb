"""Audio-visual provenance and authenticity verifier."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("av-verifier")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
