"""cosign's tag-based signatures (``sha256-<hex>.sig``) and attestations (``.att``).

A keyless cosign signature spreads a Sigstore bundle v0.1 over layer annotations: the
Fulcio certificate, the signature over the layer's bytes, and the Rekor "bundle" (signed
entry timestamp plus the entry's body, index, log id and time, but no inclusion proof).
``sigstore`` 4.5.1 will not load a bundle without an inclusion proof, so the SET path is
ours, built on the same pieces as our intoto 0.0.2 verifier (``intoto_entry``): the SET
against the trusted root's Rekor key, the certificate chain and SCT at the logged time,
then the logged body against this signature, certificate and payload. The simple-signing
payload must name the image's digest; a keyed signature is checked over the payload's exact
bytes. See cosign's ``specs/SIGNATURE_SPEC.md``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from attester.errors import InputError, VerificationError
from attester.stores.cosign_tags import (
    BUNDLE_ANNOTATION,
    CERTIFICATE_ANNOTATION,
    DSSE_TYPE,
    SIGNATURE_ANNOTATION,
    CosignLayer,
)
from attester.verify.checks.policy import Check

SIGNATURE_TYPE = "cosign container image signature"


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what}: not base64") from None


def _rekor_entry(layer: CosignLayer) -> dict[str, Any]:
    """The Rekor bundle annotation as a bundle's tlog entry (the SET is its only proof)."""
    from attester.jsonio import parse_json

    raw = layer.annotations.get(BUNDLE_ANNOTATION, "")
    if not raw:
        raise InputError(f"{layer.where}: keyless signature without the {BUNDLE_ANNOTATION} "
                         "annotation: nothing proves the certificate was valid when it signed")
    doc = parse_json(raw.encode(), where=f"{layer.where} {BUNDLE_ANNOTATION}")
    payload = doc.get("Payload") if isinstance(doc, dict) else None
    set_ = doc.get("SignedEntryTimestamp") if isinstance(doc, dict) else None
    if not isinstance(payload, dict) or not isinstance(set_, str):
        raise InputError(f"{layer.where}: {BUNDLE_ANNOTATION} needs SignedEntryTimestamp and "
                         "Payload")
    body, when = payload.get("body"), payload.get("integratedTime")
    index, log_id = payload.get("logIndex"), payload.get("logID")
    if not (isinstance(body, str) and isinstance(when, int) and isinstance(index, int)
            and isinstance(log_id, str)) or isinstance(when, bool) or isinstance(index, bool):
        raise InputError(f"{layer.where}: {BUNDLE_ANNOTATION} Payload needs body, "
                         "integratedTime, logIndex and logID of the right types")
    try:
        log_key = bytes.fromhex(log_id)
    except ValueError:
        raise InputError(f"{layer.where}: {BUNDLE_ANNOTATION} logID is not hex") from None
    entry = parse_json(_b64(body, f"{layer.where} Rekor body"), where=f"{layer.where} Rekor body")
    kind = entry.get("kind") if isinstance(entry, dict) else None
    version = entry.get("apiVersion") if isinstance(entry, dict) else None
    if not isinstance(kind, str) or not isinstance(version, str):
        raise InputError(f"{layer.where}: the Rekor body names no kind and apiVersion")
    return {"logIndex": str(index), "logId": {"keyId": base64.b64encode(log_key).decode()},
            "kindVersion": {"kind": kind, "version": version},
            "integratedTime": str(when),
            "inclusionPromise": {"signedEntryTimestamp": set_},
            "canonicalizedBody": body}


def _certificate(layer: CosignLayer) -> Any:
    from cryptography import x509

    pem = layer.annotations.get(CERTIFICATE_ANNOTATION, "")
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise InputError(f"{layer.where}: {CERTIFICATE_ANNOTATION} is not a PEM "
                         "certificate") from None


