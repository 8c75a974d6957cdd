"""npm registry attestations: ``{"attestations": [{"predicateType", "bundle"}, ...]}``.

What ``npm view PKG dist.attestations`` points at, and what slsa-verifier's
``verify-npm-package`` reads: a Fulcio-signed SLSA provenance bundle and a publish
attestation signed by the npm registry's key, both logged in Rekor as intoto 0.0.2.
No library reads this container, so we do, and hand each bundle to the bundle verifiers:
the provenance goes through the keyless path (identity and policy flags, ``--artifact``
against its sha512 subject ``pkg:npm/NAME@VERSION``); the publish attestation, when the
registry key is given, through
:func:`attester.verify.sigstore.intoto_entry.verify_with_key`, and must name the same
package, version and digest as the provenance.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from attester.errors import InputError, VerificationError
from attester.verify.checks.policy import Check

PUBLISH_V01 = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
PROVENANCE_TYPES = ("https://slsa.dev/provenance/v1", "https://slsa.dev/provenance/v0.2")
MAX_ATTESTATIONS = 16


@attrs.frozen
class NpmAttestations:
    provenance: Mapping[str, Any] = attrs.field(repr=False)
    publish: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    #: The predicateType the container labels the provenance with (unsigned).
    provenance_type: str = PROVENANCE_TYPES[0]


def parse(doc: Mapping[str, Any], *, where: str) -> NpmAttestations:
    items = doc["attestations"]
    if len(items) > MAX_ATTESTATIONS:
        raise InputError(f"{where}: more than {MAX_ATTESTATIONS} npm attestations")
    found: dict[str, list[Mapping[str, Any]]] = {"provenance": [], "publish": []}
    labels: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("bundle"), Mapping) or \
                not isinstance(item.get("predicateType"), str):
            raise InputError(f"{where}: npm attestation {i} is not "
                             "{\"predicateType\": ..., \"bundle\": {...}}")
        if item["predicateType"] in PROVENANCE_TYPES:
            # The label is unsigned: a message-signature bundle labelled provenance would
            # verify as a signed file and carry no statement to bind the publish
            # attestation to (redteam: any signed file "published" as any npm package).
            if not isinstance(item["bundle"].get("dsseEnvelope"), Mapping):
                raise InputError(f"{where}: npm attestation {i} is labelled SLSA provenance "
                                 "but holds no DSSE envelope (no statement)")
            found["provenance"].append(item["bundle"])
            labels.append(item["predicateType"])
        elif item["predicateType"] == PUBLISH_V01:
            found["publish"].append(item["bundle"])
    if len(found["provenance"]) != 1 or len(found["publish"]) > 1:
        raise InputError(f"{where}: npm attestations must hold one SLSA provenance and at most "
                         f"one publish attestation (found {len(found['provenance'])} and "
                         f"{len(found['publish'])})")
    return NpmAttestations(provenance=found["provenance"][0],
                           publish=found["publish"][0] if found["publish"] else None,
                           provenance_type=labels[0])


def provenance_check(npm: NpmAttestations, statement: Mapping[str, Any] | None) -> Check:
    """The signed statement is the SLSA provenance its (unsigned) label says: another
    attestation of the same signer about the same package must not stand in for it
    (redteam: an SBOM or any other predicate passed as "the provenance")."""
    got = statement.get("predicateType") if isinstance(statement, Mapping) else None
    ok = got == npm.provenance_type
    return Check("npm-provenance", ok, f"the signed statement is {got}" if ok else
                 f"the attestation labelled {npm.provenance_type} signs a "
                 f"{got or 'non-statement'!r} statement")


def bundle_bytes(bundle: Mapping[str, Any]) -> bytes:
    return json.dumps(bundle).encode()


def _subjects(stmt: Mapping[str, Any]) -> list[tuple[str, str]]:
    subjects = stmt.get("subject")
    if not isinstance(subjects, list):
        return []
    out = []
    for s in subjects:
        digest = s.get("digest") if isinstance(s, Mapping) else None
        sha512 = digest.get("sha512") if isinstance(digest, Mapping) else None
        # A subject without a sha512 is no package: never let two missing digests match.
        if isinstance(s.get("name") if isinstance(s, Mapping) else None, str) and \
                isinstance(sha512, str) and sha512:
            out.append((str(s["name"]), sha512.lower()))
    return out


def verify_publish(publish: Mapping[str, Any] | None, key_path: str, trusted_root: Any,
                   provenance: Mapping[str, Any] | None, *, where: str) -> Check:
    """The registry's publish attestation: signed by the registry key, logged, and about
    the package (name, version, sha512) the provenance attests."""
    from attester.jsonio import parse_json
    from attester.signing import keys
    from attester.verify.sigstore import intoto_entry
    from attester.verify.sigstore.load import with_proto3_defaults

    if publish is None:
        return Check("npm-publish", False, "--npm-publish-key given, but the document holds "
                     "no npm publish attestation")
    key = keys.load_public(key_path)
    doc = with_proto3_defaults(publish)
    b = intoto_entry.parse(doc, where=f"{where} (publish attestation)")
    if b is None:
        return Check("npm-publish", False, "the publish attestation is not logged as an intoto "
                     "0.0.2 entry")
    try:
        _ptype, payload, when = intoto_entry.verify_with_key(
            b, trusted_root, key, where=f"{where} (publish attestation)")
    except VerificationError as e:
        return Check("npm-publish", False, e.message)
    stmt = parse_json(payload, where=f"{where} (publish attestation payload)")
    if not isinstance(stmt, Mapping) or stmt.get("predicateType") != PUBLISH_V01:
        return Check("npm-publish", False, "the publish attestation's statement is not an npm "
                     "publish v0.1 statement")
    subjects = _subjects(stmt)
    pred = stmt.get("predicate") if isinstance(stmt.get("predicate"), Mapping) else {}
    assert isinstance(pred, Mapping)  # noqa: S101 - narrowed above
    want_name = f"pkg:npm/{pred.get('name')}@{pred.get('version')}"
    if len(subjects) != 1 or subjects[0][0] != want_name:
        return Check("npm-publish", False, f"publish attestation subject {subjects} does not "
                     f"name the published package {want_name}")
    if provenance is None:  # fail closed: nothing binds the publish attestation to the artifact
        return Check("npm-publish", False, "the provenance holds no statement naming the "
                     "package, so the publish attestation cannot be tied to the artifact")
    if sorted(_subjects(provenance)) != subjects:
        return Check("npm-publish", False, "publish attestation and provenance name different "
                     f"packages or digests ({subjects[0][0]} vs "
                     f"{', '.join(n for n, _ in _subjects(provenance)) or 'none'})")
    return Check("npm-publish", True, f"{want_name} published by the npm registry (key "
                 f"{key_path}), logged in Rekor at {when:%Y-%m-%dT%H:%M:%SZ}")
