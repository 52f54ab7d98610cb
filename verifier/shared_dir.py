"""Where the project's shared development material lives (``../shared``:
conformance files, test vectors, real media), read in place and never
copied into the repository.

One definition, because the evaluations, benchmarks and tests each had their
own, some with ``/work/shared`` written in: a checkout elsewhere silently
found nothing, or found another machine's copy. ``VERIFIER_SHARED_DIR``
points it anywhere; otherwise it is the directory beside the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "VERIFIER_SHARED_DIR"


def shared_dir() -> Path:
    return Path(os.environ.get(ENV_VAR) or Path(__file__).resolve().parents[2] / "shared")