def _logged(entry: dict[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    """(kind/version, spec) of the logged body; the bundle's kindVersion is unsigned, the
    body (covered by the SET) says what was logged."""
    body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
    spec = body.get("spec") if isinstance(body, dict) else None
    if not isinstance(spec, dict):
        raise VerificationError(f"{where}: the Rekor entry body has no spec")
    return f"{body.get('kind')}/{body.get('apiVersion')}", spec


def _same_certificate(logged_b64_pem: Any, cert: Any, where: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        logged = x509.load_pem_x509_certificate(base64.b64decode(logged_b64_pem, validate=True))
    except (TypeError, ValueError, binascii.Error):
        raise VerificationError(f"{where}: the Rekor entry's certificate is malformed") from None
    if logged.public_bytes(Encoding.DER) != cert.public_bytes(Encoding.DER):
        raise VerificationError(f"{where}: the Rekor entry names another certificate")


def verify_keyless(layer: CosignLayer, trusted_root: Any, identity: Any, *, where: str
                   ) -> tuple[list[Check], tuple[str, bytes] | None]:
    """What cosign checks of a keyless layer: the SET over the logged entry (the annotation
    has no inclusion proof), the certificate chain and SCT at the logged time, the logged
    entry against this signature, certificate and payload, and the signature itself.
    Returns the checks and, for a ``.att``, the verified (payloadType, payload)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from attester.signing.dsse import pae, parse_envelope
    from attester.verify.sigstore import fulcio, intoto_entry

    cert = _certificate(layer)
    entry = _rekor_entry(layer)
    logged = intoto_entry.IntotoBundle(media_type=fulcio.V01, certificate=cert,
                                       entry=entry)
    when = intoto_entry._verify_log(logged, trusted_root, where)  # SET against Rekor's key
    fulcio.verify_certificate(cert, trusted_root, when, where=where)
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise VerificationError(f"{where}: not an ECDSA certificate, as Fulcio issues")
    kind, spec = _logged(entry, where)
    payload: tuple[str, bytes] | None = None
    try:
        if layer.media_type == DSSE_TYPE:
            from attester.jsonio import parse_json

            env = parse_envelope(parse_json(layer.payload, where=where), where=where)
            if kind != "intoto/0.0.1":
                raise VerificationError(f"{where}: logged as {kind}; cosign logs attestations "
                                        "as intoto 0.0.1")
            _same_certificate(spec.get("publicKey"), cert, where)
            logged_hash = spec["content"]["payloadHash"]
            if logged_hash != {"algorithm": "sha256",
                               "value": hashlib.sha256(env.payload).hexdigest()}:
                raise VerificationError(f"{where}: the Rekor entry is about another payload")
            if len(env.signatures) != 1:
                raise VerificationError(f"{where}: expected one DSSE signature")
            key.verify(env.signatures[0].sig, pae(env.payload_type, env.payload),
                       ec.ECDSA(hashes.SHA256()))
            payload = (env.payload_type, env.payload)
        else:
            sig = _b64(layer.annotations.get(SIGNATURE_ANNOTATION, ""),
                       f"{layer.where} {SIGNATURE_ANNOTATION}")
            if kind != "hashedrekord/0.0.1":
                raise VerificationError(f"{where}: logged as {kind}; cosign logs signatures "
                                        "as hashedrekord 0.0.1")
            _same_certificate(spec["signature"]["publicKey"]["content"], cert, where)
            if base64.b64decode(spec["signature"]["content"]) != sig:
                raise VerificationError(f"{where}: the Rekor entry holds another signature")
            if spec["data"]["hash"] != {"algorithm": "sha256",
                                        "value": hashlib.sha256(layer.payload).hexdigest()}:
                raise VerificationError(f"{where}: the Rekor entry is about another payload")
            key.verify(sig, layer.payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VerificationError(f"{where}: the signature does not verify with the "
                                "certificate's key") from None
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise VerificationError(f"{where}: the Rekor entry body is malformed") from None
    checks = [Check("signature", True, f"cosign {'attestation' if payload else 'signature'} "
                    f"valid, certificate chains to the trusted root, logged in Rekor at "
                    f"{when:%Y-%m-%dT%H:%M:%SZ} (signed entry timestamp)")]
    checks.extend(identity.check(cert))
    return checks, payload


def check_keyed(layer: CosignLayer, keys: Sequence[Any], threshold: int) -> Check:
    """A keyed ``.sig``: the annotation's signature over the payload's exact bytes."""
    from attester.signing.keys import verify

    raw = _b64(layer.annotations.get(SIGNATURE_ANNOTATION, ""),
               f"{layer.where} {SIGNATURE_ANNOTATION}")
    # distinct keys, as for envelopes: one key named twice (two files, two labels) is one
    # signer (redteam: labels were counted, so one signature met --threshold 2)
    signed = {k.keyid: k.label for k in keys if verify(k.key, raw, layer.payload)}
    good = list(signed.values())
    ok = len(signed) >= threshold
    return Check("signature", ok, f"cosign signature valid for {', '.join(good)}" if ok else
                 f"cosign signature is valid for {len(good)} trusted key(s), {threshold} "
                 "needed")


def check_payload(layer: CosignLayer, image_digest: str) -> Check:
    """The simple-signing payload must name this image's digest: a signature copied from
    another image's tag signs that image, not this one."""
    from attester.jsonio import parse_json

    doc = parse_json(layer.payload, where=f"{layer.where} payload")
    critical = doc.get("critical") if isinstance(doc, dict) else None
    image = critical.get("image") if isinstance(critical, dict) else None
    kind = critical.get("type") if isinstance(critical, dict) else None
    digest = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if kind != SIGNATURE_TYPE:
        return Check("image", False, f"the signed payload's type is {kind!r}, not "
                     f"{SIGNATURE_TYPE!r}")
    ok = digest == image_digest
    return Check("image", ok, f"the signed payload names {image_digest}" if ok else
                 f"the signed payload names {digest!r}, not this image ({image_digest})")
