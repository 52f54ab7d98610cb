"""Read and validate C2PA manifests with c2pa-python, offline, into a ProvenanceResult.

The decision uses c2pa's validation state and its status codes together: an
untrusted signer reads as state "Valid" with ``signingCredential.untrusted``,
so "Valid" alone never means trusted. Every exception c2pa raises maps to a
state with its message; nothing escapes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import c2pa

from provenance.metadata import SYNTHETIC_SOURCE_TYPES
from provenance.signer_cert import SignerCertificateError, active_signer_purpose
from provenance.trust import TrustMaterial
from verifier.evidence import (
    Ingredient,
    ProvenanceAction,
    ProvenanceResult,
    ProvenanceState,
    StatusCode,
)

# Synthetic source types are matched without case in any segment of the value (``_short_dst``).
_SYNTHETIC_LOWER = {t.lower(): t for t in SYNTHETIC_SOURCE_TYPES}
# A signed human-readable statement of generation counts as a declaration too (Bing Image
# Creator signs "AI Generated Image" without a source type): only in an action that states no
# source type (a stated one is the structured answer), and not in a sentence that negates it.
_AI_DESCRIPTION = re.compile(
    r"\b(?:(?:AI|artificial intelligence)[- ]generated"
    r"|generated\s+(?:by|with|using)\s+(?:an?\s+)?(?:AI|artificial intelligence|generative)\b"
    r"|generative\s+(?:AI|fill|expand))\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|no|never|without|zero|none|non|free of|isn't|wasn't|weren't)\b|n't\b", re.IGNORECASE)


def declares_ai(description: str) -> bool:
    sentences = re.split(r"[.;!?\n]", description)
    return any(_AI_DESCRIPTION.search(x) and not _NEGATION.search(x) for x in sentences)


# Signed assertions may carry a source type outside the actions too (IPTC metadata in
# ``c2pa.metadata`` / ``stds.iptc*``, action templates, ingredient records): any key whose
# name, letters only, ends in "digitalsourcetype" is read, at any depth up to this one.
_MAX_ASSERTION_DEPTH = 64

_REMOTE_URL = re.compile(r"https?://\S+")

# Codes this verifier adds (never c2pa's): a signer c2pa trusts whose certificate is
# not one for signing content, or whose certificate could not be read to check that.
NOT_CONTENT_SIGNER = "verifier.signingCredential.notContentSigner"
SIGNER_UNCHECKED = "verifier.signingCredential.unchecked"

# Codes reported as failures that do not break integrity or the signature
# of the active manifest: they only say the signer is not trusted here.
TRUST_ONLY_CODES = frozenset({"signingCredential.untrusted", NOT_CONTENT_SIGNER, SIGNER_UNCHECKED})


class C2paSession:
    """One c2pa Context per configuration, reused across files (building it
    parses every trust anchor)."""

    def __init__(self, trust: TrustMaterial, *, remote_manifest_fetch: bool = False, ocsp_fetch: bool = False):
        self.trust = trust
        self.context = c2pa.Context.from_dict(
            trust.c2pa_settings(remote_manifest_fetch=remote_manifest_fetch, ocsp_fetch=ocsp_fetch)
        )

    def read(self, path: Path, mime_type: str) -> ProvenanceResult:
        try:
            with open(path, "rb") as stream:
                reader = c2pa.Reader(mime_type, stream, context=self.context)
                try:
                    return _result_from_reader(reader)
                finally:
                    reader.close()
        except c2pa.C2paError.ManifestNotFound:
            return ProvenanceResult(state=ProvenanceState.absent, message="no C2PA manifest in the file")
        except c2pa.C2paError.NotSupported as exc:
            return ProvenanceResult(
                state=ProvenanceState.unsupported_format,
                message=f"C2PA cannot read this format ({mime_type}): {_clean(exc)}",
            )
        except c2pa.C2paError as exc:
            return _error_result(exc)
        except (OSError, ValueError, json.JSONDecodeError) as exc:
            return ProvenanceResult(state=ProvenanceState.unreadable, message=f"manifest could not be read: {exc}")


def _clean(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]


def _error_result(exc: BaseException) -> ProvenanceResult:
    msg = _clean(exc)
    if msg.startswith("Remote:") or "remote manifest" in msg.lower():
        url = _REMOTE_URL.search(msg)
        return ProvenanceResult(
            state=ProvenanceState.unreadable,
            message=(
                "the manifest is stored remotely and remote fetching is off "
                "(enable it with --remote-manifests to check it): " + msg
            ),
            remote_url=url.group(0) if url else None,
        )
    return ProvenanceResult(state=ProvenanceState.unreadable, message=f"C2PA data could not be parsed: {msg}")


def _codes(block: dict[str, Any] | None, scope: str) -> list[StatusCode]:
    out: list[StatusCode] = []
    for kind in ("success", "informational", "failure"):
        for item in (block or {}).get(kind, []) or []:
            out.append(
                StatusCode(
                    code=str(item.get("code", "")),
                    explanation=str(item.get("explanation", "")),
                    url=str(item.get("url", "")),
                    kind=kind,  # type: ignore[arg-type]
                    scope=scope,  # type: ignore[arg-type]
                )
            )
    return out


def _status_codes(validation: dict[str, Any]) -> list[StatusCode]:
    codes = _codes(validation.get("activeManifest"), "active")
    for delta in validation.get("ingredientDeltas", []) or []:
        codes.extend(_codes(delta.get("validationDeltas"), "ingredient"))
    return codes


def failure_code_strings(codes: list[StatusCode]) -> list[str]:
    """Failure codes as ``code`` (active) or ``ingredient:code``, in c2pa's order."""
    return [(c.code if c.scope == "active" else f"ingredient:{c.code}") for c in codes if c.kind == "failure"]


