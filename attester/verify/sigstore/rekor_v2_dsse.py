"""DSSE bundles whose Rekor v2 entry is ``dsse`` 0.0.2.

Why this is ours: ``sigstore`` 4.5.1 verifies Rekor v2 ``hashedrekord`` 0.0.2 entries but
refuses ``dsse`` 0.0.2 ("Unsupported DSSE log entry type: dsse/0.0.2"), the kind
sigstore-go and sigstore-js write for DSSE on Rekor v2. Everything but the last step is
the library's own ``_verify_common_signing_cert``: time from the RFC 3161 timestamps
(Rekor v2 has no integrated time), the certificate chain at that time, the SCT, the
inclusion proof and signed checkpoint; then ``sigstore.dsse`` checks the signature. We
add only the entry body's consistency with the bundle (rekor-v2 spec, ``DSSELogEntryV002``):
the payload hash and the one signature with its verifier, compared as parsed models,
never as encoded text.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any


def is_dsse_v002(bundle: Any) -> bool:
    kv = bundle.log_entry._inner.kind_version
    return bool(kv.kind == "dsse" and kv.version == "0.0.2")


class _AcceptAll:
    """Identity is checked by the caller, check by check."""

    def verify(self, cert: Any) -> None:
        return None


def _check_body(bundle: Any) -> None:
    from sigstore.errors import VerificationError
    from sigstore.verify.verifier import _v2_verifier_from_certificate
    from sigstore_models.common import v1
    from sigstore_models.rekor import v2

    envelope = bundle._dsse_envelope
    if len(envelope._inner.signatures) != 1:
        raise VerificationError("DSSE envelope must have exactly one signature")
    expected = v2.entry.Entry(
        kind="dsse", api_version="0.0.2",
        spec=v2.entry.Spec(dsse_v002=v2.dsse.DSSELogEntryV002(
            payload_hash=v1.HashOutput(
                algorithm=v1.HashAlgorithm.SHA2_256,
                digest=base64.b64encode(hashlib.sha256(envelope._inner.payload).digest())),
            signatures=[v2.verifier.Signature(
                content=base64.b64encode(envelope.signature),
                verifier=_v2_verifier_from_certificate(bundle.signing_certificate))])))
    try:
        actual = v2.entry.Entry.from_json(bundle.log_entry._inner.canonicalized_body)
    except Exception:  # noqa: BLE001 - pydantic rejects a malformed body
        raise VerificationError("transparency log entry body is not a dsse 0.0.2 record") \
            from None
    if actual != expected:
        raise VerificationError("transparency log entry is inconsistent with other materials")


def verify(verifier: Any, bundle: Any) -> tuple[str, bytes]:
    """(payloadType, payload) once every check passed; raises sigstore's VerificationError."""
    from typing import cast

    from cryptography.hazmat.primitives.asymmetric import ec
    from sigstore import dsse

    verifier._verify_common_signing_cert(bundle, _AcceptAll())
    envelope = bundle._dsse_envelope
    key = cast(ec.EllipticCurvePublicKey, bundle.signing_certificate.public_key())
    dsse._verify(key, envelope)
    _check_body(bundle)
    return envelope._inner.payload_type, envelope._inner.payload
