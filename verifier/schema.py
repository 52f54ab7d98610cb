"""The published JSON Schema of ``verify --json`` output.

``python -m verifier.schema`` rewrites ``verifier/schemas/verification.schema.json``;
a test fails when the committed file and the models disagree, so the schema
cannot drift from what the tool prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from verifier.evidence import SCHEMA_VERSION, Verification

SCHEMA_PATH = Path(__file__).parent / "schemas" / "verification.schema.json"


def verification_schema() -> dict:
    schema = Verification.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_VERSION
    return schema


def render() -> str:
    return json.dumps(verification_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.parent.mkdir(exist_ok=True)
    SCHEMA_PATH.write_text(render())
    print(SCHEMA_PATH, file=sys.stderr)
