"""Signature algorithms of Sigstore message signatures: which digest a bundle signs, and
one check of a signature over a digest for every key type Fulcio and managed keys use.

Why this is ours: ``sigstore`` 4.5.1 verifies a message signature with ECDSA only and
with the digest the caller hashed (it never reads which one the bundle signs), so a P-384
or P-521 certificate over SHA-384/SHA-512 is a "digest mismatch" and an RSA certificate a
``TypeError``. The algorithm registry (sigstore architecture-docs ``algorithm-registry.md``)
pairs each key with its hash: P-256/SHA-256, P-384/SHA-384, P-521/SHA-512, RSA PKCS#1 v1.5
2048-4096/SHA-256 (sigstore-java and sigstore-go also sign RSA with SHA-384/512: the
digest the bundle names is what the signature covers, checked here by the signature).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes

#: protobuf-specs HashAlgorithm names and Rekor v1's spellings -> hashlib names
NAMES = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512",
         "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}
PROTO = {"sha256": "SHA2_256", "sha384": "SHA2_384", "sha512": "SHA2_512"}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}


def hash_of(alg: str) -> hashes.HashAlgorithm:
    return _HASHES[alg]()


def default_for(key: Any) -> str:
    """The hash the registry pairs with a key: SHA-384 for P-384, SHA-512 for P-521,
    SHA-256 otherwise."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp384r1": "sha384", "secp521r1": "sha512"}.get(key.curve.name, "sha256")
    return "sha256"


def verify_digest(key: Any, signature: bytes, digest: bytes, alg: str) -> bool:
    """Whether ``signature`` is ``key``'s over the ``alg`` digest ``digest`` (ECDSA, RSA
    PKCS#1 v1.5; Ed25519 signs messages, never digests, so it is refused here)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    if alg not in _HASHES or len(digest) != DIGEST_SIZES[alg]:
        return False
    prehashed = utils.Prehashed(hash_of(alg))
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(prehashed))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_message(key: Any, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``key``'s over ``message`` (a DSSE PAE): ECDSA with the
    curve's registry hash, RSA PKCS#1 v1.5 with SHA-256, Ed25519."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hash_of(default_for(key))))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True
