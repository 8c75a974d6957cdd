"""Read: what an attestation document is, decided once, before anything is verified.

The first stage of verification (read -> authenticate -> check). Every verify path
(``verify FILE``, ``--attestations``, ``--chain``, ``audit``, images, GitHub's API,
``pypi://``) reads a document here and then dispatches on the form it was read as
(``checker.verify_read``); no other module sniffs a document's shape. The reader looks at
the JSON's shape only: it parses nothing deeper, checks no signature and raises nothing
for a document it does not know (:class:`Unrecognised` says why, where the pipeline would
otherwise have gone on: a document nobody trusts is refused for that first).

The forms, tried in this order (the first that fits wins; the order matters where a
hostile document fits two):

1. :class:`CloudBuildProvenance`: ``gcloud ... --show-provenance --format json``;
2. :class:`NpmRegistryAttestations`: ``{"attestations": [{"predicateType", "bundle"}]}``;
3. :class:`PypiAttestation` / :class:`PypiProvenance`: PEP 740's two objects;
4. :class:`SigstoreBundle`: by media type, or by ``verificationMaterial`` when the media
   type is wrong (so a broken bundle gets the bundle loader's precise error);
5. :class:`DsseEnvelope`: a bare DSSE envelope (keyed, or keyless with ``--rekor-url``);
6. :class:`Unrecognised`.

A file of several documents is :class:`JsonLines` (:func:`read`), each line read as one.
An image's cosign ``.sig``/``.att`` layer is read by :func:`read_layer`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from attester.errors import InputError
from attester.signing.dsse import looks_like_envelope

#: Every Sigstore bundle media type starts so (``+json;version=0.1`` ... ``.v0.3+json``).
BUNDLE_MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"
MAX_LINES = 256  # gh downloads at most --limit (default 30) bundles per digest


@attrs.frozen
class CloudBuildProvenance:
    """Cloud Build's own signed provenance (``provenance_summary``): Google's keys sign it."""


@attrs.frozen
class NpmRegistryAttestations:
    """The npm registry's attestations: a provenance bundle and its publish attestation."""


@attrs.frozen
class PypiAttestation:
    """A PEP 740 attestation object (``verification_material`` and ``envelope``)."""


@attrs.frozen
class PypiProvenance:
    """PyPI's integrity-API provenance object: attestation bundles per publisher."""


@attrs.frozen
class SigstoreBundle:
    """A Sigstore bundle. Its evidence (a log entry's kind, a timestamp) is read by
    ``verify/sigstore/load.py``; the reader says only who signs it and its version."""

    media_type: str
    #: "0.1", "0.2", "0.3", or None when the media type names none (the loader refuses it)
    version: str | None
    #: signed by a managed key (``verificationMaterial.publicKey``), not a certificate
    keyed: bool


@attrs.frozen
class DsseEnvelope:
    """A bare DSSE envelope: ``payloadType``, ``payload``, ``signatures``."""


@attrs.frozen
class Unrecognised:
    """None of the above: what verifying it says (exit 2)."""

    def error(self, where: str) -> InputError:
        return InputError(f"attestation {where}: neither a DSSE envelope nor a Sigstore "
                          "bundle; is it an unsigned statement? sign it with 'attest sign'")


Form = (CloudBuildProvenance | NpmRegistryAttestations | PypiAttestation | PypiProvenance
        | SigstoreBundle | DsseEnvelope | Unrecognised)


@attrs.frozen
class Document:
    """One document as read: its exact bytes (what is hashed and verified), its JSON, and
    the form it was read as."""

    data: bytes = attrs.field(repr=False)
    json: Any = attrs.field(repr=False)
    form: Form


@attrs.frozen
class JsonLines:
    """Several documents, one per line (``gh attestation download``, ``.intoto.jsonl``)."""

    lines: tuple[bytes, ...] = attrs.field(repr=False)


