"""Key pairs for keyed DSSE signing, through ``cryptography``.

Signature schemes match what cosign and securesystemslib produce, so envelopes
interoperate: ECDSA P-256/SHA-256 and P-384/SHA-384 with DER signatures, Ed25519,
RSA-PSS with SHA-256 (MGF1-SHA-256; verification accepts any salt length, and
PKCS#1 v1.5 as cosign's RSA keys use).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from attester.errors import InputError, UsageError
from attester.jsonio import read_bytes

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey

KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072")
PASSPHRASE_ENV = "ATTEST_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
MAX_KEY_BYTES = 1024 * 1024


def generate(key_type: str) -> PrivateKey:
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type == "rsa-3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise UsageError(f"unknown key type {key_type!r}; choose one of {', '.join(KEY_TYPES)}")


def passphrase_from_env() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def private_pem(key: PrivateKey, passphrase: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def public_pem(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def keyid(key: PublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, hex: stable and tool-independent."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _check_supported(key: PrivateKey | PublicKey, where: str) -> None:
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if not isinstance(key.curve, (ec.SECP256R1, ec.SECP384R1)):
            raise InputError(f"{where}: ECDSA curve {key.curve.name} is not supported")
    elif isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < 2048:
            raise InputError(f"{where}: RSA key of {key.key_size} bits is too small")
    elif not isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        raise InputError(f"{where}: unsupported key type {type(key).__name__}")


def load_private(path: str | Path, passphrase: bytes | None) -> PrivateKey:
    """Load a PKCS#8 (or traditional) PEM private key. Never echoes key material."""
    data = read_bytes(path, what="key", limit=MAX_KEY_BYTES)
    where = f"key {path}"
    if b"PRIVATE KEY" not in data:
        if b"PUBLIC KEY" in data:
            raise UsageError(f"{where}: is a public key; signing needs the private key")
        raise InputError(f"{where}: not a PEM private key")
    encrypted = b"ENCRYPTED" in data
    if encrypted and not passphrase:
        raise UsageError(f"{where}: is encrypted", hint=f"set {PASSPHRASE_ENV}")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except (ValueError, TypeError) as e:
        if encrypted:
            raise InputError(f"{where}: cannot decrypt it (wrong {PASSPHRASE_ENV}?)") from None
        raise InputError(f"{where}: not a readable private key ({_first_line(e)})") from None
    except UnsupportedAlgorithm:
        raise InputError(f"{where}: unsupported key algorithm") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey,
                            rsa.RSAPrivateKey)):
        raise InputError(f"{where}: unsupported key type {type(key).__name__}")
    _check_supported(key, where)
    return key


def load_public(path: str | Path) -> PublicKey:
    """Load a PEM SubjectPublicKeyInfo public key."""
    data = read_bytes(path, what="key", limit=MAX_KEY_BYTES)
    where = f"key {path}"
    if b"PRIVATE KEY" in data:
        raise UsageError(f"{where}: is a private key; verify with the public key (.pub)")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise InputError(f"{where}: not a PEM public key ({_first_line(e)})") from None
    if not isinstance(key, (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey,
                            rsa.RSAPublicKey)):
        raise InputError(f"{where}: unsupported key type {type(key).__name__}")
    _check_supported(key, where)
    return key


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _ec_hash(curve: ec.EllipticCurve) -> hashes.HashAlgorithm:
    return hashes.SHA384() if isinstance(curve, ec.SECP384R1) else hashes.SHA256()


def sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(_ec_hash(key.curve)))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    return key.sign(
        data,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )


def verify(key: PublicKey, signature: bytes, data: bytes) -> bool:
    """True only when ``signature`` is valid for exactly ``data`` under ``key``."""
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            return _verify_ec(key, signature, data)
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            return _verify_rsa(key, signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def _verify_ec(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    """DER, or IEEE P1363 ``r || s`` as Google's BCID signs its VSAs (sigstore-go accepts
    both): the same (r, s) either way, so nothing weaker is accepted."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    size = (key.curve.key_size + 7) // 8
    forms = [signature]
    if len(signature) == 2 * size:
        forms.append(encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                          int.from_bytes(signature[size:], "big")))
    for form in forms:
        try:
            key.verify(form, data, ec.ECDSA(_ec_hash(key.curve)))
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def _verify_rsa(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    schemes: tuple[padding.AsymmetricPadding, ...] = (
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
        padding.PKCS1v15(),
    )
    for scheme in schemes:
        try:
            key.verify(signature, data, scheme, hashes.SHA256())
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def public_of(key: PrivateKey) -> PublicKey:
    return key.public_key()
