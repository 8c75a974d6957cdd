"""Who signed a verified statement, as the signature check established it.

The summary Rego policies read as ``input.signer`` and the certificate <-> provenance
cross-check compares: for a keyless signature, the certificate's identity (SAN), OIDC
issuer and Fulcio extensions; for keys, the ids of the trusted keys whose signatures
verified. Built only after the signature verified, from the material it verified with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

# Fulcio's certificate extensions by OID, named as sigstore-go's certificate.Extensions
# (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md). 1.1-1.6 are the
# deprecated raw-string ones; the rest are DER UTF8Strings (certificate.fulcio_extension
# reads both).
FULCIO_EXTENSIONS: Mapping[str, str] = {
    "1.3.6.1.4.1.57264.1.1": "issuerV1",
    "1.3.6.1.4.1.57264.1.2": "githubWorkflowTrigger",
    "1.3.6.1.4.1.57264.1.3": "githubWorkflowSHA",
    "1.3.6.1.4.1.57264.1.4": "githubWorkflowName",
    "1.3.6.1.4.1.57264.1.5": "githubWorkflowRepository",
    "1.3.6.1.4.1.57264.1.6": "githubWorkflowRef",
    "1.3.6.1.4.1.57264.1.8": "issuer",
    "1.3.6.1.4.1.57264.1.9": "buildSignerURI",
    "1.3.6.1.4.1.57264.1.10": "buildSignerDigest",
    "1.3.6.1.4.1.57264.1.11": "runnerEnvironment",
    "1.3.6.1.4.1.57264.1.12": "sourceRepositoryURI",
    "1.3.6.1.4.1.57264.1.13": "sourceRepositoryDigest",
    "1.3.6.1.4.1.57264.1.14": "sourceRepositoryRef",
    "1.3.6.1.4.1.57264.1.15": "sourceRepositoryIdentifier",
    "1.3.6.1.4.1.57264.1.16": "sourceRepositoryOwnerURI",
    "1.3.6.1.4.1.57264.1.17": "sourceRepositoryOwnerIdentifier",
    "1.3.6.1.4.1.57264.1.18": "buildConfigURI",
    "1.3.6.1.4.1.57264.1.19": "buildConfigDigest",
    "1.3.6.1.4.1.57264.1.20": "buildTrigger",
    "1.3.6.1.4.1.57264.1.21": "runInvocationURI",
    "1.3.6.1.4.1.57264.1.22": "sourceRepositoryVisibilityAtSigning",
}


@attrs.frozen
class Signer:
    """A verified signer: ``kind`` is ``certificate`` or ``key``."""

    kind: str
    identities: tuple[str, ...] = ()
    issuer: str = ""
    extensions: tuple[tuple[str, str], ...] = ()
    keyids: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()

    @property
    def identity(self) -> str:
        return self.identities[0] if self.identities else ""

    def ext(self, name: str) -> str:
        return dict(self.extensions).get(name, "")

    def to_json(self) -> dict[str, Any]:
        if self.kind == "certificate":
            return {"kind": self.kind, "identity": self.identity,
                    "identities": list(self.identities), "issuer": self.issuer,
                    "extensions": dict(self.extensions)}
        return {"kind": self.kind, "keyids": list(self.keyids), "keys": list(self.keys)}


def from_certificate(cert: Any) -> Signer:
    from attester.verify.checks.certificate import fulcio_extension, sans

    found = []
    for oid, name in FULCIO_EXTENSIONS.items():
        value = fulcio_extension(cert, oid)  # one DER reader for Fulcio's OIDs
        if value:
            found.append((name, value))
    exts = dict(found)
    return Signer(kind="certificate", identities=tuple(sans(cert)),
                  issuer=exts.get("issuer") or exts.get("issuerV1", ""),
                  extensions=tuple(found))


def from_keys(keyids: Sequence[str], labels: Sequence[str]) -> Signer:
    return Signer(kind="key", keyids=tuple(keyids), keys=tuple(labels))
