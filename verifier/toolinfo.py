"""What software reached a verdict: versions and a hash of the installed set.

The dependency-set hash lets an auditor tell whether two verdicts were
produced by the same installed software without comparing lists by hand.
"""

from __future__ import annotations

import hashlib
import platform
from functools import lru_cache
from importlib import metadata

import c2pa

from verifier import __version__


@lru_cache(maxsize=1)
def installed_distributions() -> tuple[str, ...]:
    names = set()
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            names.add(f"{name.lower().replace('_', '-')}=={dist.version}")
    return tuple(sorted(names))


@lru_cache(maxsize=1)
def dependency_set_sha256() -> str:
    return hashlib.sha256("\n".join(installed_distributions()).encode()).hexdigest()


def c2pa_sdk_version() -> str:
    try:
        return f"c2pa-python {metadata.version('c2pa-python')}; {c2pa.sdk_version()}"
    except Exception:  # version probes must never break a verification
        return "c2pa-python unknown"


def python_version() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def tool_version() -> str:
    return __version__
