"""Cloud Build's own signed provenance, as ``gcloud artifacts docker images describe IMAGE
--show-provenance --format json`` prints it.

Google signs only each entry's DSSE ``envelope``; everything around it (``image_summary``,
``kind``, ``resourceUri``, the human-readable ``build.intotoStatement`` copy) is unsigned and
is checked against the signed payload or the image digest, so that nothing a reader might
trust can differ from what Google signed. No Python library verifies this format, so it is
written here, following slsa-framework/slsa-verifier's ``verifiers/internal/gcb`` rule for
rule (the keys ship in ``gcb_keys/``, as slsa-verifier embeds them). Regional keys sign the
SHA-256 of the raw payload, not the DSSE PAE; only the global keys use PAE.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import attrs

from attester.digests import artifact_ref
from attester.errors import InputError, UsageError
from attester.model.statement import ParsedStatement, normalize_repo
from attester.verify.checks.policy import Check, Policy, builder_id_matches, versioned_tag_matches

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
PROVENANCE_V01 = "https://slsa.dev/provenance/v0.1"
PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
BUILDER_NAME = "https://cloudbuild.googleapis.com/GoogleHostedWorker"
#: The builders whose provenance is SLSA v0.1 (the only layout this set of rules knows)
BUILDERS_V01 = (f"{BUILDER_NAME}@v0.2", f"{BUILDER_NAME}@v0.3")
_KEYRING = ("projects/verified-builder/locations/{}/keyRings/attestor/cryptoKeys/{}/"
            "cryptoKeyVersions/1")
#: Global keys that sign the DSSE PAE: key id -> key file
_PAE_KEYS = {_KEYRING.format("global", "provenanceSigner"): "global-pae-provenanceSigner_1",
             _KEYRING.format("global", "google-hosted-worker"): "global-pae-google-hosted-worker_1"}
# Greedy like slsa-verifier's: 'us-west2/invalid-field' is a region no key has.
_REGIONAL = re.compile(r"^projects/verified-builder/locations/(.*)/keyRings/attestor/"
                       r"cryptoKeys/builtByGCB/cryptoKeyVersions/1$")
_KEYS_DIR = Path(__file__).parent / "gcb_keys"
#: Occurrences of one image and signatures of one occurrence (Google writes one of each per
#: build): more is no real document, and each is tried in turn.
MAX_ENTRIES = 64
MAX_SIGNATURES = 8
#: Policy fields this provenance can answer; any other is refused (exit 2), never skipped
ANSWERS = ("builder_id", "source_uri", "source_tag", "source_versioned_tag", "build_type",
           "predicate_type", "rego")
_V01_RECIPE_TYPES = {"v0.3": ("https://cloudbuild.googleapis.com/CloudBuildYaml@",
                              "https://cloudbuild.googleapis.com/CloudBuildSteps@")}
_BUILD_TYPE = "type.googleapis.com/google.devtools.cloudbuild.v1.Build"


@attrs.frozen
class Entry:
    """One Container Analysis occurrence: the signed envelope and its unsigned neighbours."""

    kind: str
    resource_uri: str
    payload_type: str
    payload_b64: str
    signatures: tuple[tuple[str, str], ...]
    text: Mapping[str, Any] | None


@attrs.frozen
class Document:
    summary_digest: str
    summary_qualified: str
    entries: tuple[Entry, ...]


def _field(obj: Mapping[str, Any], key: str, kind: type, where: str, default: Any = None) -> Any:
    value = obj.get(key, default)
    if not isinstance(value, kind):
        raise InputError(f"{where}: {key} must be a {kind.__name__}")
    return value


def parse(doc: Any, *, where: str) -> Document:
    """Type-check the whole document once; a wrong shape is one line naming the field."""
    summary = _field(doc, "image_summary", dict, where, {})
    entries = _field(_field(doc, "provenance_summary", dict, where), "provenance", list,
                     f"{where}: provenance_summary")
    if not entries:
        raise InputError(f"{where}: provenance_summary.provenance is empty: no provenance")
    if len(entries) > MAX_ENTRIES:
        # every entry's signatures are tried in turn: unbounded, a document inside the size
        # limit made verification work without end (redteam)
        raise InputError(f"{where}: provenance_summary.provenance has {len(entries)} entries, "
                         f"more than {MAX_ENTRIES}; refusing it")
    out = []
    for i, e in enumerate(entries):
        at = f"{where}: provenance_summary.provenance[{i}]"
        if not isinstance(e, dict):
            raise InputError(f"{at} must be an object")
        env = _field(e, "envelope", dict, at)
        sigs = []
        listed = _field(env, "signatures", list, f"{at}.envelope", [])
        if len(listed) > MAX_SIGNATURES:
            raise InputError(f"{at}.envelope.signatures has {len(listed)} signatures, more "
                             f"than {MAX_SIGNATURES}; refusing it")
        for j, s in enumerate(listed):
            if not isinstance(s, dict):
                raise InputError(f"{at}.envelope.signatures[{j}] must be an object")
            sigs.append((_field(s, "keyid", str, f"{at}.envelope.signatures[{j}]", ""),
                         _field(s, "sig", str, f"{at}.envelope.signatures[{j}]", "")))
        build = _field(e, "build", dict, at, {})
        text = build.get("intotoStatement")
        out.append(Entry(kind=_field(e, "kind", str, at, ""),
                         resource_uri=_field(e, "resourceUri", str, at, ""),
                         payload_type=_field(env, "payloadType", str, f"{at}.envelope", ""),
                         payload_b64=_field(env, "payload", str, f"{at}.envelope", ""),
                         signatures=tuple(sigs),
                         text=text if isinstance(text, dict) else None))
    return Document(summary_digest=_field(summary, "digest", str, f"{where}: image_summary", ""),
                    summary_qualified=_field(summary, "fully_qualified_digest", str,
                                             f"{where}: image_summary", ""),
                    entries=tuple(out))


@cache
def _key(name: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key((_KEYS_DIR / f"{name}.pem").read_bytes())


@cache
def _regions() -> frozenset[str]:
    return frozenset(p.stem for p in _KEYS_DIR.glob("*.pem") if not p.stem.startswith("global-pae"))


def _decode_sig(sig: str) -> bytes | None:
    """Standard base64, then URL-safe (the v0.2 files use it), as slsa-verifier tries."""
    for alt in (None, b"-_"):
        try:
            return base64.b64decode(sig, altchars=alt, validate=True)
        except (binascii.Error, ValueError):
            continue
    return None


def _verify_signature(entry: Entry) -> tuple[str, bytes] | str:
    """(key name, payload) for the first signature a Google key verifies, else why not."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from attester.signing.dsse import pae

    if entry.payload_type != PAYLOAD_TYPE:
        return f"payloadType is {entry.payload_type!r}, not {PAYLOAD_TYPE!r}"
    try:
        payload = base64.b64decode(entry.payload_b64, validate=True)
    except (binascii.Error, ValueError):
        return "payload is not standard base64"
    if not payload:
        return "payload is empty"
    if not entry.signatures:
        return "no signatures"
    reasons = []
    for keyid, sig in entry.signatures:
        if keyid in _PAE_KEYS:
            name, signed = _PAE_KEYS[keyid], pae(entry.payload_type, payload)
        elif (m := _REGIONAL.match(keyid)) is not None:
            name, signed = m.group(1), payload
            if name not in _regions():
                reasons.append(f"no Cloud Build key for region {name!r}")
                continue
        else:
            continue  # not a Google key id (empty or other): skipped, as slsa-verifier does
        raw = _decode_sig(sig)
        if raw is None:
            reasons.append(f"signature by {name!r} is not base64")
            continue
        try:
            _key(name).verify(raw, signed, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            reasons.append(f"signature by {name!r} does not verify")
            continue
        return name, payload
    return "; ".join(reasons) or "no signature names a Google Cloud Build key"


def image_digest(artifacts: Sequence[str], stores: Sequence[str]) -> str:
    """The image's sha256 hex: provenance is about an image, named by its digest only."""
    if stores:
        raise UsageError("--artifacts does not apply to Cloud Build provenance: it describes "
                         "one image", hint="name the image: --digest sha256:HEX")
    if len(artifacts) != 1:
        raise UsageError("Cloud Build provenance describes one image: name it once, by digest",
                         hint="--digest sha256:HEX or --artifact IMAGE@sha256:HEX")
    ref = artifact_ref(artifacts[0].removeprefix("oci://"))
    if ref is None:
        raise UsageError(f"image {artifacts[0]!r} is named without a digest: a tag can move, "
                         "so provenance is checked against a digest",
                         hint="--artifact IMAGE@sha256:HEX or --digest sha256:HEX")
    if ref[1] != "sha256":
        raise UsageError(f"image {artifacts[0]!r}: image digests are sha256")
    return ref[2]


def refuse_unanswerable(policy: Policy) -> None:
    """Requirements this provenance cannot answer are refused, never passed unchecked."""
    asked = [f.name for f in attrs.fields(Policy)
             if getattr(policy, f.name) not in (None, ()) and f.name not in ANSWERS]
    if asked:
        flags = ", ".join("--" + a.replace("_", "-") for a in asked)
        raise UsageError(f"Cloud Build provenance cannot answer {flags}: it records builder, "
                         "source repository, tag and build type (no branch)",
                         hint="drop them, or verify another attestation of the image")


def verify(doc: Any, *, where: str, policy: Policy, artifacts: Sequence[str],
           stores: Sequence[str] = ()) -> tuple[list[Check], ParsedStatement | None]:
    """Every check slsa-verifier's GCB verifier makes, in its order; the checks and, when the
    signature verified, the signed statement."""
    digest = image_digest(artifacts, stores)
    refuse_unanswerable(policy)
    document = parse(doc, where=where)
    reasons = []
    for i, entry in enumerate(document.entries):
        got = _verify_signature(entry)
        if isinstance(got, str):
            reasons.append(f"entry {i + 1}: {got}")
            continue
        key, payload = got
        sig = Check("signature", True, f"entry {i + 1} of {len(document.entries)} signed by "
                    f"Google Cloud Build key {key!r}")
        return _check_entry(document, entry, payload, sig, digest, policy, where, key)
    return [Check("signature", False, "no provenance entry is signed by a Google Cloud Build "
                  "key: " + "; ".join(reasons)[:600])], None


def _check_entry(document: Document, entry: Entry, payload: bytes, sig: Check, digest: str,
                 policy: Policy, where: str, key: str = ""
                 ) -> tuple[list[Check], ParsedStatement | None]:
    from attester.jsonio import parse_json

    stmt = parse_json(payload, where=f"{where}: signed payload")
    if not isinstance(stmt, dict):
        return [sig, Check("statement", False, "the signed payload is not a JSON object")], None
    parsed = ParsedStatement(raw=stmt)
    checks = [sig]
    pred_type = stmt.get("predicateType")
    if stmt.get("_type") != STATEMENT_V01 or pred_type != PROVENANCE_V01:
        why = ("SLSA v1.0 Cloud Build provenance is not supported yet" if pred_type ==
               PROVENANCE_V1 else f"expected an in-toto v0.1 statement of {PROVENANCE_V01}")
        return [*checks, Check("predicate-type", False, f"{why}; got {pred_type!r}")], parsed
    if policy.predicate_type is not None:
        ok = policy.predicate_type == pred_type
        checks.append(Check("predicate-type", ok, f"is {pred_type!r}" if ok else
                            f"is {pred_type!r}, policy wants {policy.predicate_type!r}"))
    pred = stmt.get("predicate")
    pred = pred if isinstance(pred, dict) else {}
    checks.extend(_builder_checks(pred, policy))
    checks.append(_subject_check(stmt, digest))
    if policy.source_uri is not None:
        checks.append(_source_check(pred, policy.source_uri))
    checks.append(Check("kind", entry.kind == "BUILD", "is 'BUILD'" if entry.kind == "BUILD"
                        else f"the occurrence's kind is {entry.kind!r}, not 'BUILD'"))
    want = f"sha256:{digest}"
    ok = entry.resource_uri.endswith("@" + want)
    checks.append(Check("resource-uri", ok, f"names {want}" if ok else
                        f"unsigned resourceUri {entry.resource_uri!r} does not name {want}"))
    ok = document.summary_digest == want and document.summary_qualified.endswith(want)
    checks.append(Check("image-summary", ok, f"names {want}" if ok else
                        f"unsigned image_summary ({document.summary_digest!r}, "
                        f"{document.summary_qualified!r}) does not name {want}"))
    checks.append(_text_check(entry.text, stmt))
    tag = _tag(pred)
    if policy.source_tag is not None:
        ok = tag == policy.source_tag
        checks.append(Check("source-tag", ok, f"built tag is {tag!r}" if ok else
                            f"built tag is {tag or 'missing'!r}, policy wants "
                            f"{policy.source_tag!r}"))
    if policy.source_versioned_tag is not None:
        ok = bool(tag) and versioned_tag_matches(f"refs/tags/{tag}", policy.source_versioned_tag)
        checks.append(Check("source-versioned-tag", ok, f"built tag is {tag!r}" if ok else
                            f"built tag is {tag or 'missing'!r}, policy wants a tag matching "
                            f"{policy.source_versioned_tag!r}"))
    if policy.rego:  # on the signed statement, signed by Google's key
        from attester.verify.checks import rego
        from attester.verify.checks.signer import from_keys

        who = from_keys([key], [f"Google Cloud Build key {key}"]).to_json()
        checks.extend(rego.evaluate(p, stmt, who) for p in policy.rego)
    return checks, parsed


def _get(obj: Any, *path: str) -> Any:
    for p in path:
        obj = obj.get(p) if isinstance(obj, dict) else None
    return obj


def _builder_checks(pred: Mapping[str, Any], policy: Policy) -> list[Check]:
    builder = _get(pred, "builder", "id")
    if builder not in BUILDERS_V01:
        return [Check("builder-id", False, f"builder {builder!r} is not Cloud Build's "
                      f"({' or '.join(BUILDERS_V01)})")]
    checks = []
    if policy.builder_id is not None:
        if not policy.builder_id.startswith(BUILDER_NAME):
            checks.append(Check("builder-id", False, f"policy wants {policy.builder_id!r}, "
                                f"but this is Cloud Build's provenance ({builder!r})"))
        else:
            ok = builder_id_matches(builder, policy.builder_id)
            checks.append(Check("builder-id", ok, f"is {builder!r}" if ok else
                                f"is {builder!r}, policy wants {policy.builder_id!r}"))
    version = builder.rpartition("@")[2]
    recipe = _get(pred, "recipe", "type")
    recipe = recipe if isinstance(recipe, str) else ""
    prefixes = _V01_RECIPE_TYPES.get(version)
    ok = recipe.startswith(prefixes) if prefixes else recipe == builder
    checks.append(Check("recipe-type", ok, f"is {recipe!r}" if ok else
                        f"recipe type {recipe!r} is not one {builder} writes"))
    arg_type = _get(pred, "recipe", "arguments", "@type")
    ok = arg_type == _BUILD_TYPE
    checks.append(Check("recipe-arguments", ok, f"are a {_BUILD_TYPE}" if ok else
                        f"recipe arguments' @type is {arg_type!r}, not {_BUILD_TYPE!r}"))
    if policy.build_type is not None:
        ok = recipe == policy.build_type
        checks.append(Check("build-type", ok, f"is {recipe!r}" if ok else
                            f"is {recipe!r}, policy wants {policy.build_type!r}"))
    return checks


def _subject_check(stmt: Mapping[str, Any], digest: str) -> Check:
    subjects = stmt.get("subject")
    subjects = subjects if isinstance(subjects, list) else []
    for s in subjects:
        got = _get(s, "digest", "sha256")
        if not isinstance(got, str):
            return Check("subject", False, "a subject has no sha256 digest")
        if got == digest:
            return Check("subject", True, f"the image sha256:{digest} is a signed subject "
                         f"({_get(s, 'name')!r})")
    return Check("subject", False, f"no signed subject has the image's digest sha256:{digest}")


def _source_check(pred: Mapping[str, Any], want: str) -> Check:
    """materials[0] is the source: https://github.com/O/R/commit/SHA (builder v0.2), or
    https://github.com/O/R (v0.3, maybe git+), or gs://bucket/file.tgz#generation."""
    materials = pred.get("materials")
    uri = _get(materials[0], "uri") if isinstance(materials, list) and materials else None
    if not isinstance(uri, str) or not uri:
        return Check("source-uri", False, "the provenance names no source (materials[0].uri)")
    uri = uri.removeprefix("git+")
    expected = want
    if uri.startswith("https://") and "://" not in expected:
        expected = "https://" + expected
    version = str(_get(pred, "builder", "id")).rpartition("@")[2]
    if version == "v0.2":
        ok = uri.startswith((expected + "/commit/", expected + "#"))
    else:
        ok = uri == expected or uri.startswith(expected + "#")
    return Check("source-uri", ok, f"source is {uri!r}" if ok else
                 f"source is {uri!r}, policy wants {normalize_repo(want)!r}")


def _tag(pred: Mapping[str, Any]) -> str:
    tag = _get(pred, "recipe", "arguments", "substitutions", "TAG_NAME")
    return tag if isinstance(tag, str) else ""


_FRACTION = re.compile(r"\.(\d+?)0*(?=Z|[+-]\d\d:\d\d$)")


def _time(value: Any) -> Any:
    """RFC 3339 times compare as instants' text: trailing zeros of the fraction dropped."""
    if not isinstance(value, str):
        return value
    return _FRACTION.sub(lambda m: "." + m.group(1) if m.group(1).strip("0") else "", value)


def _typed(value: Any, kind: type) -> Any:
    """``value`` when it has the JSON type ``kind``, else that type's empty value."""
    return value if isinstance(value, kind) else kind()


def _v01_view(stmt: Mapping[str, Any], predicate_key: str) -> dict[str, Any]:
    """The statement as slsa-verifier's Go v0.1 structs see it: fields outside them
    (metadata.buildInvocationId) and definedInMaterial (a string in GCB's, an int in the
    struct) dropped; absent and empty are the same."""
    pred = _typed(stmt.get(predicate_key), dict)
    recipe, meta = _typed(pred.get("recipe"), dict), _typed(pred.get("metadata"), dict)
    subjects = _typed(stmt.get("subject"), list)
    materials = _typed(pred.get("materials"), list)
    return {
        "_type": stmt.get("_type") or "",
        "predicateType": stmt.get("predicateType") or "",
        "subject": [{"name": _get(s, "name") or "", "digest": _get(s, "digest") or {}}
                    for s in subjects],
        "builder": _get(pred, "builder", "id") or "",
        "recipe": {k: recipe.get(k) or None for k in ("type", "entryPoint", "arguments",
                                                       "environment")},
        "metadata": {"buildStartedOn": _time(meta.get("buildStartedOn")),
                     "buildFinishedOn": _time(meta.get("buildFinishedOn")),
                     "completeness": meta.get("completeness") or None,
                     "reproducible": bool(meta.get("reproducible"))},
        "materials": [{"uri": _get(m, "uri") or "", "digest": _get(m, "digest") or {}}
                      for m in materials],
    }


def _text_check(text: Mapping[str, Any] | None, stmt: Mapping[str, Any]) -> Check:
    if text is None:
        return Check("text-copy", False, "the unsigned build.intotoStatement copy is missing")
    theirs, ours = _v01_view(text, "slsaProvenance"), _v01_view(stmt, "predicate")
    if theirs == ours:
        return Check("text-copy", True, "the unsigned build.intotoStatement equals the "
                     "signed statement")
    differ = [k for k in ours if theirs[k] != ours[k]]
    return Check("text-copy", False, "the unsigned build.intotoStatement differs from the "
                 f"signed statement in: {', '.join(differ)}")
