"""Attestations stored next to images, as OCI 1.1 referrers.

``attest attach`` pushes a signed attestation as an artifact manifest whose ``subject``
is the image (artifactType and the ``dev.sigstore.bundle.predicateType`` annotation as
cosign writes them). Registries without the referrers API (distribution 2.x, so
Debian's docker-registry) get the OCI 1.1 fallback: an index tagged ``sha256-<hex>``
listing the referrers, which we update too. ``referrers`` reads either.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import attrs

from attester.errors import InputError, ServiceError, StoreError
from attester.stores.oci import Clients, Reference, RegistryClient

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
DSSE_TYPE = "application/vnd.dsse.envelope.v1+json"
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@attrs.frozen
class Target:
    ref: Reference
    client: RegistryClient = attrs.field(eq=False, repr=False)
    digest: str
    media_type: str
    size: int

    @classmethod
    def resolve(cls, uri: str, *, insecure: bool = False,
                clients: Clients | None = None) -> Target:
        ref = Reference.parse(uri)
        if not (ref.tag or ref.digest):
            raise InputError(f"{uri}: name an image by tag or digest")
        client = clients(ref.registry) if clients else RegistryClient(ref.registry,
                                                                      insecure=insecure)
        body, media_type = client.manifest(ref.repository, ref.digest or ref.tag, what=uri)
        return cls(ref=ref, client=client, digest=_digest(body), media_type=media_type,
                   size=len(body))

    @property
    def name(self) -> str:
        return self.ref.name(digest=self.digest)


def _push_blob(t: Target, data: bytes, what: str) -> str:
    digest = _digest(data)
    repo = t.ref.repository
    head = t.client.request("HEAD", f"{repo}/blobs/{digest}", what=what, allow=(404,))
    if head.status_code == 200:
        return digest
    resp = t.client.request("POST", f"{repo}/blobs/uploads/", what=what)
    location = resp.headers.get("Location", "")
    if not location:
        raise ServiceError(f"{what}: registry gave no upload location")
    sep = "&" if "?" in location else "?"
    t.client.request("PUT", f"{location}{sep}digest={digest}", what=what, data=data,
                     content_type="application/octet-stream")
    return digest


def _put_manifest(t: Target, reference: str, body: bytes, media_type: str, what: str) -> None:
    t.client.request("PUT", f"{t.ref.repository}/manifests/{reference}", what=what, data=body,
                     content_type=media_type)


def attach(target: Target, attestation: bytes, *, predicate_type: str, is_bundle: bool) -> str:
    """Push ``attestation`` as a referrer of ``target``; returns the referrer's digest."""
    what = f"attach to oci://{target.name}"
    empty = b"{}"
    _push_blob(target, empty, what)
    layer_digest = _push_blob(target, attestation, what)
    artifact_type = BUNDLE_TYPE if is_bundle else DSSE_TYPE
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
        "config": {"mediaType": EMPTY, "digest": _digest(empty), "size": 2},
        "layers": [{"mediaType": artifact_type, "digest": layer_digest,
                    "size": len(attestation)}],
        "subject": {"mediaType": target.media_type, "digest": target.digest,
                    "size": target.size},
        "annotations": {PREDICATE_ANNOTATION: predicate_type},
    }
    body = json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
    digest = _digest(body)
    _put_manifest(target, digest, body, OCI_MANIFEST, what)
    descriptor = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body),
                  "artifactType": artifact_type,
                  "annotations": {PREDICATE_ANNOTATION: predicate_type}}
    # OCI 1.1 fallback for registries without the referrers API: the tag schema index.
    index = _fallback_index(target, what)
    if not any(m.get("digest") == digest for m in index["manifests"]):
        index["manifests"].append(descriptor)
        data = json.dumps(index, separators=(",", ":"), sort_keys=True).encode()
        _put_manifest(target, _fallback_tag(target.digest), data, OCI_INDEX, what)
    return digest


def _fallback_tag(digest: str) -> str:
    return digest.replace(":", "-")


#: Largest attestation manifest or blob read from a registry. Real attestations are a
#: few KiB to a few MiB (a provenance with thousands of subjects); anything bigger is
#: refused before it is held in memory.
MAX_ATTESTATION_BYTES = 16 << 20
#: Referrers examined per image by default (gh's --limit default; cosign caps them too):
#: a registry that lists thousands cannot make verification fetch them all.
DEFAULT_REFERRER_LIMIT = 30
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    """A registry's JSON document, bounded and type-checked like every other input."""
    from attester.jsonio import parse_json

    try:
        doc = parse_json(data, where=what)
    except InputError as e:
        raise ServiceError(e.message) from None
    if not isinstance(doc, dict):
        raise ServiceError(f"{what}: expected a JSON object, got a JSON {type(doc).__name__}")
    return doc


