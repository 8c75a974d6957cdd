"""Message signatures (a signed file) logged as ``hashedrekord`` 0.0.1 or 0.0.2.

Why this is ours: ``sigstore`` 4.5.1's ``verify_artifact`` knows SHA-256 over ECDSA only;
Fulcio and managed keys also sign SHA-384 and SHA-512 digests with P-384, P-521 and RSA
(:mod:`.sigalg`). The library still checks time, chain, SCT and log entry; the signature
and the entry's body are checked here with the digest the bundle signs.
"""

from __future__ import annotations

from typing import Any


class Deferred:
    """A sigstore policy that accepts: identity is checked afterwards, check by check
    (:class:`~attester.verify.checks.identity.IdentityPolicy`)."""

    def verify(self, cert: Any) -> None:
        return None

def signed_algorithm(bundle: Any) -> str:
    """The digest algorithm a message-signature bundle signs (sha256, sha384, sha512):
    what its log entry says, else its own (unsigned) hint, else the algorithm registry's
    hash for the certificate's key. The signature over that digest is what binds it."""
    import json

    from attester.verify.sigstore import keyed_bundle, sigalg, tsa_bundle

    if isinstance(bundle, keyed_bundle.KeyedBundle):
        return keyed_bundle.signed_algorithm(bundle)
    if isinstance(bundle, tsa_bundle.TimestampedBundle):
        return tsa_bundle.signed_algorithm(bundle)
    try:
        body = json.loads(bundle.log_entry._inner.canonicalized_body)
        spec = body["spec"]
        logged = spec["hashedRekordV002"]["data"]["algorithm"] if "hashedRekordV002" in spec \
            else spec["data"]["hash"]["algorithm"]
        if logged in sigalg.NAMES:
            return sigalg.NAMES[logged]
    except (KeyError, TypeError, ValueError):
        pass
    md = getattr(bundle._inner.message_signature, "message_digest", None)
    if md is not None and str(md.algorithm.value) in sigalg.NAMES:
        return sigalg.NAMES[str(md.algorithm.value)]
    return sigalg.default_for(bundle.signing_certificate.public_key())


def _check_hashedrekord_v001(bundle: Any, alg: str, digest: bytes) -> None:
    """The hashedrekord 0.0.1 entry logs this digest, signature and certificate; compared
    decoded (``sigstore``'s own comparison knows only SHA-256)."""
    import base64
    import json

    from cryptography import x509
    from sigstore.errors import VerificationError as SigstoreVerificationError

    from attester.verify.sigstore import sigalg

    try:
        spec = json.loads(bundle.log_entry._inner.canonicalized_body)["spec"]
        logged = (sigalg.NAMES[spec["data"]["hash"]["algorithm"]],
                  bytes.fromhex(spec["data"]["hash"]["value"]),
                  base64.b64decode(spec["signature"]["content"], validate=True),
                  x509.load_pem_x509_certificate(base64.b64decode(
                      spec["signature"]["publicKey"]["content"], validate=True)))
    except (KeyError, TypeError, ValueError):
        raise SigstoreVerificationError("transparency log entry body is not a hashedrekord "
                                        "0.0.1 record") from None
    if logged != (alg, digest, bundle._inner.message_signature.signature,
                  bundle.signing_certificate):
        raise SigstoreVerificationError("transparency log entry is inconsistent with other "
                                        "materials")


def verify_message(verifier: Any, bundle: Any, alg: str, digest: bytes) -> None:
    """``Verifier.verify_artifact`` for every key and digest Fulcio issues for: the library
    checks time, chain, SCT and log entry (steps 0-6); the signature and the entry's body
    (steps 7 and 8) are checked here with the digest the bundle signs."""
    from sigstore.errors import VerificationError as SigstoreVerificationError
    from sigstore.hashes import Hashed
    from sigstore.verify.verifier import _validate_hashedrekord_v002_entry_body
    from sigstore_models.common.v1 import HashAlgorithm

    from attester.verify.sigstore import sigalg

    verifier._verify_common_signing_cert(bundle, Deferred())
    signature = bundle._inner.message_signature
    if signature is None:
        raise SigstoreVerificationError("Missing bundle message signature")
    md = signature.message_digest
    if md is not None and (sigalg.NAMES.get(str(md.algorithm.value)), md.digest) != (alg, digest):
        raise SigstoreVerificationError("Bundle message digest mismatch")
    if not sigalg.verify_digest(bundle.signing_certificate.public_key(), signature.signature,
                                digest, alg):
        raise SigstoreVerificationError("Signature is invalid for input")
    kv = bundle.log_entry._inner.kind_version
    if (kv.kind, kv.version) == ("hashedrekord", "0.0.1"):
        _check_hashedrekord_v001(bundle, alg, digest)
    elif (kv.kind, kv.version) == ("hashedrekord", "0.0.2"):
        _validate_hashedrekord_v002_entry_body(
            bundle, Hashed(algorithm=HashAlgorithm(sigalg.PROTO[alg]), digest=digest))
    else:
        raise SigstoreVerificationError(f"Expected entry type hashedrekord, got {kv.kind}")
