"""Signatures and attestations that cosign stores under tags beside an image.

Before OCI referrers, cosign (and so Kubernetes' own images, kpromo and slsa-verifier)
keeps an image's signatures in a manifest tagged ``sha256-<hex>.sig`` and its attestations
in one tagged ``sha256-<hex>.att``, in the image's repository. Each layer is one signature:
for ``.sig`` a simple-signing payload (``application/vnd.dev.cosign.simplesigning.v1+json``)
whose signature, certificate and Rekor bundle ride in annotations; for ``.att`` a DSSE
envelope (``application/vnd.dsse.envelope.v1+json``). See cosign's ``specs/SIGNATURE_SPEC.md``.
Everything read is bounded and type-checked: the registry is hostile like any other input.
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs

from attester.errors import ServiceError, StoreError
from attester.stores.oci_referrers import (
    _DIGEST_RE,
    DSSE_TYPE,
    MAX_ATTESTATION_BYTES,
    Target,
    _json_object,
    _read_capped,
)

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
#: Layers examined per tag: cosign appends one per signing; a registry cannot make us read more
MAX_LAYERS = 30


@attrs.frozen
class CosignLayer:
    """One signature or attestation from a cosign tag, with the annotations that carry its
    signature material (all strings, as cosign writes them)."""

    tag: str
    index: int
    media_type: str
    payload: bytes
    annotations: dict[str, str]

    @property
    def where(self) -> str:
        return f"cosign {self.tag} layer {self.index + 1}"


def tag_for(digest: str, suffix: str) -> str:
    return digest.replace(":", "-") + "." + suffix


def fetch(target: Target, suffix: str, *, limit: int = MAX_LAYERS) -> list[CosignLayer]:
    """The layers of the image's ``sha256-<hex>.<suffix>`` manifest (``sig`` or ``att``);
    none when the tag does not exist."""
    tag = tag_for(target.digest, suffix)
    what = f"oci://{target.ref.registry}/{target.ref.repository}:{tag}"
    try:
        body, _ = target.client.manifest(target.ref.repository, tag, what=what)
    except StoreError:
        return []  # no such tag: the image has no cosign signatures of this kind
    manifest = _json_object(body, what)
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise ServiceError(f"{what}: 'layers' is not a list")
    out = []
    for i, layer in enumerate(layers[:limit]):
        out.append(_layer(target, tag, what, i, layer))
    return out


def _layer(target: Target, tag: str, what: str, i: int, layer: Any) -> CosignLayer:
    at = f"{what} layer {i + 1}"
    if not isinstance(layer, dict) or not isinstance(layer.get("digest"), str) \
            or not _DIGEST_RE.match(layer["digest"]):
        raise ServiceError(f"{at}: no sha256 digest")
    media_type = layer.get("mediaType")
    annotations = layer.get("annotations", {})
    if not isinstance(media_type, str):
        raise ServiceError(f"{at}: 'mediaType' is not a string")
    if not isinstance(annotations, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()):
        raise ServiceError(f"{at}: 'annotations' is not an object of strings")
    size = layer.get("size")
    if isinstance(size, int) and size > MAX_ATTESTATION_BYTES:
        raise ServiceError(f"{at}: {size} bytes, more than the "
                           f"{MAX_ATTESTATION_BYTES >> 20} MiB a signature may have")
    resp = target.client.get(f"{target.ref.repository}/blobs/{layer['digest']}", what=at)
    data = _read_capped(resp, MAX_ATTESTATION_BYTES, at)
    if "sha256:" + hashlib.sha256(data).hexdigest() != layer["digest"]:
        raise ServiceError(f"{at}: the blob does not match its digest")
    return CosignLayer(tag=tag, index=i, media_type=media_type, payload=data,
                       annotations=dict(annotations))


__all__ = ["BUNDLE_ANNOTATION", "CERTIFICATE_ANNOTATION", "CHAIN_ANNOTATION", "DSSE_TYPE",
           "SIGNATURE_ANNOTATION", "SIMPLE_SIGNING", "CosignLayer", "fetch", "tag_for"]
