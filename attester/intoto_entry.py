"""Verifying bundles whose Rekor entry is ``intoto`` 0.0.2.

Why this is ours: ``sigstore`` 4.5.1 refuses these entries ("Integrated time only
supported for dsse/hashedrekord 0.0.1 types"), yet real SLSA provenance from
slsa-github-generator's BYOB builders and npm provenance is logged exactly so. We keep
it small and lean on the library for every primitive it exposes: the entry's signed
entry timestamp, Merkle inclusion proof and checkpoint, the certificate's SCT; we add
the certificate chain at the logged time, the entry body's consistency with the
envelope, and the DSSE signature.

An intoto 0.0.2 body is ``{"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content":
{"envelope": {"payloadType", "signatures": [{"sig", "publicKey"}]}, "hash",
"payloadHash"}}}`` where ``sig`` is the envelope's base64 signature base64-encoded
once more, ``publicKey`` the base64 of the signer's PEM certificate, and
``payloadHash`` the SHA-256 of the payload (which Rekor does not store).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from typing import Any

from attester.errors import VerificationError


def is_intoto_v002(bundle: Any) -> bool:
    kv = bundle.log_entry._inner.kind_version
    return bool(kv.kind == "intoto" and kv.version == "0.0.2")


def _fail(where: str, msg: str) -> VerificationError:
    return VerificationError(f"{where}: intoto 0.0.2 log entry: {msg}")


def verify(bundle: Any, trusted_root: Any, *, where: str) -> tuple[str, bytes, dt.datetime]:
    """Every check for an intoto 0.0.2 bundle; returns (payloadType, payload, signed at)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store
    from sigstore._internal.sct import verify_sct
    from sigstore._internal.trust import KeyringPurpose
    from sigstore.errors import VerificationError as SigstoreVerificationError

    entry = bundle.log_entry
    inner = entry._inner
    envelope = bundle._dsse_envelope
    if envelope is None:
        raise _fail(where, "the bundle has no DSSE envelope")
    keyring = trusted_root.rekor_keyring(KeyringPurpose.VERIFY)
    # 1. The log vouches for the entry: SET over (body, time, log id, index) and, when
    #    present, the inclusion proof and its signed checkpoint.
    if not (inner.inclusion_promise and inner.integrated_time):
        raise _fail(where, "no signed entry timestamp, so no signing time can be trusted")
    try:
        entry._verify_set(keyring)
        if inner.inclusion_proof is not None and inner.inclusion_proof.checkpoint is not None:
            from sigstore._internal.merkle import verify_merkle_inclusion
            from sigstore._internal.rekor.checkpoint import verify_checkpoint

            verify_merkle_inclusion(entry)
            verify_checkpoint(keyring, entry)
    except SigstoreVerificationError as e:
        raise _fail(where, str(e).splitlines()[0]) from None
    signed_at = dt.datetime.fromtimestamp(int(inner.integrated_time), dt.timezone.utc)
    # 2. The certificate chains to the trusted Fulcio CA at that time, with its SCT.
    cert = bundle.signing_certificate
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None)
    ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None)
    verifier = (PolicyBuilder().store(Store(trusted_root.get_fulcio_certs())).time(signed_at)
                .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
                .build_client_verifier())
    try:
        chain = verifier.verify(cert, []).chain[1:]
    except Exception as e:  # noqa: BLE001 - cryptography's verification errors vary
        when = signed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        raise _fail(where, f"certificate does not chain to the trusted root at {when}: {e}") \
            from None
    try:
        verify_sct(cert, chain, trusted_root.ct_keyring(KeyringPurpose.VERIFY))
    except SigstoreVerificationError as e:
        raise _fail(where, f"certificate SCT: {e}") from None
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    if x509.oid.ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        raise _fail(where, "certificate is not for code signing")
    # 3. The entry is about this envelope, signature and certificate.
    try:
        body = json.loads(base64.b64decode(inner.canonicalized_body)
                          if isinstance(inner.canonicalized_body, str)
                          else inner.canonicalized_body)
        content = body["spec"]["content"]
        logged_sigs = content["envelope"]["signatures"]
        payload_hash = content["payloadHash"]
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise _fail(where, "entry body is not an intoto 0.0.2 record") from None
    payload = envelope._inner.payload
    payload_type = envelope._inner.payload_type
    if payload_hash.get("algorithm") != "sha256" or \
            payload_hash.get("value") != hashlib.sha256(payload).hexdigest():
        raise _fail(where, "payload hash does not match the bundle's envelope")
    sigs = [s.sig for s in envelope._inner.signatures]
    if len(sigs) != 1:
        raise _fail(where, f"expected one envelope signature, found {len(sigs)}")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    expected = {"sig": base64.b64encode(base64.b64encode(sigs[0])).decode(),
                "publicKey": base64.b64encode(cert_pem).decode()}
    if [{"sig": s.get("sig"), "publicKey": s.get("publicKey")} for s in logged_sigs] != [expected]:
        raise _fail(where, "logged signature or certificate differs from the bundle's")
    if content["envelope"].get("payloadType") != payload_type:
        raise _fail(where, "logged payload type differs from the envelope's")
    # 4. The DSSE signature itself.
    from attester.dsse import pae

    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise _fail(where, "unsupported certificate key type")
    try:
        key.verify(sigs[0], pae(payload_type, payload), ec.ECDSA(hashes.SHA256()))
    except Exception:  # noqa: BLE001 - InvalidSignature
        raise _fail(where, "DSSE signature does not verify") from None
    return payload_type, payload, signed_at