def _agent_name(agent: Any) -> str | None:
    if isinstance(agent, str):
        return agent
    if isinstance(agent, dict):
        return agent.get("name")
    return None


def _short_dst(value: Any) -> str | None:
    """The source type's name. A synthetic type named anywhere in the value counts, whatever the
    form (IPTC URI, QCode ``digsrctype:...``, URN, query or fragment, case, spaces); otherwise the
    last path segment. JSON-LD writes it as ``{"@id": ...}``."""
    if isinstance(value, dict):
        value = next((value[k] for k in ("@id", "@value", "id") if isinstance(value.get(k), str)), None)
    if not isinstance(value, str):
        return None
    parts = [p.strip() for p in re.split(r"[/:#?&=]", value)]
    synthetic = next((_SYNTHETIC_LOWER[p.lower()] for p in parts if p.lower() in _SYNTHETIC_LOWER), None)
    if synthetic:
        return synthetic
    name = value.strip().split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].strip()
    return name or None


def _declared_source_types(manifest: dict[str, Any]) -> set[str]:
    """Every source type a manifest's signed assertions state, wherever they state it."""
    found: set[str] = set()

    def walk(node: Any, depth: int) -> None:
        if depth > _MAX_ASSERTION_DEPTH:
            return
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and re.sub(r"[^a-z]", "", key.lower()).endswith("digitalsourcetype"):
                    for item in value if isinstance(value, list) else [value]:
                        if (name := _short_dst(item)) is not None:
                            found.add(name)
                walk(value, depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)

    for assertion in manifest.get("assertions", []) or []:
        if isinstance(assertion, dict):
            walk(assertion.get("data"), 0)
    return found


def _actions(manifest: dict[str, Any]) -> list[ProvenanceAction]:
    out: list[ProvenanceAction] = []
    for assertion in manifest.get("assertions", []) or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for act in (assertion.get("data") or {}).get("actions", []) or []:
            out.append(
                ProvenanceAction(
                    action=str(act.get("action", "")),
                    when=act.get("when") if isinstance(act.get("when"), str) else None,
                    software_agent=_agent_name(act.get("softwareAgent")),
                    digital_source_type=_short_dst(act.get("digitalSourceType")),
                    description=act.get("description") if isinstance(act.get("description"), str) else None,
                )
            )
    return out


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    if isinstance(manifest.get("claim_generator"), str):
        return manifest["claim_generator"]
    info = manifest.get("claim_generator_info") or []
    parts = [" ".join(str(x) for x in (i.get("name"), i.get("version")) if x) for i in info if isinstance(i, dict)]
    return "; ".join(p for p in parts if p) or None


def _ingredient_state(validation: dict[str, Any] | None) -> tuple[ProvenanceState | None, list[str]]:
    if not validation:
        return None, []
    codes = _status_codes(validation) if "activeManifest" in validation else _codes(validation, "active")
    failures = failure_code_strings(codes)
    return (_state_for(None, failures), failures)


def _state_for(validation_state: str | None, failures: list[str]) -> ProvenanceState:
    active_failures = [f for f in failures if not f.startswith("ingredient:")]
    if validation_state == "Invalid":
        return ProvenanceState.invalid
    if validation_state == "Trusted":
        return ProvenanceState.trusted
    if validation_state == "Valid":
        return ProvenanceState.valid_untrusted
    # No state from c2pa (ingredient summaries): derive it from the codes.
    if any(f not in TRUST_ONLY_CODES for f in active_failures):
        return ProvenanceState.invalid
    if active_failures:
        return ProvenanceState.valid_untrusted
    return ProvenanceState.trusted