def _descriptors(doc: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """The ``manifests`` of an index: a list of objects, each with a sha256 ``digest``;
    anything else is refused (a hostile registry's index is input like any other)."""
    manifests = doc.get("manifests", [])
    if not isinstance(manifests, list):
        raise ServiceError(f"{what}: 'manifests' is not a list")
    for i, desc in enumerate(manifests):
        if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str) \
                or not _DIGEST_RE.match(desc["digest"]):
            raise ServiceError(f"{what}: descriptor {i} has no sha256 digest")
        if not isinstance(desc.get("annotations", {}), dict):
            raise ServiceError(f"{what}: descriptor {i}: 'annotations' is not an object")
    return manifests


def _fallback_index(t: Target, what: str) -> dict[str, Any]:
    try:
        body, _ = t.client.manifest(t.ref.repository, _fallback_tag(t.digest), what=what)
    except StoreError:
        return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    doc = _json_object(body, f"{what} (tag {_fallback_tag(t.digest)})")
    doc["manifests"] = _descriptors(doc, what)
    return doc


def _read_capped(resp: Any, limit: int, what: str) -> bytes:
    """A response body of at most ``limit`` bytes, through the one capped reader."""
    from attester.clients.httpget import read_capped

    try:
        return read_capped(resp, limit, what=what)
    finally:
        resp.close()


def referrers(target: Target) -> list[dict[str, Any]]:
    """Descriptors of the target's referrers: the referrers API, else the fallback tag."""
    what = f"referrers of oci://{target.name}"
    # Registries without the referrers API answer 404 (distribution 2.x), 400 or 405.
    resp = target.client.request("GET", f"{target.ref.repository}/referrers/{target.digest}",
                                 what=what, accept=OCI_INDEX, allow=range(400, 500))
    if resp.status_code == 200 and "json" in resp.headers.get("Content-Type", ""):
        doc = _json_object(_read_capped(resp, MAX_ATTESTATION_BYTES, what), what)
        return _descriptors(doc, what)
    resp.close()
    return list(_fallback_index(target, what)["manifests"])


def fetch_attestations(target: Target, *, predicate_type: str | None = None,
                       limit: int = DEFAULT_REFERRER_LIMIT) -> list[bytes]:
    """The attestation documents attached to the target (optionally one predicate type):
    at most ``limit`` referrers examined, each manifest and blob at most
    :data:`MAX_ATTESTATION_BYTES`, every descriptor type-checked."""
    out = []
    examined = 0
    for desc in referrers(target):
        if desc.get("artifactType") not in (DSSE_TYPE, BUNDLE_TYPE):
            continue
        ann = desc.get("annotations") or {}
        if predicate_type and ann.get(PREDICATE_ANNOTATION) not in (None, predicate_type):
            continue
        if examined >= limit:
            break
        examined += 1
        what = f"oci://{target.name} referrer {desc['digest']}"
        body, _ = target.client.manifest(target.ref.repository, desc["digest"], what=what)
        manifest = _json_object(body, what)
        subject = manifest.get("subject")
        if not isinstance(subject, dict) or subject.get("digest") != target.digest:
            continue  # a referrer must point at this image; anything else is ignored
        layers = manifest.get("layers")
        if not isinstance(layers, list):
            raise ServiceError(f"{what}: 'layers' is not a list")
        for i, layer in enumerate(layers):
            if not isinstance(layer, dict) or not isinstance(layer.get("digest"), str) \
                    or not _DIGEST_RE.match(layer["digest"]):
                raise ServiceError(f"{what}: layer {i} has no sha256 digest")
            size = layer.get("size")
            if isinstance(size, int) and size > MAX_ATTESTATION_BYTES:
                raise ServiceError(f"{what}: layer {i} is {size} bytes, more than the "
                                   f"{MAX_ATTESTATION_BYTES >> 20} MiB attestations may have")
            resp = target.client.get(f"{target.ref.repository}/blobs/{layer['digest']}",
                                     what=f"oci://{target.name} attestation")
            data = _read_capped(resp, MAX_ATTESTATION_BYTES, f"{what} layer {i}")
            if _digest(data) != layer["digest"]:
                raise ServiceError(f"oci://{target.name}: attestation blob does not match "
                                   "its digest")
            out.append(data)
    return out