def classify(doc: Any) -> Form:
    """The form of a parsed JSON document (see the module's list for the order)."""
    if not isinstance(doc, Mapping):
        return Unrecognised()
    if "provenance_summary" in doc:
        return CloudBuildProvenance()
    if isinstance(doc.get("attestations"), list) and "verificationMaterial" not in doc and \
            "payload" not in doc:
        return NpmRegistryAttestations()
    if "verification_material" in doc and "envelope" in doc:
        return PypiAttestation()
    if "attestation_bundles" in doc:
        return PypiProvenance()
    if str(doc.get("mediaType", "")).startswith(BUNDLE_MEDIA_PREFIX) or \
            "verificationMaterial" in doc:
        return _bundle(doc)
    if looks_like_envelope(doc):
        return DsseEnvelope()
    return Unrecognised()


def of_json(data: bytes, doc: Any) -> Document:
    """``data`` (already parsed: ``doc``) read as one document."""
    return Document(data=data, json=doc, form=classify(doc))


def bundle_in(data: bytes) -> SigstoreBundle:
    """The bytes of a bundle that a container holds (npm's provenance, a PEP 740
    attestation's converted bundle), read as a bundle whatever they hold: the bundle
    loader says what is wrong with them."""
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    return _bundle(doc if isinstance(doc, Mapping) else {})


def _bundle(doc: Mapping[str, Any]) -> SigstoreBundle:
    from attester.verify.sigstore import keyed_bundle

    media = str(doc.get("mediaType", ""))
    found = re.fullmatch(r"application/vnd\.dev\.sigstore\.bundle(?:\+json;version=|\.v)"
                         r"(\d+\.\d+)(?:\+json)?", media)
    return SigstoreBundle(media_type=media, version=found.group(1) if found else None,
                          keyed=keyed_bundle.is_keyed(doc))


def split_lines(data: bytes) -> JsonLines | None:
    """The lines of a JSON Lines document, or None when ``data`` is one JSON document
    (a pretty-printed one spans lines too, but its first line is not a whole object)."""
    lines = [ln.strip() for ln in data.splitlines() if ln.strip()]
    if len(lines) < 2 or not (lines[0].startswith(b"{") and lines[0].endswith(b"}")):
        return None
    if len(lines) > MAX_LINES:
        raise InputError(f"more than {MAX_LINES} attestations in one JSON Lines file")
    return JsonLines(lines=tuple(lines))


def read(data: bytes, *, where: str) -> Document | JsonLines:
    """An attestation file's bytes: several documents (JSON Lines), or one, parsed and
    read (not JSON is one line, exit 2)."""
    from attester.jsonio import parse_json

    lines = split_lines(data)
    if lines is not None:
        return lines
    return of_json(data, parse_json(data, where=f"attestation {where}"))


def claimed_payload(doc: Any) -> Any:
    """The payload a DSSE envelope, or a bundle's ``dsseEnvelope``, *claims* to sign (its
    base64 text, unchecked; None when there is none): what ``--chain`` and ``audit`` peek
    at to pick the step whose signer and policy verify it. Never a verdict: the signature
    check that follows covers the payload it came from."""
    if not isinstance(doc, Mapping):
        return None
    payload = doc.get("payload")
    if payload is None:
        envelope = doc.get("dsseEnvelope")
        payload = envelope.get("payload") if isinstance(envelope, Mapping) else None
    return payload


@attrs.frozen
class CosignLayer:
    """How a layer of an image's cosign ``.sig``/``.att`` tag is signed and what it holds."""

    #: a certificate annotation (keyless: the layer's annotations hold a bundle v0.1)
    keyless: bool
    #: a DSSE envelope (``.att``), else a simple signing payload (``.sig``)
    attestation: bool


def read_layer(layer: Any) -> CosignLayer:
    """A :class:`~attester.stores.cosign_tags.CosignLayer` read: keyless when it carries a
    certificate annotation, an attestation when it holds a DSSE envelope."""
    from attester.stores.cosign_tags import CERTIFICATE_ANNOTATION, DSSE_TYPE

    return CosignLayer(keyless=bool(layer.annotations.get(CERTIFICATE_ANNOTATION)),
                       attestation=layer.media_type == DSSE_TYPE)