def _result_from_reader(reader: c2pa.Reader) -> ProvenanceResult:
    store = json.loads(reader.json())
    validation = reader.get_validation_results() or {}
    vstate = reader.get_validation_state()
    codes = _status_codes(validation)
    failures = failure_code_strings(codes)
    manifests: dict[str, Any] = store.get("manifests") or {}
    active_label = store.get("active_manifest")
    active = manifests.get(active_label) or {}
    sig = active.get("signature_info") or {}

    actions = _actions(active)
    all_actions = [a for m in manifests.values() for a in _actions(m)]
    dsts = sorted({a.digital_source_type for a in all_actions if a.digital_source_type}
                  | {d for m in manifests.values() for d in _declared_source_types(m)})
    declared_ai = any(d in SYNTHETIC_SOURCE_TYPES for d in dsts) or any(
        a.description and not a.digital_source_type and declares_ai(a.description) for a in all_actions
    )

    ingredients = [_ingredient(ing, manifests) for ing in active.get("ingredients", []) or []]
    # What the manifests behind the active one recorded of their own ingredients: a tampered
    # original edited twice by a trusted signer is recorded as altered only one manifest back.
    history = [_ingredient(ing, manifests) for label, m in manifests.items() if label != active_label
               for ing in m.get("ingredients", []) or []]

    state = _state_for(vstate, failures)
    if state == ProvenanceState.trusted and (refusal := _signer_refusal(reader, active_label)):
        codes.append(refusal)
        failures.append(refusal.code)
        state = ProvenanceState.valid_untrusted
    timestamped = trusted_timestamp(codes)
    return ProvenanceResult(
        state=state,
        message=_summary(state, failures),
        validation_state=vstate,
        status_codes=codes,
        failure_codes=failures,
        active_manifest=active_label,
        manifest_count=len(manifests),
        signer_subject=sig.get("common_name"),
        signer_issuer=sig.get("issuer"),
        signature_alg=sig.get("alg"),
        cert_serial=str(sig["cert_serial_number"]) if sig.get("cert_serial_number") else None,
        claim_generator=_claim_generator(active),
        signing_time=sig.get("time"),
        timestamped=timestamped,
        actions=actions,
        digital_source_types=dsts,
        declared_ai=declared_ai,
        ingredients=ingredients,
        earlier_ingredients=history,
    )


def _ingredient(ing: dict[str, Any], manifests: dict[str, Any]) -> Ingredient:
    state, failures = _ingredient_state(ing.get("validation_results") or _legacy_status(ing))
    child = manifests.get(ing.get("active_manifest") or "") or {}
    child_dsts = [a.digital_source_type for a in _actions(child) if a.digital_source_type]
    return Ingredient(
        title=ing.get("title"),
        relationship=ing.get("relationship"),
        format=ing.get("format"),
        state=state,
        failure_codes=failures,
        digital_source_type=_short_dst(ing.get("digital_source_type")) or (child_dsts[0] if child_dsts else None),
    )


def trusted_timestamp(codes: list[StatusCode]) -> bool:
    """The active signature carries a time-stamp from a trusted TSA. "validated" says only that
    the token matches the signature: an attacker-run TSA's token validates too, at any time it likes."""
    stamps = {c.code for c in codes if c.scope == "active"}
    return "timeStamp.trusted" in stamps and "timeStamp.untrusted" not in stamps


def _signer_refusal(reader: c2pa.Reader, label: str | None) -> StatusCode | None:
    """Trust only a signer whose certificate is for signing content (``provenance.signer_cert``)."""
    try:
        purpose = active_signer_purpose(reader, label or "")
    except SignerCertificateError as exc:
        return _verifier_code(SIGNER_UNCHECKED, f"the signer's certificate could not be read to check its purpose: {exc}")
    if purpose.problem is None:
        return None
    return _verifier_code(NOT_CONTENT_SIGNER, f"c2pa trusts the signer, but {purpose.problem} ({purpose.subject})")


def _verifier_code(code: str, explanation: str) -> StatusCode:
    return StatusCode(code=code, explanation=explanation + " [av-verifier policy, not a c2pa code]", url="",
                      kind="failure", scope="active")


def _legacy_status(ingredient: dict[str, Any]) -> dict[str, Any] | None:
    status = ingredient.get("validation_status")
    if not status:
        return None
    return {"failure": [s for s in status if isinstance(s, dict)]}


def _summary(state: ProvenanceState, failures: list[str]) -> str:
    if state == ProvenanceState.trusted:
        return "signed by a trusted signer; content matches the signed hashes"
    if state == ProvenanceState.valid_untrusted and NOT_CONTENT_SIGNER in failures:
        return "validly signed and intact, but the signer's certificate is not one for signing content"
    if state == ProvenanceState.valid_untrusted and SIGNER_UNCHECKED in failures:
        return "validly signed and intact, but the signer's certificate could not be checked"
    if state == ProvenanceState.valid_untrusted:
        return "validly signed and intact, but the signer is not on a trust list"
    shown = ", ".join(failures[:6]) + (" ..." if len(failures) > 6 else "")
    return f"manifest failed validation: {shown or 'no reason given'}"
